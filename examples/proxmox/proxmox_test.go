// Package proxmox_test checks the Proxmox example as far as the real tools
// allow offline: no Proxmox cluster and no provider download here.
package proxmox_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
)

func requireTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("BATON_E2E") == "required" {
		t.Fatalf("%s is required (BATON_E2E=required) but not installed", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func tfEnv(t *testing.T) []string {
	rc := filepath.Join(t.TempDir(), "terraform.rc")
	os.WriteFile(rc, nil, 0o600)
	return []string{"TF_CLI_CONFIG_FILE=" + rc}
}

func TestPackerTemplateValidates(t *testing.T) {
	requireTool(t, "packer")
	out := run(t, ".", nil, "packer", "version")
	if !strings.Contains(out, "v1.6.") && !strings.Contains(out, "v1.7.") && !strings.Contains(out, "v1.8.") && !strings.Contains(out, "v1.9.") {
		t.Skipf("%s needs the proxmox plugin installed (packer plugins install github.com/hashicorp/proxmox), which needs the internet", strings.TrimSpace(out))
	}
	run(t, ".", []string{"PROXMOX_URL=https://pve.example:8006/api2/json", "PROXMOX_USERNAME=baton@pve", "PROXMOX_PASSWORD=not-a-secret"},
		"packer", "validate", "packer")
	run(t, ".", nil, "packer", "fmt", "-check", "packer")
}

func TestTerraformFormattedAndLinted(t *testing.T) {
	requireTool(t, "terraform")
	run(t, ".", tfEnv(t), "terraform", "fmt", "-check", "-recursive", ".")
	requireTool(t, "tflint")
	run(t, "infrastructure/environments/production", nil, "tflint", "--no-color")
}

// TestRecordedOutputReachesAnsible feeds a recorded `terraform output
// -json` of the production config through the Inventory handoff into
// Ansible, as baton's stages do.
func TestRecordedOutputReachesAnsible(t *testing.T) {
	requireTool(t, "ansible-playbook")
	data, err := os.ReadFile("testdata/terraform-output.json")
	if err != nil {
		t.Fatal(err)
	}
	var outputs map[string]struct {
		Sensitive bool            `json:"sensitive"`
		Value     json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &outputs); err != nil {
		t.Fatal(err)
	}
	raw, err := handoff.Inventory.Normalize(outputs["ansible_inventory"].Value)
	if err != nil {
		t.Fatalf("the recorded output is not an inventory: %v", err)
	}
	inv, _ := handoff.Inventory.Decode(raw)
	hosts := inv.Hosts()
	if len(hosts) != 1 || hosts[0].Address != "192.168.10.41" || hosts[0].User != "ops" {
		t.Fatalf("hosts = %+v", hosts)
	}
	path := filepath.Join(t.TempDir(), "inventory.json")
	os.WriteFile(path, raw, 0o600)
	list := run(t, "ansible", []string{"ANSIBLE_INVENTORY_UNPARSED_FAILED=True"}, "ansible-inventory", "-i", path, "--list")
	if !strings.Contains(list, `"jump-1"`) || !strings.Contains(list, "192.168.10.41") {
		t.Errorf("ansible-inventory does not see jump-1:\n%s", list)
	}
	run(t, "ansible", nil, "ansible-playbook", "-i", path, "playbooks/site.yml", "--syntax-check")
	plan := run(t, "ansible", nil, "ansible-playbook", "-i", path, "playbooks/site.yml", "--list-hosts", "--list-tasks")
	for _, want := range []string{"jump-1", "Harden sshd", "Create the admin users"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the play does not list %q:\n%s", want, plan)
		}
	}
}
