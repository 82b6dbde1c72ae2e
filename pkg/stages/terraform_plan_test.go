//go:build baton_tf_v2

package stages

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestPlanArgs(t *testing.T) {
	tests := []struct {
		name string
		s    Terraform
		lock bool
		want string
	}{
		{"defaults", Terraform{}, true, "plan -input=false -detailed-exitcode -out=/r/tfplan -lock-timeout=60s -var a=1 -var b=x y"},
		{"no lock, parallelism, a short timeout", Terraform{Parallelism: 3, LockTimeout: 1500 * time.Millisecond}, false,
			"plan -input=false -detailed-exitcode -out=/r/tfplan -lock=false -parallelism=3 -var a=1 -var b=x y"},
		{"sub-second timeout rounds up", Terraform{LockTimeout: time.Millisecond}, true,
			"plan -input=false -detailed-exitcode -out=/r/tfplan -lock-timeout=1s -var a=1 -var b=x y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &terraformRun{t: &tt.s, vars: []string{"a=1", "b=x y"}}
			opts, args := r.planArgs("/r/tfplan", tt.lock)
			if got := strings.Join(args, " "); got != tt.want {
				t.Errorf("args = %s\nwant   %s", got, tt.want)
			}
			if len(opts) != 3+len(r.vars)+min(tt.s.Parallelism, 1) {
				t.Errorf("%d options for %s", len(opts), args)
			}
		})
	}
}

func TestToolName(t *testing.T) {
	for binary, want := range map[string]string{"": "terraform", "terraform": "terraform", "/opt/tofu": "tofu", "tofu-1.8": "tofu", "/x/terraform-1.5.7": "terraform"} {
		if got := toolName(binary); got != want {
			t.Errorf("toolName(%q) = %s, want %s", binary, got, want)
		}
	}
}

func TestChangesOf(t *testing.T) {
	plan := `{"format_version": "1.2", "resource_changes": [
	  {"address": "a.new", "change": {"actions": ["create"]}},
	  {"address": "a.same", "change": {"actions": ["no-op"]}},
	  {"address": "a.read", "change": {"actions": ["read"]}},
	  {"address": "a.edit", "change": {"actions": ["update"]}},
	  {"address": "a.old", "change": {"actions": ["delete"]}},
	  {"address": "a.swap", "change": {"actions": ["delete", "create"]}},
	  {"address": "a.cbd", "change": {"actions": ["create", "delete"]}}
	], "output_changes": {"z": {"actions": ["update"]}, "y": {"actions": ["create"]}, "x": {"actions": ["no-op"]}}}`
	var p tfjson.Plan
	if err := json.Unmarshal([]byte(plan), &p); err != nil {
		t.Fatal(err)
	}
	c := changesOf(&p)
	if got, want := c.String(), "3 to add, 1 to change, 3 to destroy"; got != want {
		t.Errorf("summary = %s, want %s", got, want)
	}
	if got, want := strings.Join(c.resources, ", "), "a.new: create, a.edit: update, a.old: destroy, a.swap: replace, a.cbd: replace"; got != want {
		t.Errorf("resources = %s\nwant %s", got, want)
	}
	if got := strings.Join(c.outputs, ","); got != "y,z" {
		t.Errorf("outputs = %s, want y,z", got)
	}
}

// A Terraform that fails before the plan is a *ToolError naming the tool,
// the command and the tail of its stderr.
func TestTerraformToolError(t *testing.T) {
	bin := fakeTerraform(t, `echo 'Error: state lock held by someone' >&2; exit 1`)
	s := &Terraform{Dir: t.TempDir(), Binary: bin, DataDir: t.TempDir(), Set: map[string]string{}}
	_, _, _, err := runStage(t, context.Background(), pipeline.ModePlan, s, nil)
	var te *ToolError
	if !errors.As(err, &te) || te.Tool != "terraform" || te.Args[0] != "plan" || te.ExitCode != 1 || !strings.Contains(te.Stderr, "state lock held") {
		t.Fatalf("err = %v, want a ToolError of plan with exit code 1 and the stderr tail", err)
	}
	if !strings.Contains(err.Error(), "terraform plan: terraform plan -input=false") {
		t.Errorf("err = %v, want the command", err)
	}
}

func TestTerraformLintE2E(t *testing.T) {
	ctx := context.Background()
	args := map[string]string{"template_id": "8025"}
	unused := map[string]string{"unused.tf": "variable \"unused\" {\n  type    = string\n  default = \"x\"\n}\n"}
	t.Run("required and clean", func(t *testing.T) {
		requireTool(t, "tflint")
		s, _ := terraformFixture(t)
		s.Lint = LintRequired
		_, _, events, _, err := tfRun(t, ctx, pipeline.ModePlan, s, args)
		if err != nil || !hasLine(events, "tflint --no-color") {
			t.Errorf("err = %v, tflint ran: %v", err, hasLine(events, "tflint --no-color"))
		}
	})
	t.Run("required and failing", func(t *testing.T) {
		requireTool(t, "tflint")
		s, _ := terraformFixture(t)
		s.Lint = LintRequired
		writeFiles(t, s.Dir, unused)
		_, _, events, _, err := tfRun(t, ctx, pipeline.ModePlan, s, args)
		var te *ToolError
		if !errors.As(err, &te) || te.Tool != "tflint" || !strings.Contains(te.Stderr, "unused") {
			t.Errorf("err = %v, want tflint's finding", err)
		}
		if hasLine(events, "$ terraform plan") {
			t.Error("plan ran after lint failed")
		}
	})
	// Without tflint on PATH: skipped or an error.
	noTflint := func(t *testing.T) *Terraform {
		s, _ := terraformFixture(t)
		bin := t.TempDir()
		tf, _ := LookTool("terraform", "")
		if err := os.Symlink(tf, filepath.Join(bin, "terraform")); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin+":/usr/bin:/bin")
		writeFiles(t, s.Dir, unused)
		return s
	}
	t.Run("if present, absent", func(t *testing.T) {
		s := noTflint(t)
		s.Lint = LintIfPresent
		_, _, events, _, err := tfRun(t, ctx, pipeline.ModePlan, s, args)
		if err != nil || !hasLine(events, "tflint is not installed: lint skipped") {
			t.Errorf("err = %v; want the lint skipped", err)
		}
	})
	t.Run("required, absent", func(t *testing.T) {
		s := noTflint(t)
		s.Lint = LintRequired
		_, _, _, _, err := tfRun(t, ctx, pipeline.ModePlan, s, args)
		var me *MissingToolError
		if !errors.As(err, &me) || me.Tool != "tflint" {
			t.Errorf("err = %v, want *MissingToolError for tflint", err)
		}
	})
}
