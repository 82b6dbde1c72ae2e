//go:build baton_tf_v2

package stages

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// The sensitive output of testdata/terraform/basic is "tok-<template_id>-s3cr3t".
const tfSecret = "s3cr3t"

// tfTokenKey is deliberately not Secret(): the output's sensitivity alone
// must keep it out of every log.
var tfTokenKey = handoff.NewString("token")

// terraformFixture copies testdata/terraform/basic and returns a stage over
// the copy, with its state and data directory outside it, and the
// directory its "hosts" are written to.
func terraformFixture(t *testing.T) (*Terraform, string) {
	t.Helper()
	requireTool(t, "terraform")
	rc := filepath.Join(t.TempDir(), "terraform.rc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	state := t.TempDir()
	out := t.TempDir()
	return &Terraform{
		Dir:           copyDir(t, "testdata/terraform/basic"),
		Vars:          []Var{{Name: "template_id", From: handoff.TemplateID}},
		Set:           map[string]string{"out_dir": out},
		Outputs:       []Output{{Name: "ansible_inventory", As: handoff.Inventory}, {Name: "token", As: tfTokenKey}},
		BackendConfig: []string{"path=" + filepath.Join(state, "terraform.tfstate")},
		DataDir:       filepath.Join(state, "data"),
		LockTimeout:   5 * time.Second,
	}, out
}

// tfRun runs a Terraform stage in a fresh run directory, which it returns
// with the results.
func tfRun(t *testing.T, ctx context.Context, mode pipeline.Mode, s *Terraform, args map[string]string) (*pipeline.Summary, *handoff.Store, []pipeline.Event, string, error) {
	t.Helper()
	runDir := t.TempDir()
	sum, store, events, err := runStageOpts(t, ctx, mode, s, func(o *pipeline.Options) {
		o.Args = args
		o.RunDir = runDir
	})
	return sum, store, events, filepath.Join(runDir, s.Name()), err
}

func statePath(s *Terraform) string {
	return strings.TrimPrefix(s.BackendConfig[0], "path=")
}

func readHost(t *testing.T, out, name string) string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(out, name))
	return strings.TrimSpace(string(data))
}

// noSecretAnywhere fails when secret is in an event or a file under dir.
func noSecretAnywhere(t *testing.T, events []pipeline.Event, dir, secret string) {
	t.Helper()
	for _, e := range events {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), secret) {
			t.Errorf("secret in event %s", b)
		}
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if data, _ := os.ReadFile(path); strings.Contains(string(data), secret) {
				t.Errorf("secret in %s", path)
			}
		}
		return nil
	})
}

func TestTerraformLifecycleE2E(t *testing.T) {
	s, out := terraformFixture(t)
	ctx := context.Background()
	v1 := map[string]string{"template_id": "8025"}
	v2 := map[string]string{"template_id": "8026"}

	// First run: init, apply, outputs as handoffs.
	sum, store, events, runDir, err := tfRun(t, ctx, pipeline.ModeRun, s, v1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sum.Stages[0].Note, "applied: 2 to add, 0 to change, 0 to destroy"; got != want {
		t.Errorf("note = %q, want %q", got, want)
	}
	if !hasLine(events, "$ terraform init") {
		t.Error("the first run did not init")
	}
	inv, err := handoff.Inventory.Get(tfValues(t, store, handoff.Inventory))
	if err != nil {
		t.Fatal(err)
	}
	hosts := inv.Hosts()
	if len(hosts) != 2 || hosts[0].Vars["ansible_host"] != "127.0.0.11" || hosts[0].Vars["template_id"] != 8025 {
		t.Errorf("inventory hosts = %+v", hosts)
	}
	if got := readHost(t, out, "host-2"); got != "8025" {
		t.Errorf("host-2 made from %q, want 8025", got)
	}
	tok, err := store.Get(tfTokenKey)
	if err != nil || !tok.Sensitive || string(tok.Raw) != `"tok-8025-s3cr3t"` {
		t.Errorf("token handoff = %+v, %v; want the value, sensitive", tok, err)
	}
	noSecretAnywhere(t, events, runDir, tfSecret)
	if fi, err := os.Stat(store.Path(tfTokenKey.Name())); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, %v; want mode 0600", fi, err)
	}
	if entries, _ := os.ReadDir(s.Dir); len(entries) != 1 {
		t.Errorf("Terraform wrote into the source tree: %v", entries)
	}

	// Same inputs: no init, no apply.
	sum, _, events, runDir, err = tfRun(t, ctx, pipeline.ModeRun, s, v1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sum.Stages[0].Note, "no changes: apply skipped"; got != want {
		t.Errorf("second run note = %q, want %q", got, want)
	}
	if !hasLine(events, "terraform init skipped") || hasLine(events, "$ terraform init") || hasLine(events, "$ terraform apply") {
		t.Error("the second run ran init or apply")
	}
	if _, err := os.Stat(filepath.Join(runDir, "init.stdout.log")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("init.stdout.log in the second run: %v", err)
	}
	if len(sum.Stages[0].Given) != 2 {
		t.Errorf("second run gave %+v, want both handoffs", sum.Stages[0].Given)
	}

	// A dry run with a new template shows the replacement and changes nothing.
	before, _ := os.ReadFile(statePath(s))
	sum, _, events, _, err = tfRun(t, ctx, pipeline.ModePlan, s, v2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sum.Stages[0].Note, "plan: 2 to add, 0 to change, 2 to destroy"; got != want {
		t.Errorf("plan note = %q, want %q", got, want)
	}
	if !hasLine(events, "must be replaced") {
		t.Error("the plan was not shown")
	}
	if after, _ := os.ReadFile(statePath(s)); string(after) != string(before) {
		t.Error("the dry run changed the state")
	}

	// Check uses the variables last applied, not newer inputs.
	for _, args := range []map[string]string{v1, v2} {
		if sum, _, _, _, err = tfRun(t, ctx, pipeline.ModeCheck, s, args); err != nil || sum.Stages[0].Note != "no drift" {
			t.Errorf("check with %v: %v, note %q", args, err, sum.Stages[0].Note)
		}
	}
	mainTF := filepath.Join(s.Dir, "main.tf")
	orig, _ := os.ReadFile(mainTF)
	os.WriteFile(mainTF, append(append([]byte(nil), orig...), "\nresource \"terraform_data\" \"extra\" {}\n"...), 0o644)
	_, _, _, _, err = tfRun(t, ctx, pipeline.ModeCheck, s, v1)
	if err == nil || !strings.Contains(err.Error(), "drift: 1 to add, 0 to change, 0 to destroy (terraform_data.extra: create)") {
		t.Errorf("check of a changed configuration: %v, want drift naming terraform_data.extra", err)
	}
	os.WriteFile(mainTF, orig, 0o644)
	if after, _ := os.ReadFile(statePath(s)); string(after) != string(before) || readHost(t, out, "host-1") != "8025" {
		t.Error("a check changed the state or the hosts")
	}

	// A new template replaces the hosts.
	if sum, _, _, _, err = tfRun(t, ctx, pipeline.ModeRun, s, v2); err != nil {
		t.Fatal(err)
	}
	if got, want := sum.Stages[0].Note, "applied: 2 to add, 0 to change, 2 to destroy"; got != want {
		t.Errorf("replace note = %q, want %q", got, want)
	}
	if got := readHost(t, out, "host-1"); got != "8026" {
		t.Errorf("host-1 made from %q after the replacement, want 8026", got)
	}

	// Rollback destroys everything in the state.
	if sum, _, _, _, err = tfRun(t, ctx, pipeline.ModeRollback, s, v2); err != nil {
		t.Fatal(err)
	}
	if got, want := sum.Stages[0].Note, "destroyed: 2 destroyed"; got != want {
		t.Errorf("rollback note = %q, want %q", got, want)
	}
	if n := stateResources(t, s); n != 0 {
		t.Errorf("%d resources left in the state after rollback", n)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("destroy left %v", left)
	}
}

func tfValues(t *testing.T, store *handoff.Store, defs ...handoff.Def) *handoff.Values {
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

func stateResources(t *testing.T, s *Terraform) int {
	t.Helper()
	data, err := os.ReadFile(statePath(s))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Resources []json.RawMessage }
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return len(st.Resources)
}

// A rollback destroys with the variables last applied even when the
// stage's inputs are unknown.
func TestTerraformRollbackWithoutInputsE2E(t *testing.T) {
	s, out := terraformFixture(t)
	ctx := context.Background()
	if _, _, _, _, err := tfRun(t, ctx, pipeline.ModeRun, s, map[string]string{"template_id": "8025"}); err != nil {
		t.Fatal(err)
	}
	j := &pipeline.Job{Stage: s.Name(), Mode: pipeline.ModeRollback, Dir: t.TempDir(), In: &handoff.Values{}, Out: &handoff.Values{}}
	if err := s.Rollback(ctx, j); err != nil {
		t.Fatalf("rollback without inputs: %v", err)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 || stateResources(t, s) != 0 {
		t.Errorf("destroy left %v", left)
	}
}

func TestTerraformFailuresE2E(t *testing.T) {
	ctx := context.Background()
	args := map[string]string{"template_id": "8025"}
	tests := []struct {
		name  string
		edit  func(s *Terraform)
		check func(t *testing.T, err error, events []pipeline.Event)
	}{
		{"provisioner fails", func(s *Terraform) { s.Set["fail"] = "true" }, func(t *testing.T, err error, _ []pipeline.Event) {
			var te *ToolError
			if !errors.As(err, &te) || te.Tool != "terraform" || te.Args[0] != "apply" || te.ExitCode != 1 || !strings.Contains(te.Stderr, "clone failed: no such template") {
				t.Errorf("err = %v, want a ToolError of apply with exit code 1 and the provisioner's message", err)
			}
		}},
		{"undeclared variable", func(s *Terraform) { s.Set["nope"] = "1" }, func(t *testing.T, err error, events []pipeline.Event) {
			if err == nil || !strings.Contains(err.Error(), "variable nope is not declared in") || !strings.Contains(err.Error(), `add `+"`"+`variable "nope" {}`) {
				t.Errorf("err = %v, want the undeclared variable named", err)
			}
			if hasLine(events, "$ terraform") {
				t.Error("Terraform ran although a variable is not declared")
			}
		}},
		{"invalid configuration", func(s *Terraform) {
			os.WriteFile(filepath.Join(s.Dir, "bad.tf"), []byte("resource \"terraform_data\" \"x\" {\n  nonsense = 1\n}\n"), 0o644)
		}, func(t *testing.T, err error, events []pipeline.Event) {
			var te *ToolError
			if !errors.As(err, &te) || !strings.Contains(te.Stderr, `Error: Unsupported argument`) || !strings.Contains(te.Stderr, "bad.tf:2") {
				t.Errorf("err = %v, want validate's diagnostic with its place", err)
			}
			if hasLine(events, "$ terraform plan") {
				t.Error("plan ran after validate failed")
			}
		}},
		{"missing output", func(s *Terraform) { s.Outputs = append(s.Outputs, Output{Name: "nope", As: handoff.NewString("nope")}) }, func(t *testing.T, err error, _ []pipeline.Event) {
			if err == nil || !strings.Contains(err.Error(), "no output nope (outputs: ansible_inventory, token)") {
				t.Errorf("err = %v, want the missing output and those there are", err)
			}
		}},
		{"output of the wrong shape", func(s *Terraform) {
			s.Outputs = []Output{{Name: "ansible_inventory", As: handoff.NewTemplateID("tid")}}
		}, func(t *testing.T, err error, _ []pipeline.Event) {
			if err == nil || !strings.Contains(err.Error(), "output ansible_inventory is not a valid tid") {
				t.Errorf("err = %v, want the handoff's validation error", err)
			}
		}},
		{"missing binary", func(s *Terraform) { s.Binary = "/nonexistent/terraform" }, func(t *testing.T, err error, _ []pipeline.Event) {
			var me *MissingToolError
			if !errors.As(err, &me) || me.Tool != "terraform" {
				t.Errorf("err = %v, want *MissingToolError for terraform", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := terraformFixture(t)
			tt.edit(s)
			_, _, events, _, err := tfRun(t, ctx, pipeline.ModeRun, s, args)
			tt.check(t, err, events)
		})
	}
}
