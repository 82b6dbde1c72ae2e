//go:build baton_tf_v2

package stages

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestTerraformFingerprint(t *testing.T) {
	bin := fakeTerraform(t, "exit 0")
	files := map[string]string{
		"root/main.tf":            "module \"m\" {\n  source = \"../shared/m\"\n}\nvariable \"template_id\" {}\n",
		"root/local/l.tf":         "resource \"terraform_data\" \"l\" {}\n",
		"shared/m/m.tf":           "resource \"terraform_data\" \"m\" {}\n",
		"shared/unrelated/u.tf":   "resource \"terraform_data\" \"u\" {}\n",
		"root/.terraform/x":       "cache",
		"root/terraform.tfstate":  "{}",
		"root/.baton/data/plugin": "binary",
	}
	tests := []struct {
		name    string
		edit    func(t *testing.T, dir string, s *Terraform, in *handoff.Values)
		changed bool
	}{
		{"nothing", func(*testing.T, string, *Terraform, *handoff.Values) {}, false},
		{"state, .terraform, logs and the data directory", func(t *testing.T, dir string, _ *Terraform, _ *handoff.Values) {
			writeFiles(t, dir, map[string]string{"root/terraform.tfstate": "{\"serial\": 2}", "root/.terraform/y": "z",
				"root/apply.log": "x", "root/.baton/data/plugin": "other", "shared/unrelated/u.tf": "# edited"})
		}, false},
		{"a configuration file", func(t *testing.T, dir string, _ *Terraform, _ *handoff.Values) {
			writeFiles(t, dir, map[string]string{"root/local/l.tf": "# edited"})
		}, true},
		{"a local module outside Dir", func(t *testing.T, dir string, _ *Terraform, _ *handoff.Values) {
			writeFiles(t, dir, map[string]string{"shared/m/m.tf": "# edited"})
		}, true},
		{"a handoff", func(t *testing.T, _ string, _ *Terraform, in *handoff.Values) { handoff.TemplateID.Put(in, 8026) }, true},
		{"a static variable", func(_ *testing.T, _ string, s *Terraform, _ *handoff.Values) { s.Set["size"] = "3" }, true},
		{"the backend config", func(_ *testing.T, _ string, s *Terraform, _ *handoff.Values) { s.BackendConfig = []string{"path=/y"} }, true},
		{"an output", func(_ *testing.T, _ string, s *Terraform, _ *handoff.Values) {
			s.Outputs = []Output{{Name: "ansible_inventory", As: handoff.Inventory}}
		}, true},
		{"TF_VAR_ from the environment", func(t *testing.T, _ string, _ *Terraform, _ *handoff.Values) { t.Setenv("TF_VAR_size", "3") }, true},
		{"Terraform's version", func(_ *testing.T, _ string, s *Terraform, _ *handoff.Values) {
			s.Exec.Env = []string{"FAKE_VERSION=1.5.7"}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, files)
			s := &Terraform{Dir: filepath.Join(dir, "root"), Binary: bin, DataDir: filepath.Join(dir, "root/.baton/data"),
				Vars: []Var{{Name: "template_id", From: handoff.TemplateID}}, Set: map[string]string{}}
			in := &handoff.Values{}
			handoff.TemplateID.Put(in, 8025)
			fp := func() string {
				t.Helper()
				got, err := s.Fingerprint(context.Background(), &pipeline.Job{Dir: t.TempDir(), In: in})
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			before := fp()
			if again := fp(); again != before {
				t.Fatalf("two fingerprints of the same inputs differ: %s, %s", before, again)
			}
			tt.edit(t, dir, s, in)
			if changed := fp() != before; changed != tt.changed {
				t.Errorf("fingerprint changed = %v, want %v", changed, tt.changed)
			}
		})
	}
}
