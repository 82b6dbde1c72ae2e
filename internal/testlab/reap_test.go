package testlab

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A process that names a path under the test's directory is found and
// killed even after the directory is gone; one under a sibling directory
// whose name extends it is not.
func TestKillUnderFindsWhatNamesTheDirectory(t *testing.T) {
	parent := t.TempDir()
	dir, sibling := filepath.Join(parent, "1"), filepath.Join(parent, "10")
	start := func(path string) *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", "sleep 600", "lab-host", filepath.Join(path, "hosts", "db-1", "sshd_config"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		return cmd
	}
	mine, other := start(dir), start(sibling)
	defer other.Process.Kill()
	os.RemoveAll(dir)
	if got := Under(dir); len(got) != 1 || got[0].PID != mine.Process.Pid {
		t.Fatalf("Under = %v, want only %d", got, mine.Process.Pid)
	}
	if killed := KillUnder(dir); len(killed) != 1 {
		t.Errorf("KillUnder = %v", killed)
	}
	if got := Under(dir); len(got) != 0 {
		t.Errorf("still running after KillUnder: %v", got)
	}
	if got := Under(sibling); len(got) != 1 {
		t.Errorf("the sibling's process = %v, want it left alone", got)
	}
}

func TestListeningReadsTheKernelsListeners(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.13:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if got := Listening(Addrs(11, 4), port); len(got) != 1 || got[0] != "127.0.0.13" {
		t.Errorf("Listening = %v, want [127.0.0.13]", got)
	}
	l.Close()
	if got := Listening(Addrs(11, 4), port); len(got) != 0 {
		t.Errorf("after close: %v", got)
	}
	if got := Addrs(253, 3); got[0] != "127.0.0.253" || got[1] != "127.0.0.254" || got[2] != "127.0.1.1" {
		t.Errorf("Addrs(253, 3) = %v", got)
	}
}
