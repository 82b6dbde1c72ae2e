package stages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// A Ctrl-C while terraform-exec asks Terraform for its version (which it
// does before validate, init and others) is reported as a cancellation,
// not as terraform-exec's "validate -json was added in 0.12.0: context
// canceled", which points at a version problem that is not there.
func TestTerraformCancelledDuringVersionSaysCancelled(t *testing.T) {
	dir := t.TempDir()
	hang, marker := filepath.Join(dir, "hang"), filepath.Join(dir, "version-started")
	// A fake Terraform: its version, an init that succeeds and a validate
	// that fails; once hang exists, a version that hangs.
	fake := filepath.Join(dir, "terraform")
	script := `#!/bin/sh
case "$1" in
version)
	if [ -e ` + hang + ` ]; then : > ` + marker + `; exec sleep 60; fi
	echo '{"terraform_version":"1.11.0","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}' ;;
validate) echo '{"format_version":"1.0","valid":false,"error_count":1,"warning_count":0,"diagnostics":[]}'; exit 1 ;;
esac
exit 0
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg, "main.tf"), []byte("variable \"template_id\" {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tf := &Terraform{Dir: cfg, Binary: fake, Vars: []Var{{Name: "template_id", From: handoff.TemplateID}}, DataDir: filepath.Join(dir, "data")}
	// The first run inits, so that the next skips init and asks for the
	// version first thing in validate.
	if _, _, _, err := runStage(t, context.Background(), pipeline.ModeRun, tf, map[string]string{"template_id": "8025"}); err == nil || !strings.Contains(err.Error(), "validate") {
		t.Fatalf("first run: %v, want the fake's validate to fail", err)
	}
	if err := os.WriteFile(hang, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, _, err := runStage(t, ctx, pipeline.ModeRun, tf, map[string]string{"template_id": "8025"})
		done <- err
	}()
	for try := 0; ; try++ {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the stage ended before Terraform was asked its version: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if try == 6000 {
			t.Fatal("terraform version was not run within a minute")
		}
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the cancelled stage did not end within a minute")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	for _, misleading := range []string{"was added in", "no longer available"} {
		if err != nil && strings.Contains(err.Error(), misleading) {
			t.Errorf("err = %q: a cancellation must not read as a version problem", err)
		}
	}
}
