package stages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/sshwait"
)

// SSHWait waits until every host of the inventory accepts SSH — the
// replacement for `sleep 30` between Terraform and Ansible. Hosts are
// probed concurrently and each is reported as soon as it is ready.
type SSHWait struct {
	// StageName names the stage; "" means "wait".
	StageName string
	// Inventory is the handoff to read hosts from; nil means
	// handoff.Inventory.
	Inventory handoff.Key[*handoff.AnsibleInventory]
	// InventoryPath, when set, is the user's inventory file (any format
	// Ansible reads, relative to Dir), read with ListInventory under Exec
	// instead of the Inventory handoff.
	InventoryPath string
	// Dir is where ansible-inventory runs and relative key paths start;
	// "" means the current directory.
	Dir string
	// Exec is how ansible-inventory is started.
	Exec Exec
	// KnownHosts is the known_hosts file host keys are checked against;
	// "" means ~/.ssh/known_hosts. Ansible must be given the same file.
	KnownHosts string
	// HostKeys is how host keys are checked: "known_hosts" (or "") only
	// accepts the keys KnownHosts lists; "accept-new" records the key of
	// a host seen for the first time there and refuses a changed key,
	// unless Terraform replaced the host in this run (see Replaced);
	// "pinned" accepts only PinnedKeys, for every host.
	HostKeys string
	// PinnedKeys are the host keys "pinned" accepts, in authorized_keys
	// form ("ssh-ed25519 AAAA…").
	PinnedKeys []string
	// Replaced, when set, is the Terraform stage's Replaced handoff. With
	// "accept-new", a host whose key changed counts as rebuilt — its old
	// key is forgotten — when this run's apply replaced something and the
	// host's inventory name appears in a replaced address
	// (proxmox_vm.web["web-1"], module.x.proxmox_vm.jump) or the host is
	// new: the key recorded at its address belonged to another name.
	Replaced handoff.Def
	// KeyFile is the client's private key; "" means each host's
	// ansible_ssh_private_key_file (or ansible_private_key_file), else
	// ~/.ssh/id_ed25519 or id_rsa. A leading ~ or ~user is expanded as ssh
	// does, and a relative path starts at Dir.
	KeyFile string
	// User is used for hosts without ansible_user; "" means root.
	User string
	// ReadyCommand, when set, must succeed on each host too (e.g.
	// "cloud-init status --wait").
	ReadyCommand string
	// Timeout bounds the wait; 0 means 5 minutes.
	Timeout time.Duration
	// RunAfter names stages the wait must follow without needing their
	// handoffs: the stage that writes InventoryPath, say.
	RunAfter []string
}

var (
	_ pipeline.Stage     = (*SSHWait)(nil)
	_ pipeline.Checker   = (*SSHWait)(nil)
	_ pipeline.Sequencer = (*SSHWait)(nil)
)

// After implements pipeline.Sequencer.
func (w *SSHWait) After() []string { return w.RunAfter }

// Name implements pipeline.Stage.
func (w *SSHWait) Name() string {
	if w.StageName == "" {
		return "wait"
	}
	return w.StageName
}

func (w *SSHWait) inventoryKey() handoff.Key[*handoff.AnsibleInventory] {
	if w.Inventory.Name() == "" {
		return handoff.Inventory
	}
	return w.Inventory
}

// Needs implements pipeline.Stage: the inventory, unless InventoryPath
// gives it, and Replaced when set.
func (w *SSHWait) Needs() []handoff.Def {
	var defs []handoff.Def
	if w.InventoryPath == "" {
		defs = append(defs, w.inventoryKey())
	}
	if w.Replaced != nil {
		defs = append(defs, w.Replaced)
	}
	return defs
}

// Gives implements pipeline.Stage: nothing.
func (w *SSHWait) Gives() []handoff.Def { return nil }

// Run implements pipeline.Stage.
func (w *SSHWait) Run(ctx context.Context, j *pipeline.Job) error {
	return w.wait(ctx, j, w.Timeout)
}

// Check implements pipeline.Checker: every host answers SSH now (within
// 5 seconds).
func (w *SSHWait) Check(ctx context.Context, j *pipeline.Job) error {
	return w.wait(ctx, j, 5*time.Second)
}

func (w *SSHWait) wait(ctx context.Context, j *pipeline.Job, timeout time.Duration) error {
	inv, err := w.inventory(ctx, j)
	if err != nil {
		return err
	}
	home, _ := os.UserHomeDir()
	known := w.KnownHosts
	if known == "" {
		known = filepath.Join(home, ".ssh", "known_hosts")
	}
	var hosts []sshwait.Host
	keyFiles := map[string]bool{}
	if w.KeyFile != "" {
		keyFiles[w.keyPath(w.KeyFile)] = true
	}
	for _, h := range inv.Hosts() {
		user := h.User
		if user == "" {
			user = w.User
		}
		if user == "" {
			user = "root"
		}
		hosts = append(hosts, sshwait.Host{Name: h.Name, Addr: h.SSHAddr(), User: user})
		for _, v := range []string{"ansible_ssh_private_key_file", "ansible_private_key_file"} {
			if k, ok := h.Vars[v].(string); ok && k != "" && w.KeyFile == "" {
				keyFiles[w.keyPath(k)] = true
				break
			}
		}
	}
	if len(keyFiles) == 0 {
		for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if p := filepath.Join(home, ".ssh", k); fileExists(p) {
				keyFiles[p] = true
			}
		}
	}
	var signers []ssh.Signer
	for path := range keyFiles {
		s, err := loadSigner(path)
		if err != nil {
			return err
		}
		signers = append(signers, s)
	}
	if len(signers) == 0 {
		return errors.New("wait: no SSH key: set KeyFile, give hosts ansible_ssh_private_key_file, or create ~/.ssh/id_ed25519")
	}
	policy, err := w.policy(j, known, hosts)
	if err != nil {
		return err
	}
	j.Printf("waiting for %d hosts (host keys: %s)", len(hosts), policy)
	err = sshwait.Wait(ctx, hosts, sshwait.Options{
		Signers:      signers,
		HostKeys:     policy,
		Timeout:      timeout,
		ReadyCommand: w.ReadyCommand,
		OnReady: func(h sshwait.Host, attempts int, waited time.Duration) {
			j.Printf("%s (%s) is ready after %d probes, %s", h.Name, h.Addr, attempts, waited.Round(time.Millisecond))
		},
	})
	if err != nil {
		return err
	}
	j.SetNote("%d hosts answer SSH", len(hosts))
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func loadSigner(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wait: SSH key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		if _, ok := errors.AsType[*ssh.PassphraseMissingError](err); ok {
			return nil, fmt.Errorf("wait: SSH key %s has a passphrase: use a key without one for deployments, or an agent-free deploy key", path)
		}
		return nil, fmt.Errorf("wait: SSH key %s: %s", path, strings.TrimPrefix(err.Error(), "ssh: "))
	}
	return s, nil
}
