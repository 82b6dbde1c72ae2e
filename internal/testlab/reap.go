package testlab

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A deploy cancelled during its apply can start hosts that Terraform's
// state never records, so neither `destroy` nor the test's own cleanup
// finds them; the test's directory is removed and the sshd keeps
// listening. Every test that starts hosts calls Reap on its directory:
// whatever still runs from that directory when the test ends is killed,
// found by the paths on its command line (a lab host's sshd names its
// sshd_config under the directory), which stay there after the directory
// is gone.

// Proc is a running process.
type Proc struct {
	PID, PPID int
	Cmdline   string // arguments joined by spaces
}

func (p Proc) String() string { return fmt.Sprintf("%d (%s)", p.PID, p.Cmdline) }

// Procs lists the processes of the machine (zombies left out), read from
// /proc; a process that ends while it is read is left out.
func Procs() []Proc {
	ents, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProc(pid)
		if ok {
			out = append(out, p)
		}
	}
	return out
}

func readProc(pid int) (Proc, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Proc{}, false
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Proc{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
		return Proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return Proc{}, false
	}
	return Proc{PID: pid, PPID: ppid, Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))}, true
}

// Environ is pid's environment, or nil when it cannot be read.
func Environ(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

// Under lists the processes whose command line names a path inside dir
// (dir itself excluded, so that /tmp/x/1 does not match /tmp/x/10).
func Under(dir string) []Proc {
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	self := os.Getpid()
	var out []Proc
	for _, p := range Procs() {
		if p.PID != self && strings.Contains(p.Cmdline, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// KillUnder kills (SIGKILL) every process Under(dir) and waits, up to 10
// seconds, until they are gone; it returns what it killed.
func KillUnder(dir string) []Proc {
	procs := Under(dir)
	for _, p := range procs {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range procs {
		for time.Now().Before(deadline) {
			if _, alive := readProc(p.PID); !alive {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return procs
}

// Listening lists which of addrs (IPv4 literals) have a TCP listener on
// port, as /proc/net/tcp says; a listener on 0.0.0.0 counts for all.
func Listening(addrs []string, port int) []string {
	data, _ := os.ReadFile("/proc/net/tcp")
	want := map[string]string{}
	for _, a := range addrs {
		var b [4]int
		if n, _ := fmt.Sscanf(a, "%d.%d.%d.%d", &b[0], &b[1], &b[2], &b[3]); n == 4 {
			want[fmt.Sprintf("%02X%02X%02X%02X:%04X", b[3], b[2], b[1], b[0], port)] = a
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		if a, ok := want[f[1]]; ok && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
		if f[1] == fmt.Sprintf("00000000:%04X", port) && !seen["0.0.0.0"] {
			seen["0.0.0.0"] = true
			out = append(out, "0.0.0.0")
		}
	}
	return out
}

// Reap makes sure the test leaves nothing of its lab running: when the
// test ends — after the cleanups registered after Reap, such as a
// destroy — every process whose command line names a path under dir is
// killed (and logged: a destroy should have stopped it), and the test
// fails if anything still listens on port at addrs. Call it before the
// test starts any host, so that it runs last.
func Reap(t testing.TB, dir string, addrs []string, port int) {
	t.Helper()
	t.Cleanup(func() {
		if killed := KillUnder(dir); len(killed) > 0 {
			t.Logf("testlab: killed %d processes the test left running under %s: %v", len(killed), dir, killed)
		}
		if len(addrs) > 0 && port > 0 {
			if up := Listening(addrs, port); len(up) > 0 {
				t.Errorf("testlab: still listening on port %d after the test: %v", port, up)
			}
		}
	})
}

// Addrs are the n lab addresses from 127.0.0.base on, as the lab's
// Terraform numbers them (skipping .0 and .255).
func Addrs(base, n int) []string {
	out := make([]string, n)
	for i := range out {
		k := base - 1 + i
		out[i] = fmt.Sprintf("127.0.%d.%d", k/254, k%254+1)
	}
	return out
}
