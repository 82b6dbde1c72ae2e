// Package ledgertest is the conformance suite of ledger backends: what
// every ledger.Ledger must do, run by each backend's tests with
//
//	ledgertest.Run(t, func(t *testing.T, env string) ledger.Ledger { … })
package ledgertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
)

// Opener opens a ledger of env for the test t. Ledgers opened for the
// same env within one subtest share a history and a lock, as two
// processes of one environment do; subtests are kept apart (each gets
// its own t).
type Opener func(t *testing.T, env string) ledger.Ledger

// Run checks what every Ledger must do, a subtest each.
func Run(t *testing.T, open Opener) {
	t.Run("records", func(t *testing.T) { testRecords(t, open) })
	t.Run("environments apart", func(t *testing.T) { testEnvironmentsApart(t, open) })
	t.Run("dead process is interrupted", func(t *testing.T) { testDeadProcessIsInterrupted(t, open) })
	t.Run("lock", func(t *testing.T) { testLock(t, open) })
	t.Run("cancelled", func(t *testing.T) { testCancelled(t, open) })
	t.Run("not found", func(t *testing.T) { testNotFound(t, open) })
}

func testRecords(t *testing.T, open Opener) {
	ctx := context.Background()
	l := open(t, "lab")
	t0 := time.Now().Round(time.Millisecond)
	a := &ledger.Record{RunID: "r-a", Env: "lab", Target: "deploy", Start: t0, Status: ledger.StatusRunning, PID: os.Getpid()}
	b := &ledger.Record{RunID: "r-b", Env: "lab", Target: "plan", Start: t0.Add(time.Second), Status: ledger.StatusRunning, PID: os.Getpid()}
	for _, err := range []error{l.Begin(ctx, a), l.Begin(ctx, b)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	a.Status, a.End = "succeeded", t0.Add(2*time.Second)
	a.Handoffs = map[string]ledger.Handoff{"template_id": {Display: "8025", Text: "8025"}}
	if err := l.Finish(ctx, a); err != nil {
		t.Fatal(err)
	}
	recs, problems, err := l.List(ctx)
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	if len(recs) != 2 || recs[0].RunID != "r-b" || recs[1].Status != "succeeded" || recs[1].Handoffs["template_id"].Text != "8025" {
		t.Errorf("records = %+v", recs)
	}
	if r, err := l.Get(ctx, "r-a"); err != nil || r.Duration() != 2*time.Second {
		t.Errorf("Get = %+v, %v", r, err)
	}
}

func testEnvironmentsApart(t *testing.T, open Opener) {
	ctx := context.Background()
	l1, l2 := open(t, "one"), open(t, "two")
	l1.Begin(ctx, &ledger.Record{RunID: "in-one", Env: "one", Start: time.Now(), Status: "succeeded"})
	if recs, _, _ := l2.List(ctx); len(recs) != 0 {
		t.Errorf("env two sees %v", recs)
	}
}

func testDeadProcessIsInterrupted(t *testing.T, open Opener) {
	ctx := context.Background()
	l := open(t, "lab")
	cmd := exec.Command("true")
	cmd.Run()
	host, _ := os.Hostname()
	l.Begin(ctx, &ledger.Record{RunID: "r-dead", Env: "lab", Host: host, PID: cmd.ProcessState.Pid(), Start: time.Now(), Status: ledger.StatusRunning})
	if r, err := l.Get(ctx, "r-dead"); err != nil || r.Status != ledger.StatusInterrupted {
		t.Errorf("dead run = %+v, %v; want interrupted", r, err)
	}
}

func testLock(t *testing.T, open Opener) {
	ctx := context.Background()
	l := open(t, "lab")
	other := open(t, "lab")
	unlock, err := l.Lock(ctx, "lab", ledger.Holder{RunID: "first", User: "ann", Host: "box", PID: 42, Target: "deploy", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Lock(ctx, "lab", ledger.Holder{RunID: "second"})
	var le *ledger.LockedError
	if !errors.As(err, &le) || le.Holder.RunID != "first" || !strings.Contains(err.Error(), "deploy by ann@box") {
		t.Fatalf("second lock: %v, want who holds it", err)
	}
	if u, err := other.Lock(ctx, "elsewhere", ledger.Holder{RunID: "x"}); err != nil {
		t.Errorf("another environment's lock: %v", err)
	} else {
		u()
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	u, err := other.Lock(ctx, "lab", ledger.Holder{RunID: "third"})
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	u()
}

func testCancelled(t *testing.T, open Opener) {
	ctx := context.Background()
	l := open(t, "lab")
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Begin(done, &ledger.Record{RunID: "r-never", Env: "lab", Start: time.Now(), Status: ledger.StatusRunning}); !errors.Is(err, context.Canceled) {
		t.Errorf("Begin with a cancelled context = %v, want context.Canceled", err)
	}
	if _, _, err := l.List(done); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := l.Lock(done, "lab", ledger.Holder{RunID: "r-never"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context = %v, want context.Canceled", err)
	}
	if recs, _, err := l.List(ctx); err != nil || len(recs) != 0 {
		t.Errorf("after cancelled calls: %v, %v; want no runs", recs, err)
	}
}

func testNotFound(t *testing.T, open Opener) {
	ctx := context.Background()
	l := open(t, "lab")
	for _, id := range []string{"r-1111", "r-1112"} {
		if err := l.Begin(ctx, &ledger.Record{RunID: id, Env: "lab", Start: time.Now(), Status: "succeeded"}); err != nil {
			t.Fatal(err)
		}
	}
	var nf *ledger.NotFoundError
	if _, err := l.Get(ctx, "nope"); !errors.As(err, &nf) || nf.RunID != "nope" {
		t.Errorf("Get(nope) = %v, want a *NotFoundError", err)
	}
	if _, err := l.Get(ctx, "r-111"); !errors.As(err, &nf) || nf.Matches != 2 || !strings.Contains(err.Error(), "matches 2 runs") {
		t.Errorf("Get(r-111) = %v, want it to match 2 runs", err)
	}
	if r, err := l.Get(ctx, "r-1112"); err != nil || r.RunID != "r-1112" {
		t.Errorf("Get(r-1112) = %v, %v", r, err)
	}
}
