package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/proc/proctest"
)

// runAsync runs cmd in the background; the returned function waits (up to
// a minute) for Run's result.
func runAsync(t *testing.T, ctx context.Context, cmd *exec.Cmd, o Options) (result func() error, exited <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	var err error
	go func() { err = Run(ctx, cmd, o); close(done) }()
	return func() error {
		t.Helper()
		select {
		case <-done:
			return err
		case <-time.After(time.Minute):
			t.Fatal("Run did not return within a minute")
			return nil
		}
	}, done
}

// A program that ignores SIGINT, and its children, are killed once the
// grace is over.
func TestRunKillsAProgramThatIgnoresSIGINT(t *testing.T) {
	dir := t.TempDir()
	script := `trap "" INT
` + proctest.FamilyScript
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stops atomic.Int32
	result, exited := runAsync(t, ctx, exec.Command("sh", "-c", script, "sh", dir), Options{
		Grace:  100 * time.Millisecond,
		OnStop: func(time.Duration) { stops.Add(1) },
	})
	pids := proctest.ReadPIDs(t, dir, exited, "child.pid", "grandchild.pid")
	cancel()
	err := result()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.ExitCode != -1 {
		t.Fatalf("err = %#v, want an *Error with exit code -1", err)
	}
	if got := stops.Load(); got != 1 {
		t.Errorf("OnStop called %d times, want 1", got)
	}
	proctest.RequireGone(t, []string{"child", "grandchild"}, pids)
}

// A program that stops on SIGINT is given the time it needs (the grace is
// a minute here), and what it leaves in its group is killed after it.
func TestRunSendsSIGINTFirst(t *testing.T) {
	dir := t.TempDir()
	// The grandchild does not hold the output pipes, or Wait would wait
	// for them until the grace is over.
	script := `trap 'echo stopping >&2; exit 3' INT
sleep 3600 >/dev/null 2>&1 & echo $! > "$1/grandchild.pid.tmp" && mv "$1/grandchild.pid.tmp" "$1/grandchild.pid"
echo $$ > "$1/child.pid.tmp" && mv "$1/child.pid.tmp" "$1/child.pid"
wait`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result, exited := runAsync(t, ctx, exec.Command("sh", "-c", script, "sh", dir), Options{Grace: time.Minute})
	pids := proctest.ReadPIDs(t, dir, exited, "child.pid", "grandchild.pid")
	cancel()
	err := result()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if e.ExitCode != 3 || !errors.Is(err, context.Canceled) || !strings.Contains(e.Stderr, "stopping") {
		t.Errorf("got exit %d, err %v, stderr %q; want 3, context.Canceled, \"stopping\"", e.ExitCode, e.Err, e.Stderr)
	}
	// The grandchild (a background job of a non-interactive shell) ignores
	// SIGINT: only the kill after the program's exit ends it.
	proctest.RequireGone(t, []string{"child", "grandchild"}, pids)
}

// With LeaderOnly, SIGINT reaches the program (a wrapper) and not the
// tool it started, which the wrapper is trusted to tell.
func TestRunLeaderOnly(t *testing.T) {
	dir := t.TempDir()
	// The "tool" writes a file if it ever gets SIGINT.
	tool := `trap 'echo > "$1/tool-got-int"; exit 5' INT; echo $$ > "$1/child.pid.tmp" && mv "$1/child.pid.tmp" "$1/child.pid"; while :; do sleep 0.05; done`
	wrapper := `trap 'kill -TERM $pid; wait $pid; exit 4' INT; sh -c '` + strings.ReplaceAll(tool, "'", `'\''`) + `' sh "$1" & pid=$!; wait $pid`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result, exited := runAsync(t, ctx, exec.Command("sh", "-c", wrapper, "sh", dir), Options{Grace: time.Minute, LeaderOnly: true})
	pids := proctest.ReadPIDs(t, dir, exited, "child.pid")
	cancel()
	err := result()
	var e *Error
	if !errors.As(err, &e) || e.ExitCode != 4 {
		t.Fatalf("err = %#v, want the wrapper's exit 4", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tool-got-int")); err == nil {
		t.Error("the tool got SIGINT although only the wrapper was to")
	}
	proctest.RequireGone(t, []string{"tool"}, pids)
}

func TestRunStderrTail(t *testing.T) {
	script := `i=0; while [ $i -lt 100 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 7`
	err := Run(context.Background(), exec.Command("sh", "-c", script), Options{Tail: 64})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if e.ExitCode != 7 {
		t.Errorf("exit code = %d, want 7", e.ExitCode)
	}
	if !strings.HasPrefix(e.Stderr, "…line ") || !strings.HasSuffix(e.Stderr, "line 99\n") || len(e.Stderr) > 64+len("…") {
		t.Errorf("stderr = %q, want the last lines of at most 64 bytes, starting with …", e.Stderr)
	}
}

func TestRunSuccessAndCancelledBeforeStart(t *testing.T) {
	var out Buffer
	cmd := exec.Command("sh", "-c", "echo out; echo err >&2")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := Run(context.Background(), cmd, Options{}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := out.String(); got != "out\nerr\n" && got != "err\nout\n" {
		t.Errorf("output = %q, want both lines", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	cmd = exec.Command("sh", "-c", `echo > "$1/ran"`, "sh", dir)
	if err := Run(ctx, cmd, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("a cancelled Run started the program")
	}
}

func TestOutputLimit(t *testing.T) {
	out, err := Output(context.Background(), exec.Command("echo", "hello"), 0, Options{})
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("Output = %q, %v; want \"hello\\n\", nil", out, err)
	}
	_, err = Output(context.Background(), exec.Command("sh", "-c", "head -c 100000 /dev/zero"), 1000, Options{})
	if err == nil {
		t.Fatal("Output of 100000 bytes with a limit of 1000 succeeded")
	}
}
