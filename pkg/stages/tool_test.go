package stages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// A tool that exits 0 when asked to stop has not done its job: the run is
// cancelled, not succeeded (Packer exits 0 on some interrupts, and its
// stage then said "packer build succeeded but did not record a new run").
func TestToolThatExitsZeroOnSIGINTIsCancelled(t *testing.T) {
	c := &Command{StageName: "stubborn", Argv: []string{"sh", "-c", `trap 'exit 0' INT; echo ready; while :; do sleep 1; done`}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := pipeline.New(c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var sum *pipeline.Summary
	go func() {
		var err error
		sum, err = p.Run(ctx, pipeline.Options{RunDir: t.TempDir(), Getenv: func(string) string { return "" }, Sinks: []pipeline.Sink{pipeline.SinkFunc(func(e pipeline.Event) {
			if strings.TrimSpace(e.Line) == "ready" {
				cancel()
			}
		})}})
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the stage did not end within a minute")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got := sum.Stage("stubborn").Status; got != pipeline.StatusCancelled {
		t.Errorf("stage status %s, want %s", got, pipeline.StatusCancelled)
	}
}

// A version query stopped by a Ctrl-C says so, not "signal: killed".
func TestVersionQueryCancelledSaysCancelled(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	fake := filepath.Join(dir, "packer")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n: > "+marker+"\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for try := 0; try < 6000; try++ {
			if _, err := os.Stat(marker); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	_, err := packerVersion(ctx, fake)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "signal") {
		t.Errorf("err = %v, want a plain context.Canceled", err)
	}
}

// A missing tool is a *MissingToolError that says how to install it
// without naming any front end: the library does not know it runs under
// Mage.
func TestMissingToolSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tests := []struct {
		name, tool, path string
		wantPath         string
		want             []string
	}{
		{"on PATH", "packer", "", "", []string{"packer is not installed", "apt-get install -y packer"}},
		{"named as itself", "terraform", "terraform", "", []string{"terraform is not installed", "go install github.com/hashicorp/terraform@"}},
		{"configured path", "packer", "/nonexistent/packer", "/nonexistent/packer", []string{"configured as /nonexistent/packer", "not an executable file"}},
		{"unknown tool", "task", "", "", []string{"task is not installed", "install it or set its path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lookTool(tc.tool, tc.path)
			me, ok := errors.AsType[*MissingToolError](err)
			if !ok {
				t.Fatalf("err = %v, want *MissingToolError", err)
			}
			if me.Tool != tc.tool || me.Path != tc.wantPath {
				t.Errorf("got Tool %q Path %q, want %q %q", me.Tool, me.Path, tc.tool, tc.wantPath)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(strings.ToLower(err.Error()), "mage") {
				t.Errorf("err = %q names Mage: front-end text belongs in the front end", err)
			}
		})
	}
	for tool, hint := range installHints {
		if strings.Contains(strings.ToLower(hint), "mage") {
			t.Errorf("the install hint for %s names Mage: %q", tool, hint)
		}
	}
}
