package stages

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/internal/sshtest"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestAddressNames(t *testing.T) {
	for addr, want := range map[string][]string{
		`proxmox_vm.web["web-1"]`:        {"web-1", "proxmox_vm", "web"},
		`module.infra.proxmox_vm.jump`:   {"module", "infra", "proxmox_vm", "jump"},
		`terraform_data.host[0]`:         {"terraform_data", "host"},
		`module.m["a.b"].x.y["q\"uote"]`: {"a.b", `q"uote`, "module", "m", "x", "y"},
	} {
		if got := addressNames(addr); !reflect.DeepEqual(got, want) {
			t.Errorf("addressNames(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestRebuilt(t *testing.T) {
	web1 := []string{`proxmox_vm.web["web-1"]`}
	for _, c := range []struct {
		name, host         string
		recorded, replaced []string
		have, want         bool
		why                string
	}{
		{"named in an address", "web-1", []string{"web-1"}, web1, true, true, ""},
		{"resource name", "jump", []string{"jump"}, []string{"module.x.proxmox_vm.jump"}, true, true, ""},
		{"nothing replaced", "web-1", []string{"web-1"}, []string{}, true, false, "replaced nothing"},
		{"no Replaced handoff", "web-1", []string{"web-1"}, nil, false, false, "no Replaced handoff"},
		{"another host replaced", "web-2", []string{"web-2"}, web1, true, false, "none of them names web-2"},
		{"new host at another's address", "web-9", []string{"web-3"}, web1, true, true, ""},
		{"line baton did not write", "web-9", []string{""}, web1, true, false, "none of them names web-9"},
		{"a prefix is not a name", "web", []string{"web"}, []string{`proxmox_vm.webserver["a"]`, `proxmox_vm.x["web-1"]`}, true, false, "none of them"},
		{"count-indexed, naming no host", "web-2", []string{"web-2"}, []string{`module.lab.terraform_data.host[1]`}, true, true, "name no host"},
		{"count-indexed, nothing replaced", "web-2", []string{"web-2"}, []string{}, true, false, "replaced nothing"},
	} {
		got, why := rebuilt(c.host, c.recorded, c.replaced, c.have, []string{"web-1", "web-2", "web-9", "jump", "web"})
		if got != c.want || !strings.Contains(why, c.why) {
			t.Errorf("%s: rebuilt = %v, %q; want %v, %q", c.name, got, why, c.want, c.why)
		}
	}
}

// sshFixture is two sshtest hosts, web-1 and jump, that accept a client
// key kept at ~/.ssh/deploy of a temporary HOME, and an inventory whose
// hosts name that key with a ~.
type sshFixture struct {
	signer  ssh.Signer
	servers map[string]*sshtest.Server
	inv     string
	known   string
}

func newSSHFixture(t *testing.T) *sshFixture {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	if err := os.WriteFile(filepath.Join(home, ".ssh", "deploy"), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	f := &sshFixture{signer: signer, servers: map[string]*sshtest.Server{}, known: filepath.Join(t.TempDir(), "known_hosts")}
	for _, n := range []string{"web-1", "jump"} {
		f.servers[n] = sshtest.Start(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	}
	f.writeInventory(t)
	return f
}

func (f *sshFixture) writeInventory(t *testing.T) {
	hosts := map[string]any{}
	for n, s := range f.servers {
		host, port, _ := net.SplitHostPort(s.Addr)
		var p int
		fmt.Sscan(port, &p)
		hosts[n] = map[string]any{"ansible_host": host, "ansible_port": p}
	}
	data, _ := json.Marshal(map[string]any{"all": map[string]any{"vars": map[string]any{"ansible_user": "root", "ansible_ssh_private_key_file": "~/.ssh/deploy"}, "hosts": hosts}})
	f.inv = filepath.Join(t.TempDir(), "inventory.json")
	os.WriteFile(f.inv, data, 0o600)
}

// rebuild gives host a new host key at the same address.
func (f *sshFixture) rebuild(t *testing.T, name string) {
	t.Helper()
	old := f.servers[name]
	old.Close()
	s := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{f.signer.PublicKey()}})
	s.Addr = old.Addr
	if err := s.Start(); err != nil {
		t.Skipf("the address %s was taken in between: %v", old.Addr, err)
	}
	f.servers[name] = s
}

// runWithReplaced runs a stage that gives replaced, as Terraform would in
// the same run, then the wait.
func runWithReplaced(t *testing.T, w *SSHWait, inv string, replaced []string) error {
	t.Helper()
	tf := pipeline.Func("terraform", nil, []handoff.Def{replacedKey}, func(ctx context.Context, j *pipeline.Job) error {
		return replacedKey.Put(j.Out, replaced)
	})
	p, err := pipeline.New(tf, w)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(context.Background(), pipeline.Options{RunDir: t.TempDir(), Getenv: func(string) string { return "" }, Args: map[string]string{"inventory": inv}})
	return err
}

func TestSSHWaitAcceptNew(t *testing.T) {
	f := newSSHFixture(t)
	w := &SSHWait{KnownHosts: f.known, HostKeys: HostKeysAcceptNew, Replaced: replacedKey, Timeout: 20e9}
	if got := w.Needs(); len(got) != 2 || got[1].Name() != "replaced" {
		t.Errorf("Needs = %v, want the inventory and replaced", got)
	}
	// First contact: recorded, with ~/.ssh/deploy expanded.
	if err := runWithReplaced(t, w, f.inv, []string{`proxmox_vm.web["web-1"]`, "proxmox_vm.jump"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(f.known)
	for n, s := range f.servers {
		if !strings.Contains(string(data), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))+" baton:"+n) {
			t.Errorf("%s's key is not recorded:\n%s", n, data)
		}
	}
	// Second run: the same keys pass.
	if err := runWithReplaced(t, w, f.inv, []string{}); err != nil {
		t.Fatalf("second run: %v", err)
	}
	// web-1 rebuilt, but Terraform says it replaced nothing: refused.
	f.rebuild(t, "web-1")
	err := runWithReplaced(t, w, f.inv, []string{})
	for _, want := range []string{"web-1", f.known, "ssh-keygen -f", "changed", "Terraform replaced nothing in this run"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("changed key, nothing replaced: %v, want %q in it", err, want)
		}
	}
	// The value of an earlier run does not count.
	p, _ := pipeline.New(w)
	_, err = p.Run(context.Background(), pipeline.Options{RunDir: t.TempDir(), Getenv: func(string) string { return "" },
		Args: map[string]string{"inventory": f.inv, "replaced": `["proxmox_vm.web[\"web-1\"]"]`}})
	if err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("replaced from outside this run: %v, want the changed key refused", err)
	}
	// Terraform replaced web-1 in this run: its new key is recorded.
	if err := runWithReplaced(t, w, f.inv, []string{`proxmox_vm.web["web-1"]`}); err != nil {
		t.Fatalf("web-1 replaced: %v", err)
	}
	data, _ = os.ReadFile(f.known)
	if n := strings.Count(string(data), "\n"); n != 2 || !strings.Contains(string(data), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(f.servers["web-1"].HostKey)))) {
		t.Errorf("known_hosts after web-1 was replaced (%d lines):\n%s", n, data)
	}
	// Strict checking of the same file passes now, as Ansible's will.
	strict := &SSHWait{KnownHosts: f.known, Timeout: 20e9}
	if _, _, _, err := runStage(t, context.Background(), pipeline.ModeRun, strict, map[string]string{"inventory": f.inv}); err != nil {
		t.Errorf("strict check of the recorded file: %v", err)
	}
}

func TestSSHWaitHostKeyPolicies(t *testing.T) {
	f := newSSHFixture(t)
	pinned := []string{string(ssh.MarshalAuthorizedKey(f.servers["web-1"].HostKey)), string(ssh.MarshalAuthorizedKey(f.servers["jump"].HostKey))}
	for _, c := range []struct {
		name string
		w    *SSHWait
		want string // "" for success
	}{
		{"pinned", &SSHWait{HostKeys: HostKeysPinned, PinnedKeys: pinned, Timeout: 20e9}, ""},
		{"pinned, one key", &SSHWait{HostKeys: HostKeysPinned, PinnedKeys: pinned[:1], Timeout: 20e9}, "not one of the pinned keys"},
		{"pinned, none", &SSHWait{HostKeys: HostKeysPinned}, "needs PinnedKeys"},
		{"pinned, bad key", &SSHWait{HostKeys: HostKeysPinned, PinnedKeys: []string{"ssh-ed25519 nope"}}, "pinned key 1"},
		{"unknown policy", &SSHWait{HostKeys: "yes"}, `"yes" is not a policy`},
		{"strict, unknown hosts", &SSHWait{KnownHosts: f.known + "-none", Timeout: 20e9}, "cannot read"},
	} {
		_, _, _, err := runStage(t, context.Background(), pipeline.ModeRun, c.w, map[string]string{"inventory": f.inv})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// The user's own inventory, in INI with group_vars beside it, read by
// Ansible: no inventory handoff is needed.
func TestSSHWaitInventoryPath(t *testing.T) {
	requireTool(t, "ansible-inventory")
	f := newSSHFixture(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "inventory", "group_vars"), 0o755)
	var ini strings.Builder
	ini.WriteString("[web]\n")
	for n, s := range f.servers {
		host, port, _ := net.SplitHostPort(s.Addr)
		fmt.Fprintf(&ini, "%s ansible_host=%s ansible_port=%s\n", n, host, port)
	}
	os.WriteFile(filepath.Join(dir, "inventory", "hosts.ini"), []byte(ini.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "inventory", "group_vars", "all.yml"), []byte("ansible_user: root\nansible_private_key_file: ~/.ssh/deploy\n"), 0o644)

	inv, err := ListInventory(context.Background(), Exec{}, dir, "inventory/hosts.ini")
	if err != nil {
		t.Fatal(err)
	}
	if hosts := inv.Hosts(); len(hosts) != 2 || hosts[0].User != "root" || hosts[0].Vars["ansible_private_key_file"] != "~/.ssh/deploy" {
		t.Errorf("hosts = %+v, want 2 with the group_vars", hosts)
	}
	w := &SSHWait{InventoryPath: "inventory/hosts.ini", Dir: dir, KnownHosts: f.known, HostKeys: HostKeysAcceptNew, Timeout: 20e9}
	if got := w.Needs(); len(got) != 0 {
		t.Errorf("Needs = %v, want none", got)
	}
	sum, _, _, err := runStage(t, context.Background(), pipeline.ModeRun, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Stages[0].Note; got != "2 hosts answer SSH" {
		t.Errorf("note = %q", got)
	}

	// What Ansible cannot read is named, with what Ansible said.
	os.WriteFile(filepath.Join(dir, "broken.yml"), []byte("all: [unclosed\n"), 0o644)
	_, err = ListInventory(context.Background(), Exec{}, dir, "broken.yml")
	if err == nil || !strings.Contains(err.Error(), "inventory broken.yml") || !strings.Contains(err.Error(), "Ansible cannot read it") {
		t.Errorf("broken inventory: %v", err)
	}
	_, err = ListInventory(context.Background(), Exec{}, dir, "missing.ini")
	if err == nil || !strings.Contains(err.Error(), "missing.ini") {
		t.Errorf("missing inventory: %v", err)
	}
}
