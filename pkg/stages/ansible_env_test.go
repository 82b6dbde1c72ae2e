package stages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// A repository laid out as users keep theirs: an ansible.cfg of its own,
// an INI inventory with group_vars beside it. The playbook sees the
// group_vars, the ansible.cfg's settings stay, and no inventory handoff
// is needed.
func TestAnsibleInventoryPathE2E(t *testing.T) {
	requireTool(t, "ansible-playbook")
	lab := testlab.Start(t, 1)
	h := lab.Hosts[0]
	dir := copyDir(t, "testdata/ansible")
	os.MkdirAll(filepath.Join(dir, "inventory", "group_vars"), 0o755)
	os.WriteFile(filepath.Join(dir, "ansible.cfg"), []byte("[defaults]\nforks = 2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "inventory", "hosts.ini"), []byte(fmt.Sprintf("[web]\n%s ansible_host=%s ansible_port=%d lab_dir=%s\n", h.Name, h.Address, h.Port, h.Dir())), 0o644)
	os.WriteFile(filepath.Join(dir, "inventory", "group_vars", "all.yml"), []byte(fmt.Sprintf("ansible_user: root\nansible_ssh_private_key_file: %s\nansible_python_interpreter: /usr/bin/python3\ntemplate_id: 9001\n", lab.ClientKey)), 0o644)
	a := &Ansible{Dir: dir, InventoryPath: "inventory/hosts.ini", KnownHosts: lab.KnownHosts}
	if got := a.Needs(); len(got) != 0 {
		t.Errorf("Needs = %v, want none", got)
	}
	sum, _, events, err := runStage(t, context.Background(), pipeline.ModeRun, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Stages[0].Note; !strings.Contains(got, "changed=1") {
		t.Errorf("note = %q", got)
	}
	data, err := os.ReadFile(filepath.Join(h.Dir(), "configured-from"))
	if err != nil || strings.TrimSpace(string(data)) != "9001" {
		t.Errorf("configured-from = %q, %v; want 9001 from group_vars", data, err)
	}
	if !hasLine(events, "left to "+filepath.Join(dir, "ansible.cfg")+": forks") {
		t.Error("the settings line does not say forks was left to the repository's ansible.cfg")
	}
	if !hasLine(events, "-i inventory/hosts.ini") {
		t.Error("ansible-playbook was not given the user's inventory")
	}
	if _, _, _, err := runStage(t, context.Background(), pipeline.ModeCheck, a, nil); err != nil {
		t.Errorf("check: %v", err)
	}
}
