package notify

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/proc/proctest"
)

// runs returns how many times the helper ran with dir.
func runs(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "count"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return len(data)
}

func TestCommandGetsEventOnStdinAndInEnv(t *testing.T) {
	t.Setenv("BATON_NOTIFY_SLACK_URL", "https://hooks.slack.com/services/"+fakeToken)
	cmd, dir := helperCommand(t, "record")
	n := New(fastOptions(cmd))
	ev := testEvent()
	n.Send(ev)
	if err := closeWithin(t, n, time.Minute); err != nil {
		t.Fatal(err)
	}
	stdin, err := os.ReadFile(filepath.Join(dir, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(ev)
	if got := strings.TrimSuffix(string(stdin), "\n"); got != string(want) {
		t.Errorf("stdin: got\n%s\nwant\n%s", got, want)
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(string(env), "\n")
	for _, want := range ev.environ() {
		if !slices.Contains(vars, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	if strings.Contains(string(env), fakeToken) {
		t.Error("the command inherited BATON_NOTIFY_SLACK_URL")
	}
	if !slices.Contains(vars, "PATH="+os.Getenv("PATH")) {
		t.Error("the command did not inherit PATH")
	}
}

// expiring is a context that ends with DeadlineExceeded when the test
// says so, not when a clock does: a timeout that cannot fire before the
// program has started, however slow the machine.
type expiring struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) expire()               { e.once.Do(func() { close(e.done) }) }
func (e *expiring) Done() <-chan struct{} { return e.done }
func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// waitFile waits, a bounded number of times, until path is not empty.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	for range 3000 { // 3000 × 20ms: only a hang takes this long
		if data, _ := os.ReadFile(path); len(data) > 0 {
			return data
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s is still empty after a minute", path)
	return nil
}

// A command still running when its attempt's time is up is killed, with
// everything in its process group: proved on a program known to be
// running (it wrote its PID) when the deadline comes.
func TestCommandKilledWhenItsTimeIsUp(t *testing.T) {
	cmd, dir := helperCommand(t, "hang")
	ctx := newExpiring()
	done := make(chan error, 1)
	go func() { done <- cmd.Deliver(ctx, testEvent()) }()
	pid, _ := strconv.Atoi(string(waitFile(t, filepath.Join(dir, "pid"))))
	ctx.expire()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Deliver has not returned a minute after its context ended")
	}
	var cerr *CommandError
	if !errors.As(err, &cerr) || cerr.ExitCode != -1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a CommandError for a killed command", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d: got %v, want it gone", pid, err)
	}
}

// attempts counts a channel's attempts, on the caller's side: an attempt
// counts even when its time was up before the program could start.
type attempts struct {
	Channel
	n atomic.Int32
}

func (a *attempts) Deliver(ctx context.Context, ev Event) error {
	a.n.Add(1)
	return a.Channel.Deliver(ctx, ev)
}

// A command that outlives its attempt is not run again: a timeout is not
// a temporary failure of the program's own saying (ExitTempFail).
func TestCommandTimedOutIsNotRetried(t *testing.T) {
	cmd, _ := helperCommand(t, "hang")
	ch := &attempts{Channel: cmd}
	opts := fastOptions(ch)
	opts.Timeout = 50 * time.Millisecond // fires before or after the program starts: either way
	n := New(opts)
	n.Send(testEvent())
	err := closeWithin(t, n, time.Minute)
	var cerr *CommandError
	if !errors.As(err, &cerr) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a CommandError for a command whose time was up", err)
	}
	if got, want := ch.n.Load(), int32(1); got != want {
		t.Errorf("%d attempts, want %d: a hanging command is not retried", got, want)
	}
}

func TestCommandExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
		runs int
	}{
		{"failure is final", 3, 1},
		{"EX_TEMPFAIL is retried", ExitTempFail, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, dir := helperCommand(t, "fail", strconv.Itoa(tc.code))
			n := New(fastOptions(cmd))
			n.Send(testEvent())
			err := closeWithin(t, n, time.Minute)
			var cerr *CommandError
			if !errors.As(err, &cerr) || cerr.ExitCode != tc.code || cerr.Stderr != "oops" {
				t.Fatalf("got %v, want a CommandError with exit status %d and stderr oops", err, tc.code)
			}
			if got, want := cerr.Error(), "command "+filepath.Base(cmd.Argv[0])+": exit status "+strconv.Itoa(tc.code)+": oops"; got != want {
				t.Errorf("got %q, want %q: the arguments are not shown", got, want)
			}
			if got := runs(t, dir); got != tc.runs {
				t.Errorf("ran %d times, want %d", got, tc.runs)
			}
		})
	}
}

func TestCommandWithoutArgv(t *testing.T) {
	if err := (&Command{}).Deliver(context.Background(), testEvent()); err == nil {
		t.Error("got nil, want an error for an empty Argv")
	}
}

// kill -9 of baton while a notification command runs must end the command
// and what it started.
func TestCommandDiesWithBaton(t *testing.T) {
	dir := t.TempDir()
	baton := exec.Command(os.Args[0], "-test.run=^TestHelperDeliverer$", "-test.count=1")
	baton.Env = append(os.Environ(), "BATON_NOTIFY_HELPER_DIR="+dir)
	if err := baton.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = baton.Wait(); close(exited) }()
	pids := proctest.ReadPIDs(t, dir, exited, "child.pid", "grandchild.pid")
	if err := baton.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	proctest.RequireGone(t, []string{"command", "command's child"}, pids)
}

// TestHelperDeliverer is not a test: run by TestCommandDiesWithBaton as a
// separate process (baton), it delivers to a command whose child has a
// child, and waits to be killed.
func TestHelperDeliverer(t *testing.T) {
	dir := os.Getenv("BATON_NOTIFY_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process")
	}
	c := &Command{Argv: []string{"sh", "-c", proctest.FamilyScript, "sh", dir}}
	_ = c.Deliver(context.Background(), Event{})
}
