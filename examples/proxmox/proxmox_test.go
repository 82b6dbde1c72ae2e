// Package proxmox_test checks the Proxmox example as far as the real tools
// allow offline: there is no Proxmox cluster here and no provider or plugin
// download, so every check runs Packer, Terraform, tflint, Ansible and sshd
// on the tree itself. The tools are skipped when missing, unless
// BATON_E2E=required.
package proxmox_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/handoff"
)

const (
	packerDir = "packer"
	tfDir     = "infrastructure/environments/production"
	ansDir    = "ansible"
	playbook  = "playbooks/site.yml"
)

func requireTool(t *testing.T, name string) string {
	t.Helper()
	testlab.SkipIfOff(t)
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("BATON_E2E") == "required" {
		t.Fatalf("%s is required but not installed", name)
	}
	t.Skipf("%s not installed", name)
	return ""
}

// result is one finished command.
type result struct {
	out string
	err error
}

// exe runs name in dir with env added to the environment.
func exe(dir string, env []string, name string, args ...string) result {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return result{string(out), err}
}

// run is exe that must succeed.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	r := exe(dir, env, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, r.err, r.out)
	}
	return r.out
}

// packerEnv keeps Packer off the network and out of the home directory, and
// gives it dummy credentials the way a secrets wrapper would.
func packerEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"CHECKPOINT_DISABLE=1",
		"PACKER_CONFIG_DIR=" + home,
		"PACKER_CACHE_DIR=" + filepath.Join(home, "cache"),
		"PACKER_PLUGIN_PATH=" + filepath.Join(home, "plugins"),
		"PROXMOX_URL=https://pve.invalid:8006/api2/json",
		"PROXMOX_USERNAME=baton@pve",
		"PROXMOX_PASSWORD=dummy-not-a-secret",
	}
}

// tfEnv gives Terraform an empty CLI configuration: no credentials, no
// provider mirrors, no network.
func tfEnv(t *testing.T) []string {
	rc := filepath.Join(t.TempDir(), "terraform.rc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"TF_CLI_CONFIG_FILE=" + rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"}
}

func ansibleEnv(t *testing.T) []string {
	tmp := t.TempDir()
	return []string{
		// As baton's Ansible stage: a broken inventory fails.
		"ANSIBLE_INVENTORY_UNPARSED_FAILED=True",
		"ANSIBLE_LOCAL_TEMP=" + tmp,
		"ANSIBLE_HOME=" + tmp,
		"ANSIBLE_NOCOLOR=True",
		"ANSIBLE_LOCALHOST_WARNING=False",
	}
}

// packerVersion is the major and minor version of the Packer on PATH.
func packerVersion(t *testing.T) (major, minor int) {
	t.Helper()
	out := run(t, ".", nil, "packer", "version")
	m := regexp.MustCompile(`v?(\d+)\.(\d+)\.\d+`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("packer version: no version in %q", out)
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor
}

// TestPackerTemplate validates the template with the Packer on PATH. Packer
// 1.6.6 (Debian's) has the proxmox builders built in but rejects the
// required_plugins block, so it validates every other *.pkr.hcl file — what
// a 1.6.6 user runs after deleting plugins.pkr.hcl — and checks that block
// is the only thing it rejects. Packer 1.7 and later need the plugin, which
// `packer init` downloads; without it installed the test skips.
func TestPackerTemplate(t *testing.T) {
	requireTool(t, "packer")
	env := packerEnv(t)
	run(t, ".", env, "packer", "fmt", "-check", packerDir)

	major, minor := packerVersion(t)
	if major > 1 || minor >= 7 {
		r := exe(".", env, "packer", "validate", packerDir)
		if r.err != nil && strings.Contains(r.out, "packer init") {
			t.Skipf("packer %d.%d needs the proxmox plugin, which `packer init` downloads:\n%s", major, minor, r.out)
		}
		if r.err != nil {
			t.Fatalf("packer validate %s: %v\n%s", packerDir, r.err, r.out)
		}
		return
	}

	r := exe(".", env, "packer", "validate", packerDir)
	if r.err == nil || !strings.Contains(r.out, `"required_plugins" are not expected`) {
		t.Errorf("packer %d.%d on the shipped directory: want only the required_plugins block rejected, got %v:\n%s", major, minor, r.err, r.out)
	}

	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(packerDir, "*.pkr.hcl"))
	copied := 0
	for _, f := range files {
		if filepath.Base(f) == "plugins.pkr.hcl" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "required_plugins") {
			t.Errorf("%s declares required_plugins: keep it in plugins.pkr.hcl alone", f)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		copied++
	}
	if copied == 0 {
		t.Fatalf("no template besides plugins.pkr.hcl in %s", packerDir)
	}
	run(t, ".", env, "packer", "validate", dir)
	run(t, ".", env, "packer", "validate", "-var", "vm_id=8030", "-var", "node=pve2", "-var", "ssh_host=192.0.2.10", dir)

	// The credentials come from the environment, nowhere else.
	var bare []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PROXMOX_") {
			bare = append(bare, kv)
		}
	}
	cmd := exec.Command("packer", "validate", dir)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PROXMOX_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, bare...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "proxmox_url must be specified") {
		t.Errorf("packer validate without PROXMOX_* in the environment: want it to ask for proxmox_url, got %v:\n%s", err, out)
	}
}

func TestTerraformFormatted(t *testing.T) {
	requireTool(t, "terraform")
	run(t, ".", tfEnv(t), "terraform", "fmt", "-check", "-recursive", "-diff", "infrastructure")
}

// TestTFLint lints the configuration with tflint's bundled Terraform
// ruleset; HOME is empty so that no ~/.tflint.hcl asks for plugins.
func TestTFLint(t *testing.T) {
	requireTool(t, "tflint")
	out := run(t, ".", []string{"HOME=" + t.TempDir()}, "tflint", "--chdir="+tfDir, "--no-color", "--format=compact")
	if strings.TrimSpace(out) != "" {
		t.Logf("tflint:\n%s", out)
	}
}

// TestTerraformOutputMatchesRecording runs the production config's
// ansible_inventory output through real Terraform, with the VM resources
// replaced by the attributes the bpg provider reports (vm_id and the QEMU
// agent's ipv4_addresses, loopback first), and compares `terraform output
// -json` with testdata/terraform-output.json. A VM whose agent reports no
// address must give a null ansible_host, which the Inventory handoff
// rejects by name.
func TestTerraformOutputMatchesRecording(t *testing.T) {
	requireTool(t, "terraform")
	main, err := os.ReadFile(filepath.Join(tfDir, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`clone\s*\{\s*vm_id\s*=\s*var\.template_id`).Match(main) {
		t.Errorf("main.tf does not clone from var.template_id, the Packer stage's handoff")
	}
	outputs, err := os.ReadFile(filepath.Join(tfDir, "outputs.tf"))
	if err != nil {
		t.Fatal(err)
	}
	const resource = "proxmox_virtual_environment_vm.vm"
	if !strings.Contains(string(outputs), resource) {
		t.Fatalf("outputs.tf no longer reads %s: update this test's stub", resource)
	}
	variables, err := os.ReadFile(filepath.Join(tfDir, "variables.tf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stub := `variable "stub_ipv4_addresses" {
  type = list(list(string))
}

locals {
  stub_vms = {
    for i, name in keys(var.vms) : name => {
      vm_id          = 100 + i
      ipv4_addresses = var.stub_ipv4_addresses
    }
  }
}
`
	for name, data := range map[string]string{
		"variables.tf": string(variables),
		"outputs.tf":   strings.ReplaceAll(string(outputs), resource, "local.stub_vms"),
		"stub.tf":      stub,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := tfEnv(t)
	apply := func(addresses string) map[string]json.RawMessage {
		t.Helper()
		run(t, dir, env, "terraform", "apply", "-auto-approve", "-input=false", "-no-color",
			"-var", "template_id=8025",
			"-var", `ssh_public_keys=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBaton test"]`,
			"-var", "stub_ipv4_addresses="+addresses)
		var got map[string]json.RawMessage
		if err := json.Unmarshal([]byte(run(t, dir, env, "terraform", "output", "-json")), &got); err != nil {
			t.Fatal(err)
		}
		return got
	}

	got := apply(`[["127.0.0.1"],["192.168.10.41"]]`)
	recorded, err := os.ReadFile("testdata/terraform-output.json")
	if err != nil {
		t.Fatal(err)
	}
	var want, have any
	if err := json.Unmarshal(recorded, &want); err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	if err := json.Unmarshal(gotJSON, &have); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("terraform output -json differs from testdata/terraform-output.json:\n%s", gotJSON)
	}

	got = apply(`[["127.0.0.1"]]`)
	var noAddr struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(got["ansible_inventory"], &noAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := handoff.ParseInventory(noAddr.Value); err == nil || !strings.Contains(err.Error(), "jump-1") {
		t.Errorf("an output with no address for jump-1: want the Inventory handoff to reject jump-1, got %v (%s)", err, noAddr.Value)
	}
}

// TestPlaybookSyntax checks the playbook and role against the hand-written
// sample inventory, which the Inventory handoff must accept too.
func TestPlaybookSyntax(t *testing.T) {
	requireTool(t, "ansible-playbook")
	sample, err := filepath.Abs("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handoff.ParseInventory(data); err != nil {
		t.Errorf("the Inventory handoff rejects %s: %v", sample, err)
	}
	run(t, ansDir, ansibleEnv(t), "ansible-playbook", "--syntax-check", "-i", sample, playbook)
}

// TestRecordedOutputReachesAnsible feeds the recorded `terraform output
// -json` through the Inventory handoff into Ansible, as baton's Terraform
// and Ansible stages do. A real --check would have to reach the hosts, which
// do not exist: --list-hosts and --list-tasks show the handoff arrives.
func TestRecordedOutputReachesAnsible(t *testing.T) {
	requireTool(t, "ansible-playbook")
	requireTool(t, "ansible-inventory")
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
	out, ok := outputs["ansible_inventory"]
	if !ok {
		t.Fatal("no ansible_inventory output in the recording")
	}
	inv, err := handoff.ParseInventory(out.Value)
	if err != nil {
		t.Fatalf("the recorded output is not an inventory: %v", err)
	}
	hosts := inv.Hosts()
	if len(hosts) != 1 {
		t.Fatalf("hosts = %+v, want jump-1 only", hosts)
	}
	h := hosts[0]
	if h.Name != "jump-1" || h.Address != "192.168.10.41" || h.User != "ops" || h.Port != 0 || !reflect.DeepEqual(h.Groups, []string{"jump"}) {
		t.Errorf("host = %+v", h)
	}
	if _, err := handoff.Inventory.Normalize(out.Value); err != nil {
		t.Errorf("the Inventory handoff does not take the output: %v", err)
	}

	js, err := inv.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(path, js, 0o600); err != nil {
		t.Fatal(err)
	}
	env := ansibleEnv(t)

	var list struct {
		Meta struct {
			Hostvars map[string]map[string]any `json:"hostvars"`
		} `json:"_meta"`
		Jump struct {
			Hosts []string `json:"hosts"`
		} `json:"jump"`
	}
	listOut := run(t, ansDir, env, "ansible-inventory", "-i", path, "--list")
	if err := json.Unmarshal([]byte(listOut), &list); err != nil {
		t.Fatalf("ansible-inventory --list: %v\n%s", err, listOut)
	}
	if !reflect.DeepEqual(list.Jump.Hosts, []string{"jump-1"}) {
		t.Errorf("ansible-inventory: group jump = %v, want [jump-1]\n%s", list.Jump.Hosts, listOut)
	}
	hv := list.Meta.Hostvars["jump-1"]
	if hv["ansible_host"] != "192.168.10.41" || hv["ansible_user"] != "ops" || hv["template_id"] != float64(8025) {
		t.Errorf("ansible-inventory: jump-1's vars = %v", hv)
	}

	run(t, ansDir, env, "ansible-playbook", "-i", path, playbook, "--syntax-check")
	plan := run(t, ansDir, env, "ansible-playbook", "-i", path, playbook, "--check", "--list-hosts", "--list-tasks")
	for _, want := range []string{"hosts (1):", "jump-1", "Install the jump host's packages", "Create the admin users", "Authorize the admins' keys", "Harden sshd"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the play does not list %q:\n%s", want, plan)
		}
	}
}

// TestSSHHardening renders the role's sshd drop-in with Ansible and has the
// real sshd check it, as the role's validate does on the host, then reads
// the settings sshd would use.
func TestSSHHardening(t *testing.T) {
	requireTool(t, "ansible")
	requireTool(t, "ssh-keygen")
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/sshd"); err == nil {
			sshd = "/usr/sbin/sshd"
		} else {
			requireTool(t, "sshd")
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "10-baton-hardening.conf")
	run(t, ansDir, ansibleEnv(t), "ansible", "localhost", "-c", "local", "-i", "localhost,",
		"-e", "@playbooks/roles/jumphost/defaults/main.yml",
		"-m", "ansible.builtin.template",
		"-a", "src=playbooks/roles/jumphost/templates/hardening.conf.j2 dest="+conf)
	key := filepath.Join(dir, "host_key")
	run(t, dir, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	run(t, dir, nil, sshd, "-t", "-f", conf, "-o", "HostKey="+key)
	eff := run(t, dir, nil, sshd, "-T", "-f", conf, "-o", "HostKey="+key)
	for _, want := range []string{"passwordauthentication no", "permitrootlogin no", "kbdinteractiveauthentication no", "allowgroups sudo"} {
		if !strings.Contains(eff, want+"\n") {
			t.Errorf("sshd -T: no %q in\n%s", want, eff)
		}
	}
}

// TestNoSecretsInTree looks for credentials written into the example: they
// belong in the environment or a secrets wrapper.
func TestNoSecretsInTree(t *testing.T) {
	assign := regexp.MustCompile(`(?i)\b(password|api_token|token|secret)\s*[=:]\s*"[^"$]+"`)
	tokenValue := regexp.MustCompile(`![\w.-]+=[0-9a-f]{8}-[0-9a-f]{4}-`)
	envValue := regexp.MustCompile(`PROXMOX_(VE_)?(PASSWORD|API_TOKEN|TOKEN)=[^\s.…]`)
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, re := range []*regexp.Regexp{assign, tokenValue, envValue} {
			if m := re.Find(data); m != nil {
				t.Errorf("%s: %q looks like a credential", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
