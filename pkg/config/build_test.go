package config

import (
	"maps"
	"testing"

	"github.com/baton-deploy/baton/pkg/stages"
)

// Build gives every stage its vars one way: those that name a handoff in
// Vars, the static ones in Set.
func TestBuildSplitsVarsFromSet(t *testing.T) {
	dir := repo(t)
	src := `packer "image" {
  dir      = "packer"
  template = "ubuntu-server-minimal.pkr.hcl"
  vars     = { vm_id = 8025 }
}

terraform "infra" {
  dir  = "terraform"
  vars = { vm_clone_vm_id = packer.image.artifact_id, vm_name = "jump" }
}

ansible "configure" {
  dir       = "ansible_collections/acme/jump"
  playbook  = "playbooks/site.yml"
  inventory = terraform.infra.ansible_inventory
  vars      = { template = packer.image.artifact_id, site = "fra" }
}
`
	pl := build(t, dir, src)
	byName := map[string]any{}
	for _, s := range pl.Stages() {
		byName[s.Name()] = s
	}
	pk, _ := byName["packer.image"].(*stages.Packer)
	tf, _ := byName["terraform.infra"].(*stages.Terraform)
	an, _ := byName["ansible.configure"].(*stages.Ansible)
	if pk == nil || tf == nil || an == nil {
		t.Fatalf("stages %v: want packer.image, terraform.infra and ansible.configure", byName)
	}
	if want := map[string]string{"vm_id": "8025"}; !maps.Equal(pk.Set, want) {
		t.Errorf("packer Set = %v, want %v", pk.Set, want)
	}
	check := func(stage string, vars []stages.Var, set map[string]string, wantVar, wantFrom string, wantSet map[string]string) {
		t.Helper()
		if len(vars) != 1 || vars[0].Name != wantVar || vars[0].From.Name() != wantFrom {
			t.Errorf("%s Vars = %v, want %s from %s", stage, vars, wantVar, wantFrom)
		}
		if !maps.Equal(set, wantSet) {
			t.Errorf("%s Set = %v, want %v", stage, set, wantSet)
		}
	}
	check("terraform", tf.Vars, tf.Set, "vm_clone_vm_id", "packer.image.artifact_id", map[string]string{"vm_name": "jump"})
	check("ansible", an.Vars, an.Set, "template", "packer.image.artifact_id", map[string]string{"site": "fra"})
}
