// Package proctest helps tests prove that no process outlives the one that
// started it.
package proctest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FamilyScript is a shell script for `sh -c` that starts a grandchild
// (sleep) in the background, writes its PID to $1/grandchild.pid and its
// own to $1/child.pid, and waits.
const FamilyScript = `sleep 3600 & echo $! > "$1/grandchild.pid.tmp" && mv "$1/grandchild.pid.tmp" "$1/grandchild.pid"
echo $$ > "$1/child.pid.tmp" && mv "$1/child.pid.tmp" "$1/child.pid"
wait`

// Alive reports whether pid is a process that has not exited (a zombie has
// exited).
func Alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) STATE …; comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// ReadPIDs waits (up to a minute) until each named file in dir holds a PID,
// and returns them, or stops the test when one does not appear or exited
// is closed first.
func ReadPIDs(t testing.TB, dir string, exited <-chan struct{}, names ...string) []int {
	t.Helper()
	pids := make([]int, len(names))
	deadline := time.Now().Add(time.Minute)
	for i, name := range names {
		for {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				pids[i] = pid
				break
			}
			select {
			case <-exited:
				t.Fatalf("the process exited before %s was written", name)
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s was not written within a minute", name)
			}
		}
	}
	return pids
}

// RequireGone fails the test unless every pid has exited within 30 seconds
// (checked up to 3000 times), and kills those that did not.
func RequireGone(t testing.TB, what []string, pids []int) {
	t.Helper()
	for try := 0; try < 3000; try++ {
		alive := false
		for _, pid := range pids {
			alive = alive || Alive(pid)
		}
		if !alive {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, pid := range pids {
		if Alive(pid) {
			t.Errorf("the %s (pid %d) is still running", what[i], pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
