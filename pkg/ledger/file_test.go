package ledger

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var ctx = context.Background()

// The test binary doubles as a process that begins a run or takes the
// lock and is then killed with SIGKILL, like a deploy killed mid-way.
func TestMain(m *testing.M) {
	switch os.Getenv("LEDGER_HELPER") {
	case "begin-and-die":
		f, _ := Open(os.Getenv("LEDGER_DIR"))
		host, _ := os.Hostname()
		_ = f.Begin(ctx, &Record{RunID: "run-killed", Env: "lab", Host: host, PID: os.Getpid(), Start: time.Now(), Status: StatusRunning})
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case "lock-and-die":
		f, _ := Open(os.Getenv("LEDGER_DIR"))
		if _, err := f.Lock(ctx, "lab", Holder{RunID: "run-dead", PID: os.Getpid()}); err != nil {
			os.Exit(3)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	os.Exit(m.Run())
}

func helper(t *testing.T, mode, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LEDGER_HELPER="+mode, "LEDGER_DIR="+dir)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper %s: %v, want it killed by SIGKILL", mode, err)
	}
}

func TestBeginFinishList(t *testing.T) {
	f, _ := Open(t.TempDir())
	t0 := time.Now()
	a := &Record{RunID: "a", Env: "lab", Start: t0, Status: StatusRunning, PID: os.Getpid()}
	b := &Record{RunID: "b", Env: "lab", Start: t0.Add(time.Second), Status: StatusRunning, PID: os.Getpid()}
	for _, step := range []func() error{
		func() error { return f.Begin(ctx, a) }, func() error { return f.Begin(ctx, b) },
		func() error { a.Status, a.End = "succeeded", t0.Add(2*time.Second); return f.Finish(ctx, a) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	recs, problems, err := f.List(ctx)
	if err != nil || len(problems) != 0 {
		t.Fatal(err, problems)
	}
	if len(recs) != 2 || recs[0].RunID != "b" || recs[0].Status != StatusRunning || recs[1].Status != "succeeded" {
		t.Errorf("records = %+v", recs)
	}
	if fi, _ := os.Stat(f.path()); fi.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode %v, want 0600", fi.Mode())
	}
	if r, err := f.Get(ctx, "a"); err != nil || r.Duration() != 2*time.Second {
		t.Errorf("Get(a) = %+v, %v", r, err)
	}
	if _, err := f.Get(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "history") || !strings.Contains(err.Error(), "runs.jsonl") {
		t.Errorf("Get(nope) = %v", err)
	}
}

func TestKilledRunReadsBackAsInterrupted(t *testing.T) {
	dir := t.TempDir()
	helper(t, "begin-and-die", dir)
	f, _ := Open(dir)
	r, err := f.Get(ctx, "run-killed")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusInterrupted || !strings.Contains(r.Error, "ended before") {
		t.Errorf("killed run = %s %q, want interrupted", r.Status, r.Error)
	}
}

func TestTornAndEditedLinesAreReported(t *testing.T) {
	f, _ := Open(t.TempDir())
	f.Begin(ctx, &Record{RunID: "one", Start: time.Now(), Status: "succeeded"})
	data, _ := os.ReadFile(f.path())
	// Edit a value without fixing the checksum, then tear a write.
	edited := strings.Replace(string(data), `"succeeded"`, `"failed"`, 1)
	torn := edited + string(data[:len(data)/2])
	os.WriteFile(f.path(), []byte(torn), 0o600)
	// A write after the torn one is kept whole.
	if err := f.Begin(ctx, &Record{RunID: "two", Start: time.Now(), Status: "succeeded"}); err != nil {
		t.Fatal(err)
	}
	recs, problems, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].RunID != "two" {
		t.Errorf("records = %v, want only the intact run", recs)
	}
	if len(problems) != 2 || !strings.Contains(problems[0].What, "checksum") || problems[0].Line != 1 || !strings.Contains(problems[1].Error(), filepath.Base(f.path())+":2") {
		t.Errorf("problems = %v, want the edited line 1 and the torn line 2", problems)
	}
	// A torn last line with nothing after it is reported as torn.
	os.WriteFile(f.path(), data[:len(data)-5], 0o600)
	if _, problems, _ = f.List(ctx); len(problems) != 1 || !strings.Contains(problems[0].What, "torn") {
		t.Errorf("problems = %v, want a torn write", problems)
	}
}

func TestLockIsExclusiveAndDiesWithItsHolder(t *testing.T) {
	dir := t.TempDir()
	f, _ := Open(dir)
	unlock, err := f.Lock(ctx, "lab", Holder{RunID: "first", User: "ann", Host: "box", PID: 42, Target: "deploy", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Lock(ctx, "lab", Holder{RunID: "second"})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.RunID != "first" || !strings.Contains(err.Error(), "deploy by ann@box") {
		t.Fatalf("second lock: %v, want who holds it", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if unlock, err = f.Lock(ctx, "lab", Holder{RunID: "third"}); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock()

	// A holder killed with SIGKILL leaves no lock behind.
	helper(t, "lock-and-die", dir)
	unlock, err = f.Lock(ctx, "lab", Holder{RunID: "after-death"})
	if err != nil {
		t.Fatalf("lock after its holder died: %v", err)
	}
	unlock()
}

// TestInterruptedDurationStops: an interrupted run's duration does not
// keep growing with the clock, as a running one's does.
func TestInterruptedDurationStops(t *testing.T) {
	start := time.Now().Add(-time.Hour)
	if d := (&Record{Start: start, Status: StatusInterrupted}).Duration(); d != 0 {
		t.Errorf("interrupted run lasts %v, want 0 (unknown)", d)
	}
	if d := (&Record{Start: start, Status: StatusRunning}).Duration(); d < time.Hour {
		t.Errorf("running run lasts %v, want at least an hour", d)
	}
}
