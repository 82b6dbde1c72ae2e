// Package testlab gives end-to-end tests real hosts: sshd processes on
// loopback addresses (127.0.0.11, .12, …), each with its own host key, all
// accepting one client key, the way the local lab's Terraform makes them.
// Only loopback addresses are ever used.
package testlab

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/internal/proc"
)

// Require returns the path of a real tool for an end-to-end test. When the
// tool is missing the test is skipped, or fails when BATON_E2E=required (as
// in .ci/run), so CI cannot pass by skipping the real runs.
func Require(t testing.TB, name string) string {
	t.Helper()
	SkipIfOff(t)
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	if os.Getenv("BATON_E2E") == "required" {
		t.Fatalf("%s is required (BATON_E2E=required) but not installed: run `go run mage.go tools`", name)
	}
	t.Skipf("%s is not installed; set BATON_E2E=required to make this a failure", name)
	return ""
}

// SkipIfOff skips an end-to-end test when BATON_E2E=off, as
// `go run mage.go test:unit` sets: the unit tests need no tool.
func SkipIfOff(t testing.TB) {
	t.Helper()
	if os.Getenv("BATON_E2E") == "off" {
		t.Skip("BATON_E2E=off: an end-to-end test, skipped")
	}
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Lab is a set of sshd hosts sharing a client key and a known_hosts file.
type Lab struct {
	Dir        string
	ClientKey  string     // path of the client's private key
	Signer     ssh.Signer // the same key, for Go SSH clients
	KnownHosts string     // every host's key, as ssh and Ansible read it
	Hosts      []*Host

	sshd string
}

// Host is one sshd of a Lab.
type Host struct {
	Name    string
	Address string
	Port    int
	HostKey ssh.PublicKey
	dir     string
	lab     *Lab
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
}

// Dir is the host's own directory, its lab_dir in the inventory.
func (h *Host) Dir() string { return h.dir }

// Home is the host's own home directory, HOME in its sessions: empty, so
// no shell start-up file of the machine's account is read.
func (h *Host) Home() string { return filepath.Join(h.dir, "home") }

// SessionPath is PATH in every session of a lab host.
const SessionPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// SessionEnv is the sshd_config of a host whose sessions start in the
// lab's own environment, as examples/local's host-up.sh writes it: HOME
// is home, so every shell's rc files are the lab's; SHLVL=1 makes bash
// skip the rc files it reads when started by sshd; PATH is SessionPath;
// no ~/.ssh/rc or ~/.ssh/environment. Without it a session runs after the
// machine's login-shell start-up (root's ~/.bashrc may run pyenv init,
// half a second per command).
func SessionEnv(home string) string {
	return fmt.Sprintf("SetEnv %q PATH=%s SHLVL=1\nPermitUserRC no\nPermitUserEnvironment no\n", "HOME="+home, SessionPath)
}

// Addr is host:port.
func (h *Host) Addr() string { return net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) }

// New prepares n hosts (127.0.0.11 onwards, named host-1 …) without
// starting them; Start starts one, StartAll all. Every sshd is stopped when
// the test ends.
func New(t testing.TB, n int) *Lab {
	t.Helper()
	lab := &Lab{Dir: t.TempDir(), sshd: Require(t, "sshd")}
	// First, so that it runs after every host's Stop.
	Reap(t, lab.Dir, nil, 0)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("sshd needs /run/sshd: %v", err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	lab.ClientKey = filepath.Join(lab.Dir, "client_key")
	writeKey(t, lab.ClientKey, priv)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	lab.Signer = signer
	lab.KnownHosts = filepath.Join(lab.Dir, "known_hosts")
	var known strings.Builder
	for i := 0; i < n; i++ {
		h := &Host{Name: fmt.Sprintf("host-%d", i+1), Address: fmt.Sprintf("127.0.0.%d", 11+i), lab: lab}
		h.dir = filepath.Join(lab.Dir, h.Name)
		if err := os.MkdirAll(h.Home(), 0o700); err != nil {
			t.Fatal(err)
		}
		_, hpriv, _ := ed25519.GenerateKey(rand.Reader)
		writeKey(t, filepath.Join(h.dir, "host_key"), hpriv)
		hs, _ := ssh.NewSignerFromKey(hpriv)
		h.HostKey = hs.PublicKey()
		h.Port = freePort(t, h.Address)
		auth := ssh.MarshalAuthorizedKey(signer.PublicKey())
		if err := os.WriteFile(filepath.Join(h.dir, "authorized_keys"), auth, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`ListenAddress %s
HostKey %s
PidFile none
AuthorizedKeysFile %s
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
MaxStartups 200:30:400
%s`, h.Addr(), filepath.Join(h.dir, "host_key"), filepath.Join(h.dir, "authorized_keys"), SessionEnv(h.Home()))
		if err := os.WriteFile(filepath.Join(h.dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		known.WriteString(knownLine(h.Addr(), h.HostKey))
		lab.Hosts = append(lab.Hosts, h)
		t.Cleanup(h.Stop)
	}
	if err := os.WriteFile(lab.KnownHosts, []byte(known.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return lab
}

// Start starts n hosts and waits until each accepts connections.
func Start(t testing.TB, n int) *Lab {
	t.Helper()
	lab := New(t, n)
	for _, h := range lab.Hosts {
		if err := h.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range lab.Hosts {
		if err := h.WaitListening(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return lab
}

func knownLine(addr string, key ssh.PublicKey) string {
	host, port, _ := net.SplitHostPort(addr)
	name := host
	if port != "22" {
		name = "[" + host + "]:" + port
	}
	return name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + "\n"
}

// Start starts the host's sshd in the foreground of a child process.
func (h *Host) Start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd != nil {
		return nil
	}
	cmd := exec.Command(h.lab.sshd, "-D", "-e", "-f", filepath.Join(h.dir, "sshd_config"))
	log, err := os.OpenFile(filepath.Join(h.dir, "sshd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting sshd for %s: %w", h.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(done)
	}()
	h.cmd, h.done = cmd, done
	return nil
}

// WaitListening waits, polling every 10ms up to timeout, until the host
// accepts TCP connections.
func (h *Host) WaitListening(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", h.Addr(), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		h.mu.Lock()
		done := h.done
		h.mu.Unlock()
		if done != nil {
			select {
			case <-done:
				logData, _ := os.ReadFile(filepath.Join(h.dir, "sshd.log"))
				return fmt.Errorf("sshd for %s exited: %s", h.Name, strings.TrimSpace(string(logData)))
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd for %s not listening on %s after %s: %v", h.Name, h.Addr(), timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop stops the host's sshd and waits for it to exit.
func (h *Host) Stop() {
	h.mu.Lock()
	cmd, done := h.cmd, h.done
	h.cmd, h.done = nil, nil
	h.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// Inventory is a static Ansible inventory of the lab: the first host in
// group db, the rest in web.
func (l *Lab) Inventory() []byte {
	groups := map[string]map[string]any{"web": {}, "db": {}}
	for i, h := range l.Hosts {
		g := "web"
		if i == 0 && len(l.Hosts) > 1 {
			g = "db"
		}
		groups[g][h.Name] = map[string]any{"ansible_host": h.Address, "ansible_port": h.Port, "lab_dir": h.dir}
	}
	children := map[string]any{}
	for g, hosts := range groups {
		if len(hosts) > 0 {
			children[g] = map[string]any{"hosts": hosts}
		}
	}
	inv := map[string]any{"all": map[string]any{
		"vars": map[string]any{
			"ansible_user":                 "root",
			"ansible_ssh_private_key_file": l.ClientKey,
			"ansible_python_interpreter":   "/usr/bin/python3",
		},
		"children": children,
	}}
	data, _ := json.MarshalIndent(inv, "", "  ")
	return data
}

func writeKey(t testing.TB, path string, key ed25519.PrivateKey) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "baton-testlab")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePort finds a port that is free on addr now.
func freePort(t testing.TB, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatalf("no free port on %s: %v", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePort returns a TCP port that is free on addr now, for a lab whose
// hosts must not collide with another lab's.
func FreePort(t testing.TB, addr string) int {
	t.Helper()
	return freePort(t, addr)
}

// Buffer is a bytes.Buffer safe for concurrent writes and reads: a
// target's or a logger's output, read while they still write.
type Buffer = proc.Buffer

// WriteScript writes an executable shell script named name into dir and
// returns its path: a fake tool or secrets wrapper.
func WriteScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
