//go:build baton_tf_v2

package stages

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// writeFiles writes files (path → content; "" removes) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if content == "" {
			os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInitKey(t *testing.T) {
	base := map[string]string{
		"root/main.tf": `terraform {
  required_version = ">= 1.4"
  backend "local" {}
}
module "app" {
  source = "../modules/app"
  size   = var.size
}
resource "terraform_data" "x" {
  input = "a"
}
`,
		"root/variables.tf":        "variable \"size\" {}\n",
		"root/extra.tf.json":       `{"resource": {"null_resource": {"n": {}}}}`,
		"modules/app/main.tf":      "module \"db\" {\n  source = \"./db\"\n}\nresource \"terraform_data\" \"y\" {}\n",
		"modules/app/db/db.tf":     "resource \"terraform_data\" \"z\" {}\n",
		"root/.terraform.lock.hcl": "# lock\n",
	}
	tests := []struct {
		name    string
		edit    map[string]string
		backend []string
		bin     string
		changed bool
	}{
		{"nothing", nil, nil, "", false},
		{"a resource's argument", map[string]string{"root/main.tf": strings.Replace(base["root/main.tf"], `"a"`, `"b"`, 1)}, nil, "", false},
		{"a module's argument", map[string]string{"root/main.tf": strings.Replace(base["root/main.tf"], "size   = var.size", "size = 3", 1)}, nil, "", true},
		{"a new variable", map[string]string{"root/variables.tf": "variable \"size\" {}\nvariable \"other\" {}\n"}, nil, "", false},
		{"a new local resource in a module", map[string]string{"modules/app/db/db.tf": "resource \"terraform_data\" \"z\" {}\nresource \"terraform_data\" \"w\" {}\n"}, nil, "", false},
		{"a module call in a local module", map[string]string{"modules/app/db/db.tf": "module \"cache\" {\n  source = \"hashicorp/cache/aws\"\n}\n"}, nil, "", true},
		{"the terraform block", map[string]string{"root/main.tf": strings.Replace(base["root/main.tf"], ">= 1.4", ">= 1.5", 1)}, nil, "", true},
		{"a resource of a new provider", map[string]string{"root/more.tf": "resource \"random_id\" \"r\" {}\n"}, nil, "", true},
		{"a data source of a new provider in JSON", map[string]string{"root/more.tf.json": `{"data": {"http": {"h": {}}}}`}, nil, "", true},
		{"a provider meta-argument", map[string]string{"root/more.tf": "resource \"terraform_data\" \"p\" {\n  provider = other\n}\n"}, nil, "", true},
		{"a provider block", map[string]string{"root/more.tf": "provider \"null\" {}\n"}, nil, "", true},
		{"the lock file", map[string]string{"root/.terraform.lock.hcl": "# lock 2\n"}, nil, "", true},
		{"no lock file", map[string]string{"root/.terraform.lock.hcl": ""}, nil, "", true},
		{"the backend config", nil, []string{"path=/x"}, "", true},
		{"the binary", nil, nil, "/usr/bin/tofu", true},
		{"a comment outside blocks", map[string]string{"root/main.tf": "# hello\n" + base["root/main.tf"]}, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, base)
			root := filepath.Join(dir, "root")
			before, err := initKey(root, "/usr/bin/terraform", nil)
			if err != nil {
				t.Fatal(err)
			}
			writeFiles(t, dir, tt.edit)
			bin := tt.bin
			if bin == "" {
				bin = "/usr/bin/terraform"
			}
			after, err := initKey(root, bin, tt.backend)
			if err != nil {
				t.Fatal(err)
			}
			if changed := before != after; changed != tt.changed {
				t.Errorf("key changed = %v, want %v", changed, tt.changed)
			}
		})
	}
}

// A module the init key cannot see (here: its installation removed behind
// baton's back) makes Terraform ask for init; the stage runs it once and
// goes on.
func TestTerraformInitWhenAskedE2E(t *testing.T) {
	s, _ := terraformFixture(t)
	writeFiles(t, s.Dir, map[string]string{
		"mod.tf": "module \"m\" {\n  source = \"./m\"\n}\n",
		"m/m.tf": "output \"x\" { value = 1 }\n",
	})
	ctx := context.Background()
	args := map[string]string{"template_id": "8025"}
	if _, _, _, _, err := tfRun(t, ctx, pipeline.ModeRun, s, args); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(s.DataDir, "modules")); err != nil {
		t.Fatal(err)
	}
	_, _, events, _, err := tfRun(t, ctx, pipeline.ModeRun, s, args)
	if err != nil {
		t.Fatal(err)
	}
	if !hasLine(events, "terraform init skipped") || !hasLine(events, "terraform says init is needed: running it") || !hasLine(events, "$ terraform init") {
		t.Error("init was not skipped first and then run when Terraform asked for it")
	}
}
