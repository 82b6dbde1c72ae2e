package proc

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/proc/proctest"
)

// TestHelperStarter is not a test: run by TestNothingOutlivesAKilledParent
// as a separate process, it starts a tool whose child has a child, and
// waits to be killed.
func TestHelperStarter(t *testing.T) {
	dir := os.Getenv("BATON_PROC_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process")
	}
	p, err := Start(exec.Command("sh", "-c", proctest.FamilyScript, "sh", dir))
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Wait()
}

func TestNothingOutlivesAKilledParent(t *testing.T) {
	for i := range 3 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			dir := t.TempDir()
			helper := exec.Command(os.Args[0], "-test.run=^TestHelperStarter$", "-test.count=1")
			helper.Env = append(os.Environ(), "BATON_PROC_HELPER_DIR="+dir)
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { _ = helper.Wait(); close(exited) }()
			pids := proctest.ReadPIDs(t, dir, exited, "child.pid", "grandchild.pid")
			if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			proctest.RequireGone(t, []string{"child", "grandchild"}, pids)
		})
	}
}

// A tool must not be killed when the thread that started it ends: here the
// caller's own locked thread ends right after Start.
func TestToolSurvivesTheEndOfTheCallersThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	type started struct {
		p     *Process
		tid   int
		stdin *os.File
		err   error
	}
	ch := make(chan started, 1)
	start := func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if syscall.Gettid() == os.Getpid() {
			// The runtime never ends the main thread; try another.
			ch <- started{tid: -1}
			return
		}
		r, w, err := os.Pipe()
		if err != nil {
			ch <- started{err: err}
			return
		}
		cmd := exec.Command("sh", "-c", "read -r line; echo got $line")
		cmd.Stdin = r
		var out bytes.Buffer
		cmd.Stdout = &out
		p, err := Start(cmd)
		r.Close()
		ch <- started{p: p, tid: syscall.Gettid(), stdin: w, err: err}
	}
	go start()
	s := <-ch
	for try := 0; s.tid == -1 && try < 10; try++ {
		go start()
		s = <-ch
	}
	if s.tid == -1 {
		t.Fatal("every goroutine ran on the main thread")
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	// The kernel would have sent the signal once the thread is gone.
	task := filepath.Join("/proc/self/task", strconv.Itoa(s.tid))
	for try := 0; ; try++ {
		if _, err := os.Stat(task); errors.Is(err, os.ErrNotExist) {
			break
		}
		if try == 3000 {
			t.Fatal("the locked thread did not end within 30 seconds")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.stdin.WriteString("hello\n"); err != nil {
		t.Fatalf("write to the tool: %v (it was killed with the thread that started it)", err)
	}
	s.stdin.Close()
	if err := s.p.Wait(); err != nil {
		t.Fatalf("tool: %v, want it to run to its end", err)
	}
}

func TestStartFailureLeavesNoSupervisor(t *testing.T) {
	_, err := Start(exec.Command(filepath.Join(t.TempDir(), "missing")))
	if err == nil {
		t.Fatal("Start of a missing program succeeded")
	}
}

func TestSupervisorLeavesTheGroupAloneAfterANormalEnd(t *testing.T) {
	dir := t.TempDir()
	// The child exits at once and leaves its grandchild in the group.
	p, err := Start(exec.Command("sh", "-c", `sleep 3600 & echo $! > "$1/grandchild.pid"`, "sh", dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	pids := proctest.ReadPIDs(t, dir, nil, "grandchild.pid")
	defer syscall.Kill(pids[0], syscall.SIGKILL)
	// Wait has reaped the supervisor, so whatever it did is done.
	if !proctest.Alive(pids[0]) {
		t.Error("the supervisor killed the group of a tool that ended normally")
	}
}
