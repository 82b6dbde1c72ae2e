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
	if err := closeWithin(t, n, 10*time.Second); err != nil {
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

func TestCommandKilledOnTimeout(t *testing.T) {
	cmd, dir := helperCommand(t, "hang")
	opts := fastOptions(cmd)
	opts.Timeout = 300 * time.Millisecond
	n := New(opts)
	n.Send(testEvent())
	err := closeWithin(t, n, 10*time.Second)
	var cerr *CommandError
	if !errors.As(err, &cerr) || cerr.ExitCode != -1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a CommandError for a killed command", err)
	}
	if got, want := runs(t, dir), 1; got != want {
		t.Errorf("ran %d times, want %d: a hanging command is not retried", got, want)
	}
	pid, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(string(pid))
	if err := syscall.Kill(p, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d: got %v, want it gone", p, err)
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
			err := closeWithin(t, n, 10*time.Second)
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

func TestTailBufferKeepsTheEnd(t *testing.T) {
	var b tailBuffer
	b.Write([]byte(strings.Repeat("a", stderrTail)))
	b.Write([]byte("the end"))
	if got := b.String(); len(got) != stderrTail || !strings.HasSuffix(got, "the end") {
		t.Errorf("got %d bytes ending %q, want %d ending in the end", len(got), got[len(got)-10:], stderrTail)
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
