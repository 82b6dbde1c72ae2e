package stages

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

var replacedKey = handoff.NewJSON[[]string]("replaced", nil)

// userLayout copies the configuration shaped like a user's: no backend
// block, a var file, no BackendConfig from baton.
func userLayout(t *testing.T) *Terraform {
	t.Helper()
	requireTool(t, "terraform")
	rc := filepath.Join(t.TempDir(), "terraform.rc")
	os.WriteFile(rc, nil, 0o600)
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	return &Terraform{
		Dir:      copyDir(t, "testdata/terraform/userlayout"),
		VarFiles: []string{"production.tfvars"},
		Outputs:  []Output{{Name: "ansible_inventory", As: handoff.Inventory}},
		Replaced: replacedKey,
	}
}

func replacedOf(t *testing.T, store *handoff.Store) []string {
	t.Helper()
	v, err := store.Get(replacedKey)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := json.Unmarshal(v.Raw, &got); err != nil {
		t.Fatalf("replaced = %s: %v", v.Raw, err)
	}
	return got
}

// The var file is used and fingerprinted, the state stays where the
// configuration keeps it, and Replaced names what each apply made anew.
func TestTerraformVarFilesStateAndReplaced(t *testing.T) {
	tf := userLayout(t)
	ctx := context.Background()
	fps := t.TempDir()
	store, err := handoff.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func() (*pipeline.Summary, *handoff.Store, []pipeline.Event) {
		t.Helper()
		sum, _, events, err := runStageOpts(t, ctx, pipeline.ModeRun, tf, func(o *pipeline.Options) {
			o.Fingerprints = pipeline.FileFingerprints{Dir: fps}
			o.SkipUnchanged = map[string]bool{"terraform": true}
			o.Store = store
		})
		if err != nil {
			t.Fatal(err)
		}
		return sum, store, events
	}

	sum, store, events := run()
	want := []string{"terraform_data.jump", `terraform_data.web["web-1"]`, `terraform_data.web["web-2"]`}
	if got := replacedOf(t, store); !reflect.DeepEqual(got, want) {
		t.Errorf("first apply: replaced = %q, want %q", got, want)
	}
	if !hasLine(events, "-var-file=production.tfvars") {
		t.Error("plan did not get -var-file=production.tfvars")
	}
	if hasLine(events, "-backend-config") {
		t.Error("init got a -backend-config although none was given")
	}
	if _, err := os.Stat(filepath.Join(tf.Dir, "terraform.tfstate")); err != nil {
		t.Errorf("the state is not where a configuration without a backend block keeps it: %v", err)
	}
	if got := sum.Stages[0].Note; got != "applied: 3 to add, 0 to change, 0 to destroy" {
		t.Errorf("note = %q", got)
	}

	// Unchanged inputs, var file included: the stage is skipped.
	if sum, _, _ = run(); sum.Stages[0].Status != pipeline.StatusSkipped {
		t.Errorf("second run: status %s, want skipped as unchanged", sum.Stages[0].Status)
	}

	// A changed var file is a changed input: web-1 alone is rebuilt.
	vf := filepath.Join(tf.Dir, "production.tfvars")
	os.WriteFile(vf, []byte("generation = {\n  \"web-1\" = 2\n  \"web-2\" = 1\n}\n"), 0o644)
	sum, store, _ = run()
	if got, want := replacedOf(t, store), []string{`terraform_data.web["web-1"]`}; !reflect.DeepEqual(got, want) {
		t.Errorf("after bumping web-1: replaced = %q, want %q (note %q)", got, want, sum.Stages[0].Note)
	}

	// Nothing to apply: an empty list, not the last run's.
	tf2 := *tf
	_, store, _, err = runStage(t, ctx, pipeline.ModeRun, &tf2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := replacedOf(t, store); got == nil || len(got) != 0 {
		t.Errorf("apply skipped: replaced = %#v, want []", got)
	}
	if _, err := os.Stat(filepath.Join(tf.Dir, "terraform.tfstate")); err != nil {
		t.Errorf("state moved: %v", err)
	}

	// A missing var file is named before Terraform starts.
	tf2.VarFiles = []string{"staging.tfvars"}
	_, _, _, err = runStage(t, ctx, pipeline.ModeRun, &tf2, nil)
	if err == nil || !strings.Contains(err.Error(), "staging.tfvars") {
		t.Errorf("missing var file: %v, want it named", err)
	}
}

// tflint --init runs before the first lint and again only when the
// configuration changes, and the user's .tflint.hcl decides the rules.
func TestTerraformLintInitAndUserConfig(t *testing.T) {
	requireTool(t, "tflint")
	tf := userLayout(t)
	tf.Lint = LintRequired
	tf.Replaced = nil
	ctx := context.Background()
	cfg := filepath.Join(tf.Dir, ".tflint.hcl")
	// Only the bundled terraform ruleset: nothing to download.
	os.WriteFile(cfg, []byte("plugin \"terraform\" {\n  enabled = true\n  preset  = \"recommended\"\n}\n"), 0o644)
	os.WriteFile(filepath.Join(tf.Dir, "unused.tf"), []byte("variable \"unused\" {\n  type = string\n  default = \"\"\n}\n"), 0o644)
	_, _, events, err := runStage(t, ctx, pipeline.ModePlan, tf, nil)
	if err == nil || !strings.Contains(err.Error(), "terraform_unused_declarations") {
		t.Errorf("recommended preset with an unused variable: %v, want tflint to fail the plan", err)
	}
	if !hasLine(events, "tflint --init") {
		t.Error("tflint --init did not run first")
	}

	// The user turns the rule off: their configuration wins, and a
	// changed configuration is initialised again.
	os.WriteFile(cfg, []byte("plugin \"terraform\" {\n  enabled = true\n  preset  = \"recommended\"\n}\nrule \"terraform_unused_declarations\" {\n  enabled = false\n}\n"), 0o644)
	_, _, events, err = runStage(t, ctx, pipeline.ModePlan, tf, nil)
	if err != nil {
		t.Fatalf("with the rule off in .tflint.hcl: %v", err)
	}
	if !hasLine(events, "tflint --init --no-color") {
		t.Error("tflint --init did not run again after .tflint.hcl changed")
	}
	_, _, events, err = runStage(t, ctx, pipeline.ModePlan, tf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !hasLine(events, "tflint --init skipped") || hasLine(events, "tflint --init --no-color") {
		t.Error("tflint --init ran again although nothing it depends on changed")
	}
}
