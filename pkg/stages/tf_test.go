package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

var tokenKey = handoff.NewString("token").Secret()

// tfFixture copies the test configuration and returns a stage over it with
// its state and data directory outside the source tree.
func tfFixture(t *testing.T) (*Terraform, string) {
	t.Helper()
	requireTool(t, "terraform")
	rc := filepath.Join(t.TempDir(), "terraform.rc")
	os.WriteFile(rc, nil, 0o600)
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	dir := copyDir(t, "testdata/terraform/basic")
	state := t.TempDir()
	out := t.TempDir()
	return &Terraform{
		Dir:           dir,
		Vars:          []Var{{Name: "template_id", From: handoff.TemplateID}},
		Set:           map[string]string{"out_dir": out},
		Outputs:       []Output{{Name: "ansible_inventory", As: handoff.Inventory}, {Name: "token", As: tokenKey}},
		BackendConfig: []string{"path=" + filepath.Join(state, "terraform.tfstate")},
		DataDir:       filepath.Join(state, "data"),
	}, out
}

func TestTerraformE2E(t *testing.T) {
	tf, out := tfFixture(t)
	ctx := context.Background()
	args := map[string]string{"template_id": "8025"}

	sum, store, events, err := runStage(t, ctx, pipeline.ModeRun, tf, args)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Stages[0].Note; got != "applied: 2 to add, 0 to change, 0 to destroy" {
		t.Errorf("note = %q", got)
	}
	inv, err := handoff.Inventory.Get(mustValues(t, store, handoff.Inventory))
	if err != nil {
		t.Fatal(err)
	}
	hosts := inv.Hosts()
	if len(hosts) != 2 || hosts[0].Address != "127.0.0.11" || hosts[0].Vars["template_id"] != 8025 {
		t.Errorf("inventory hosts = %+v", hosts)
	}
	data, _ := os.ReadFile(filepath.Join(out, "host-2"))
	if strings.TrimSpace(string(data)) != "8025" {
		t.Errorf("host-2 was made from %q, want 8025", data)
	}
	// The sensitive output is kept, marked, and never shown.
	tok, err := store.Get(tokenKey)
	if err != nil || !tok.Sensitive || string(tok.Raw) != `"tok-8025-s3cr3t"` {
		t.Errorf("token handoff = %+v, %v", tok, err)
	}
	for _, e := range events {
		if strings.Contains(e.Line+e.Error, "s3cr3t") || (e.Handoff != nil && strings.Contains(e.Handoff.Display, "s3cr3t")) {
			t.Errorf("secret in event %+v", e)
		}
	}
	if fi, err := os.Stat(store.Path(tokenKey.Name())); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(tf.Dir); len(entries) != 1 {
		t.Errorf("Terraform wrote into the source tree: %v", entries)
	}

	// Same inputs: init and apply are skipped.
	sum, _, events, err = runStage(t, ctx, pipeline.ModeRun, tf, args)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Stages[0].Note; got != "no changes: apply skipped" {
		t.Errorf("second run note = %q", got)
	}
	if !hasLine(events, "terraform init skipped") || hasLine(events, "$ terraform init") {
		t.Error("init ran again although nothing it depends on changed")
	}

	// Plan and check with a new template: changes shown, nothing changed.
	args2 := map[string]string{"template_id": "8026"}
	if sum, _, _, err = runStage(t, ctx, pipeline.ModePlan, tf, args2); err != nil || sum.Stages[0].Note != "the plan has changes (see above)" {
		t.Fatalf("plan: %v %+v", err, sum)
	}
	if _, _, _, err = runStage(t, ctx, pipeline.ModeCheck, tf, args); err != nil {
		t.Errorf("check with the applied inputs: %v", err)
	}
	// Check uses what was applied, not newer inputs; a configuration that
	// no longer matches the state is drift.
	if _, _, _, err = runStage(t, ctx, pipeline.ModeCheck, tf, args2); err != nil {
		t.Errorf("check with newer inputs: %v, want the applied ones used", err)
	}
	mainTF := filepath.Join(tf.Dir, "main.tf")
	orig, _ := os.ReadFile(mainTF)
	os.WriteFile(mainTF, append(append([]byte(nil), orig...), "\nresource \"terraform_data\" \"extra\" {}\n"...), 0o644)
	if _, _, _, err = runStage(t, ctx, pipeline.ModeCheck, tf, args); err == nil || !strings.Contains(err.Error(), "drift") || !strings.Contains(err.Error(), "1 to add") {
		t.Errorf("check with a changed configuration: %v, want drift with 1 to add", err)
	}
	os.WriteFile(mainTF, orig, 0o644)
	data, _ = os.ReadFile(filepath.Join(out, "host-1"))
	if strings.TrimSpace(string(data)) != "8025" {
		t.Errorf("plan or check changed host-1 to %q", data)
	}

	// A new template replaces the hosts.
	if sum, _, _, err = runStage(t, ctx, pipeline.ModeRun, tf, args2); err != nil {
		t.Fatal(err)
	}
	if got := sum.Stages[0].Note; got != "applied: 2 to add, 0 to change, 2 to destroy" {
		t.Errorf("replace note = %q", got)
	}

	// Rollback destroys.
	if _, _, _, err = runStage(t, ctx, pipeline.ModeRollback, tf, args2); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("destroy left %v", left)
	}
}

func mustValues(t *testing.T, store *handoff.Store, defs ...handoff.Def) *handoff.Values {
	t.Helper()
	vs := &handoff.Values{}
	for _, d := range defs {
		v, err := store.Get(d)
		if err != nil {
			t.Fatal(err)
		}
		vs.Set(v)
	}
	return vs
}

func TestTerraformFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("provisioner fails", func(t *testing.T) {
		tf, _ := tfFixture(t)
		tf.Set["fail"] = "true"
		_, _, _, err := runStage(t, ctx, pipeline.ModeRun, tf, map[string]string{"template_id": "8025"})
		var te *ToolError
		if !errors.As(err, &te) || te.ExitCode != 1 || !strings.Contains(te.Stderr, "no such template") {
			t.Errorf("err = %v, want a ToolError with the provisioner's message", err)
		}
	})
	t.Run("missing output", func(t *testing.T) {
		tf, _ := tfFixture(t)
		tf.Outputs = append(tf.Outputs, Output{Name: "nope", As: handoff.NewString("nope")})
		_, _, _, err := runStage(t, ctx, pipeline.ModeRun, tf, map[string]string{"template_id": "8025"})
		if err == nil || !strings.Contains(err.Error(), "no output nope") || !strings.Contains(err.Error(), "ansible_inventory") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		tf, _ := tfFixture(t)
		tf.Binary = "/nonexistent/terraform"
		_, _, _, err := runStage(t, ctx, pipeline.ModeRun, tf, map[string]string{"template_id": "8025"})
		var me *MissingToolError
		if !errors.As(err, &me) {
			t.Errorf("err = %v, want *MissingToolError", err)
		}
	})
	t.Run("cancel leaves no lock", func(t *testing.T) {
		tf, _ := tfFixture(t)
		// A marker no other process has, to find the provisioner's sleep.
		marker := fmt.Sprintf("30.%d", os.Getpid())
		tf.Set["sleep"] = marker
		ctx, cancel := context.WithCancel(context.Background())
		p, _ := pipeline.New(tf)
		started := make(chan struct{}, 1)
		sink := pipeline.SinkFunc(func(e pipeline.Event) {
			if strings.Contains(e.Line, "Provisioning with 'local-exec'") {
				select {
				case started <- struct{}{}:
				default:
				}
			}
		})
		done := make(chan error, 1)
		go func() {
			_, err := p.Run(ctx, pipeline.Options{Args: map[string]string{"template_id": "8025"}, Getenv: func(string) string { return "" }, Sinks: []pipeline.Sink{sink}})
			done <- err
		}()
		select {
		case <-started:
		case <-time.After(60 * time.Second):
			t.Fatal("apply did not start within 60s")
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("cancelled apply did not return within 30s")
		}
		// Nothing Terraform started outlives it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			out, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output()
			if len(bytes.TrimSpace(out)) == 0 {
				break
			}
			if time.Now().After(deadline) {
				exec.Command("pkill", "-f", "sleep "+marker).Run()
				t.Fatalf("the provisioner's `sleep %s` (pid %s) outlived the cancelled apply", marker, bytes.TrimSpace(out))
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The state is not locked: a plan that takes the lock succeeds at once.
		tf.Set["sleep"] = "0"
		tf.LockTimeout = time.Second
		if _, _, _, err := runStage(t, context.Background(), pipeline.ModeCheck, tf, map[string]string{"template_id": "8025"}); err != nil && strings.Contains(err.Error(), "lock") {
			t.Errorf("state left locked: %v", err)
		}
		if _, _, _, err := runStage(t, context.Background(), pipeline.ModeRun, tf, map[string]string{"template_id": "8025"}); err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	})
}

func TestTerraformLintGate(t *testing.T) {
	requireTool(t, "tflint")
	ctx := context.Background()
	tf, _ := tfFixture(t)
	tf.Lint = LintRequired
	sum, _, events, err := runStage(t, ctx, pipeline.ModeRun, tf, map[string]string{"template_id": "8025"})
	if err != nil {
		t.Fatalf("lint of a clean configuration: %v", err)
	}
	if !hasLine(events, "$ ") || sum.Stages[0].Status != pipeline.StatusSucceeded {
		t.Fatal("no run")
	}
	ran := false
	for _, e := range events {
		if strings.HasPrefix(e.Line, "$ ") && strings.Contains(e.Line, "tflint") {
			ran = true
		}
	}
	if !ran {
		t.Error("tflint did not run")
	}
	// An unused variable is a tflint warning that fails the gate.
	os.WriteFile(filepath.Join(tf.Dir, "unused.tf"), []byte("variable \"unused\" {\n  type = string\n}\n"), 0o644)
	_, _, _, err = runStage(t, ctx, pipeline.ModePlan, tf, map[string]string{"template_id": "8025"})
	if err == nil || !strings.Contains(err.Error(), "tflint") {
		t.Errorf("lint of an unused variable: %v, want tflint to fail the plan", err)
	}
}

func TestTerraformCancelledAtStartHasAMessage(t *testing.T) {
	tf, _ := tfFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := pipeline.New(tf)
	_, err := p.Run(ctx, pipeline.Options{Args: map[string]string{"template_id": "8025"}, Getenv: func(string) string { return "" }})
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "panicked") {
		t.Errorf("err = %v, want a plain cancellation", err)
	}
}

// TF_VAR_* from the environment reach Terraform, although terraform-exec
// will not forward them itself, and stay out of the logs.
func TestTerraformPassesTFVarFromTheEnvironment(t *testing.T) {
	tf, out := tfFixture(t)
	delete(tf.Set, "out_dir")
	t.Setenv("TF_VAR_out_dir", out)
	_, _, events, err := runStage(t, context.Background(), pipeline.ModeRun, tf, map[string]string{"template_id": "8025"})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "host-1")); strings.TrimSpace(string(data)) != "8025" {
		t.Errorf("host-1 in TF_VAR_out_dir = %q, want the apply to have used it", data)
	}
	for _, e := range events {
		if strings.Contains(e.Line, out) {
			t.Errorf("a TF_VAR value reached the log: %q", e.Line)
			break
		}
	}
}

// A wrapper (doppler run --, op run --, …) gives Terraform its secrets:
// here TF_VAR_out_dir, which the apply needs, and a token it prints. The
// token never reaches the events or the run directory, and the script
// that ran Terraform under the wrapper is gone afterwards.
func TestTerraformRunsUnderAWrapper(t *testing.T) {
	tf, out := tfFixture(t)
	delete(tf.Set, "out_dir")
	const secret = "wr4pped-s3cr3t"
	wrapper := filepath.Join(t.TempDir(), "secrets run")
	script := "#!/bin/sh\nexport TF_VAR_out_dir='" + out + "'\necho \"wrapper: the token is " + secret + "\" >&2\nexec \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tf.Exec.Wrapper = []string{wrapper}
	runDir := t.TempDir()
	scripts := func() []string {
		m, _ := filepath.Glob(filepath.Join(os.TempDir(), "baton-terraform-*"))
		return m
	}
	before := scripts()
	_, _, events, err := runStageOpts(t, context.Background(), pipeline.ModeRun, tf, func(o *pipeline.Options) {
		o.Args = map[string]string{"template_id": "8025"}
		o.RunDir = runDir
		o.Secrets = []string{secret}
	})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "host-1")); strings.TrimSpace(string(data)) != "8025" {
		t.Errorf("host-1 in the wrapper's TF_VAR_out_dir = %q, want the apply to have used it", data)
	}
	masked := false
	for _, e := range events {
		if strings.Contains(e.Line, secret) || strings.Contains(e.Error, secret) {
			t.Errorf("the secret reached an event: %+v", e)
		}
		masked = masked || strings.Contains(e.Line, "wrapper: the token is ***")
	}
	if !masked {
		t.Error("the wrapper's line, masked, is not among the events: did Terraform run under it?")
	}
	err = filepath.WalkDir(runDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(data), secret) {
			t.Errorf("the secret is in %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if after := scripts(); len(after) > len(before) {
		t.Errorf("the wrapper script was left behind: %q", after)
	}
}
