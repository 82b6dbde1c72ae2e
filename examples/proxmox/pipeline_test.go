package proxmox_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/stages"
)

// TestPipelineFile: baton.hcl is checked the way the targets check it —
// directories, the variables it sets against variables.tf, the output it
// takes against outputs.tf — and builds the three stages in order.
func TestPipelineFile(t *testing.T) {
	p, err := config.Load("baton.hcl", config.Options{StateRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.Env != "production" {
		t.Errorf("environment %q, want production", p.Env)
	}
	tf := p.Stages[1]
	if tf.Dir != mustAbs(t, tfDir) || tf.Vars["template_id"].Ref != "packer.ubuntu.artifact_id" || len(tf.BackendConfig) != 0 {
		t.Errorf("terraform stage = %+v", tf)
	}
	if a := p.Stages[2]; a.Playbook != playbook || a.Wait.HostKeys != "accept-new" {
		t.Errorf("ansible stage = %+v", a)
	}
	pl, err := p.Build(stages.Exec{})
	if err != nil {
		t.Fatal(err)
	}
	graph := pl.Mermaid()
	for _, edge := range []string{
		"packer_ubuntu -->|packer.ubuntu.artifact_id| terraform_production",
		"terraform_production -->|terraform.production.ansible_inventory, terraform.production.-replaced| ansible_jumphost_wait",
		"ansible_jumphost_wait -.->|after| ansible_jumphost",
	} {
		if !strings.Contains(graph, edge) {
			t.Errorf("graph lacks %q:\n%s", edge, graph)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
