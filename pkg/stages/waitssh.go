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
)

// WaitSSH waits until every host of the inventory accepts SSH — the
// replacement for `sleep 30` between Terraform and Ansible. Hosts are
// probed concurrently and each is reported as soon as it is ready.
type WaitSSH struct {
	// StageName names the stage; "" means "wait".
	StageName string
	// Inventory is the handoff to read hosts from; nil means
	// handoff.Inventory.
	Inventory handoff.Key[*handoff.AnsibleInventory]
	// KnownHosts is the known_hosts file host keys are checked against;
	// "" means ~/.ssh/known_hosts.
	KnownHosts string
	// KeyFile is the client's private key; "" means each host's
	// ansible_ssh_private_key_file, else ~/.ssh/id_ed25519 or id_rsa.
	KeyFile string
	// User is used for hosts without ansible_user; "" means root.
	User string
	// ReadyCommand, when set, must succeed on each host too (e.g.
	// "cloud-init status --wait").
	ReadyCommand string
	// Timeout bounds the wait; 0 means 5 minutes.
	Timeout time.Duration
}

var (
	_ pipeline.Stage   = (*WaitSSH)(nil)
	_ pipeline.Checker = (*WaitSSH)(nil)
)

// Name implements pipeline.Stage.
func (w *WaitSSH) Name() string {
	if w.StageName == "" {
		return "wait"
	}
	return w.StageName
}

func (w *WaitSSH) inventoryKey() handoff.Key[*handoff.AnsibleInventory] {
	if w.Inventory.Name() == "" {
		return handoff.Inventory
	}
	return w.Inventory
}

// Needs implements pipeline.Stage.
func (w *WaitSSH) Needs() []handoff.Def { return []handoff.Def{w.inventoryKey()} }

// Gives implements pipeline.Stage: nothing.
func (w *WaitSSH) Gives() []handoff.Def { return nil }

// Run implements pipeline.Stage.
func (w *WaitSSH) Run(ctx context.Context, j *pipeline.Job) error {
	return w.wait(ctx, j, w.Timeout)
}

// Check implements pipeline.Checker: every host answers SSH now (within
// 5 seconds).
func (w *WaitSSH) Check(ctx context.Context, j *pipeline.Job) error {
	return w.wait(ctx, j, 5*time.Second)
}

func (w *WaitSSH) wait(ctx context.Context, j *pipeline.Job, timeout time.Duration) error {
	inv, err := w.inventoryKey().Get(j.In)
	if err != nil {
		return err
	}
	home, _ := os.UserHomeDir()
	known := w.KnownHosts
	if known == "" {
		known = filepath.Join(home, ".ssh", "known_hosts")
	}
	var hosts []pipeline.SSHHost
	keyFiles := map[string]bool{}
	if w.KeyFile != "" {
		keyFiles[w.KeyFile] = true
	}
	for _, h := range inv.Hosts() {
		user := h.User
		if user == "" {
			user = w.User
		}
		if user == "" {
			user = "root"
		}
		hosts = append(hosts, pipeline.SSHHost{Name: h.Name, Addr: h.SSHAddr(), User: user})
		if k, ok := h.Vars["ansible_ssh_private_key_file"].(string); ok && w.KeyFile == "" {
			keyFiles[k] = true
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
	j.Printf("waiting for %d hosts (keys checked against %s)", len(hosts), known)
	err = pipeline.WaitForSSH(ctx, hosts, pipeline.SSHWaitOptions{
		Signers:      signers,
		HostKeys:     pipeline.KnownHosts(known),
		Timeout:      timeout,
		ReadyCommand: w.ReadyCommand,
		OnReady: func(h pipeline.SSHHost, attempts int, waited time.Duration) {
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
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("wait: SSH key %s has a passphrase: use a key without one for deployments, or an agent-free deploy key", path)
		}
		return nil, fmt.Errorf("wait: SSH key %s: %s", path, strings.TrimPrefix(err.Error(), "ssh: "))
	}
	return s, nil
}
