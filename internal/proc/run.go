package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultGrace is how long a program has to stop after SIGINT before its
// process group is killed. It is shorter than the 5 seconds Mage gives a
// target after Ctrl-C, so the program is stopped (and any lock it holds
// released) before Mage exits.
const DefaultGrace = 4 * time.Second

// DefaultTail is how much of a program's standard error an *Error keeps.
const DefaultTail = 4 << 10

// Options says how Run stops a program and what it keeps of it. The zero
// Options sends SIGINT to the program's whole process group when ctx
// ends, SIGKILL after DefaultGrace, and keeps DefaultTail bytes of
// standard error.
type Options struct {
	// Grace is how long the program may take to stop after SIGINT; 0 means
	// DefaultGrace.
	Grace time.Duration
	// LeaderOnly sends SIGINT to the program alone instead of its process
	// group: for a wrapper (doppler run, op run) that passes it on to the
	// tool, so that the tool gets one signal, not two. SIGKILL, after the
	// grace, always goes to the whole group.
	LeaderOnly bool
	// OnStop, when set, is called once, from another goroutine, when ctx
	// ends before the program does, right after SIGINT was sent.
	OnStop func(grace time.Duration)
	// Tail is how many bytes of standard error an *Error keeps; 0 means
	// DefaultTail.
	Tail int
}

func (o Options) grace() time.Duration {
	if o.Grace <= 0 {
		return DefaultGrace
	}
	return o.Grace
}

// Error is a run that failed or was stopped.
type Error struct {
	// ExitCode is the program's exit status; -1 when it did not start,
	// was ended by a signal or was stopped.
	ExitCode int
	// Stderr is the end of its standard error (starting with "…" at a
	// line boundary when cut).
	Stderr string
	// Err is the cause: the start error, an *exec.ExitError, or ctx's
	// error when it was stopped because ctx ended.
	Err error
}

// Error gives the cause; callers add the program's name and Stderr as
// they see fit (arguments may hold secrets).
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Run starts cmd with Start (its own process group, tied to this
// process's life), waits for it and, when ctx ends first, stops it: SIGINT
// to its process group (to it alone with LeaderOnly), SIGKILL to the group
// after the grace, and SIGKILL to what is left of the group once it has
// exited. cmd.WaitDelay, when 0, is set to the grace plus a second, so a
// grandchild that keeps the output pipes open cannot hang Run. Standard
// error is also kept in a Tail (when cmd.Stdout is the same writer as
// cmd.Stderr, both go through it, so that one writer is still written by
// one goroutine). cmd must not have been started.
//
// Run returns nil when the program exits 0 without having been asked to
// stop, and an *Error otherwise; errors.Is(err, context.Canceled) holds
// when ctx was cancelled, even when the program then exited 0.
func Run(ctx context.Context, cmd *exec.Cmd, o Options) error {
	grace := o.grace()
	size := o.Tail
	if size <= 0 {
		size = DefaultTail
	}
	tail := NewTail(size)
	attachTail(cmd, tail)
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = grace + time.Second
	}
	if err := ctx.Err(); err != nil {
		return &Error{ExitCode: -1, Err: err}
	}
	p, err := Start(cmd)
	if err != nil {
		return &Error{ExitCode: -1, Err: err}
	}
	asked, wait := stopOnDone(ctx, cmd.Process.Pid, grace, o)
	err = p.Wait()
	wait()
	if asked.Load() {
		// Whatever the program left running in its group goes too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err == nil && !asked.Load() {
		return nil
	}
	e := &Error{ExitCode: -1, Stderr: tail.String(), Err: err}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		e.ExitCode = exit.ExitCode()
	}
	if asked.Load() || ctx.Err() != nil {
		// It stopped because it was asked to (or exited 0 after SIGINT,
		// as Packer does): say so, and keep errors.Is(err,
		// context.Canceled) true.
		e.Err = ctx.Err()
	}
	return e
}

// stopOnDone stops the program whose process group is pid when ctx ends
// before the returned wait is called. asked reports whether it was told to
// stop; wait, called once the program has exited, ends the watch.
func stopOnDone(ctx context.Context, pid int, grace time.Duration, o Options) (asked *atomic.Bool, wait func()) {
	asked = new(atomic.Bool)
	exited := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		asked.Store(true)
		target := -pid
		if o.LeaderOnly {
			target = pid
		}
		_ = syscall.Kill(target, syscall.SIGINT)
		if o.OnStop != nil {
			o.OnStop(grace)
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}()
	return asked, func() { close(exited); wg.Wait() }
}

// attachTail sends cmd's standard error to tail too.
func attachTail(cmd *exec.Cmd, tail *Tail) {
	if cmd.Stderr == nil {
		cmd.Stderr = tail
		return
	}
	w := io.MultiWriter(cmd.Stderr, tail)
	if same(cmd.Stdout, cmd.Stderr) {
		cmd.Stdout = w
	}
	cmd.Stderr = w
}

// same reports whether a and b are the same writer, without panicking on
// writers that cannot be compared.
func same(a, b io.Writer) bool {
	if a == nil || b == nil {
		return false
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// Output runs cmd as Run does and returns its standard output, which is
// kept whole (up to max bytes when max > 0; more fails the run).
func Output(ctx context.Context, cmd *exec.Cmd, max int, o Options) ([]byte, error) {
	var out Buffer
	var w io.Writer = &out
	if max > 0 {
		w = &limitWriter{w: &out, n: max, max: max}
	}
	cmd.Stdout = w
	err := Run(ctx, cmd, o)
	return out.Bytes(), err
}

// limitWriter passes on at most n bytes and fails after, so that a
// runaway program cannot exhaust memory.
type limitWriter struct {
	w      io.Writer
	n, max int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, fmt.Errorf("more than %d bytes of output", l.max)
	}
	l.n -= len(p)
	return l.w.Write(p)
}
