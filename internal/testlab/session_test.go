package testlab

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sessionVars are the variables a lab session may have: sshd's own and the
// shell's bookkeeping. A variable beyond them came from some start-up file.
var sessionVars = map[string]bool{
	"HOME": true, "LOGNAME": true, "MAIL": true, "PATH": true, "PWD": true, "SHELL": true,
	"SHLVL": true, "SSH_CLIENT": true, "SSH_CONNECTION": true, "USER": true, "_": true,
}

// plantRCFiles puts, in home, the start-up files of the common shells, each
// writing a marker when run.
func plantRCFiles(t *testing.T, home string) (marker string) {
	t.Helper()
	marker = filepath.Join(t.TempDir(), "sourced")
	for _, f := range []string{".bashrc", ".bash_profile", ".profile", ".zshenv", ".zshrc", ".config/fish/config.fish"} {
		path := filepath.Join(home, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		line := "echo " + f + " >> '" + marker + "'\nexport FROM_RC=" + strconv.Quote(f) + "\n"
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return marker
}

// checkSessionEnv checks what `env` printed in a lab session: HOME is the
// host's own, PATH the lab's, nothing else set by a start-up file, and
// none of the planted rc files ran.
func checkSessionEnv(t *testing.T, via, out, home, marker string) {
	t.Helper()
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
		if !sessionVars[k] {
			t.Errorf("%s: the session has %s, which sshd does not set: a start-up file ran (env:\n%s)", via, line, out)
		}
	}
	if got := vars["HOME"]; got != home {
		t.Errorf("%s: HOME = %q, want the host's own home %q", via, got, home)
	}
	if got := vars["PATH"]; got != SessionPath {
		t.Errorf("%s: PATH = %q, want %q", via, got, SessionPath)
	}
	if data, err := os.ReadFile(marker); err == nil {
		t.Errorf("%s: start-up files ran in a session: %q", via, data)
	}
}

// A command on a lab host runs in the lab's own environment, not after
// the login shell's rc files — for the OpenSSH client, as Ansible connects,
// and for Go's, as the wait stage's probe does.
func TestSessionsStartInTheLabsOwnEnvironment(t *testing.T) {
	lab := Start(t, 1)
	h := lab.Hosts[0]
	marker := plantRCFiles(t, h.Home())

	out, err := exec.Command("ssh", "-i", lab.ClientKey, "-o", "UserKnownHostsFile="+lab.KnownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-p", itoa(h.Port), "root@"+h.Address, "env").Output()
	if err != nil {
		t.Fatalf("ssh env: %v", err)
	}
	checkSessionEnv(t, "ssh", string(out), h.Home(), marker)

	cb, err := knownhosts.New(lab.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", h.Addr(), &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(lab.Signer)}, HostKeyCallback: cb, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err = s.Output("env")
	if err != nil {
		t.Fatalf("env over Go's ssh: %v", err)
	}
	checkSessionEnv(t, "Go ssh", string(out), h.Home(), marker)
}

// The local lab's hosts, as examples/local's host-up.sh starts them, give
// the same environment.
func TestLocalLabHostStartsInItsOwnEnvironment(t *testing.T) {
	Require(t, "sshd")
	for _, tool := range []string{"ssh", "ssh-keygen", "flock"} {
		Require(t, tool)
	}
	_, file, _, _ := runtime.Caller(0)
	scripts := filepath.Join(filepath.Dir(file), "..", "..", "examples", "local", "terraform", "scripts")
	lab := filepath.Join(t.TempDir(), "a lab") // host-up.sh quotes its paths
	image := filepath.Join(lab, "registry", "8025")
	if err := os.MkdirAll(filepath.Join(image, "image", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(image, "id"), []byte("8025\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.239"
	port := FreePort(t, addr)
	env := append(os.Environ(), "LAB_HOST=env-1", "LAB_ADDRESS="+addr, "LAB_PORT="+itoa(port), "LAB_DIR="+lab, "LAB_TEMPLATE=8025")
	script := func(name string) *exec.Cmd {
		cmd := exec.Command("sh", filepath.Join(scripts, name))
		cmd.Env = env
		return cmd
	}
	if out, err := script("host-up.sh").CombinedOutput(); err != nil {
		t.Fatalf("host-up.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := script("host-down.sh").CombinedOutput(); err != nil {
			t.Errorf("host-down.sh: %v\n%s", err, out)
		}
	})
	home := filepath.Join(lab, "hosts", "env-1", "home")
	marker := plantRCFiles(t, home)
	// host-up.sh does not wait for its sshd (baton's wait stage does).
	var out []byte
	var err error
	for range 600 { // 600 × (a connection attempt + 50ms): only a hang takes this long
		out, err = exec.Command("ssh", "-i", filepath.Join(lab, "client_key"), "-o", "UserKnownHostsFile='"+filepath.Join(lab, "known_hosts")+"'",
			"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-p", itoa(port), "root@"+addr, "env").Output()
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ssh to the lab host: %v", err)
	}
	checkSessionEnv(t, "host-up.sh's host", string(out), home, marker)
}
