package deploy

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// syncBuffer is a bytes.Buffer that a run's goroutines may share.
type syncBuffer = proc.Buffer

// lab opens the local lab's pipeline file over a fresh root, with env as
// the whole environment (and PATH), its store unwritable so that no tool
// ever starts.
func lab(t *testing.T, env map[string]string) (*Project, *syncBuffer) {
	t.Helper()
	file, _ := filepath.Abs("../../examples/local")
	environ := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	out := &syncBuffer{}
	p, err := Open(Options{Root: t.TempDir(), File: file, Stdout: out,
		Getenv: func(k string) string { return env[k] }, Environ: func() []string { return environ }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.storeWritable = func(string) error { return errors.New("read-only file system") }
	return p, out
}

func TestWritable(t *testing.T) {
	if err := writable(filepath.Join(t.TempDir(), "gone")); err == nil {
		t.Fatal("writable: a missing directory counted as writable")
	}
	if err := writable(t.TempDir()); err != nil {
		t.Fatalf("writable: %v", err)
	}
}

// TestUnwritableStoreStopsBeforeAnyStage: a deploy whose handoff store
// cannot be written fails before any tool starts, and is recorded.
func TestUnwritableStoreStopsBeforeAnyStage(t *testing.T) {
	p, out := lab(t, nil)
	ctx := context.Background()
	_, err := p.Run(ctx, Job{Target: "deploy", Mode: pipeline.ModeRun})
	if err == nil || !strings.Contains(err.Error(), "handoff store cannot be written") || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("deploy with an unwritable store: %v\n%s", err, out)
	}
	if strings.Contains(out.String(), "packer.image") {
		t.Errorf("a stage started:\n%s", out)
	}
	led, _ := p.Ledger()
	recs, _, _ := led.List(ctx)
	if len(recs) != 1 || recs[0].Status != "failed" || recs[0].Target != "deploy" || recs[0].Trigger != "cli" {
		t.Errorf("records %+v, want the failed deploy", recs)
	}
}

// TestLockedEnvironment: a run that changes things fails at once while
// another holds the environment, and names the holder.
func TestLockedEnvironment(t *testing.T) {
	p, _ := lab(t, map[string]string{"BATON_TRIGGER": "cron"})
	ctx := context.Background()
	led, err := p.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := led.Lock(ctx, p.Env, ledger.Holder{RunID: "other-run", User: "ann", Host: "elsewhere", Target: "deploy", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(ctx, Job{Target: "deploy", Mode: pipeline.ModeRun})
	if le, ok := errors.AsType[*ledger.LockedError](err); !ok || le.Holder.RunID != "other-run" {
		t.Fatalf("deploy while locked: %v, want a *ledger.LockedError naming other-run", err)
	}
	if recs, _, _ := led.List(ctx); len(recs) != 0 {
		t.Errorf("a locked-out run was recorded: %+v", recs)
	}
	unlock()
	_, err = p.Run(ctx, Job{Target: "deploy", Mode: pipeline.ModeRun, RunID: "r-after"})
	if _, ok := errors.AsType[*ledger.LockedError](err); ok || err == nil {
		t.Fatalf("deploy after unlock: %v, want the unwritable store's error", err)
	}
	if r, err := led.Get(ctx, "r-after"); err != nil || r.Trigger != "cron" {
		t.Errorf("record = %+v, %v; want trigger cron (BATON_TRIGGER)", r, err)
	}
}

// TestBeforeHookIsMasked: what a hook prints is masked with the secrets
// the settings name, and so is the run's error and its record.
func TestBeforeHookIsMasked(t *testing.T) {
	p, out := lab(t, map[string]string{"BATON_SECRETS": "APP_TOKEN", "APP_TOKEN": "tok-s3cr3t"})
	ctx := context.Background()
	_, err := p.Run(ctx, Job{Target: "deploy", Mode: pipeline.ModeRun, RunID: "r-hook",
		Before: func(ctx context.Context, w io.Writer) error {
			io.WriteString(w, "pulled with tok-s3cr3t\nand a last line without newline tok-s3cr3t")
			return errors.New("update failed for tok-s3cr3t")
		}})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "update failed") {
		t.Errorf("error = %v, want the hook's error, masked", err)
	}
	if got := out.String(); strings.Contains(got, "s3cr3t") || strings.Count(got, "***") != 2 {
		t.Errorf("console:\n%s\nwant both lines, masked", got)
	}
	led, _ := p.Ledger()
	if r, err := led.Get(ctx, "r-hook"); err != nil || r.Status != "failed" || strings.Contains(r.Error, "s3cr3t") {
		t.Errorf("record = %+v, %v; want failed and masked", r, err)
	}
}

// TestCancelledRunIsRecordedAsCancelled: a run whose context is cancelled
// while it runs still has its end written.
func TestCancelledRunIsRecordedAsCancelled(t *testing.T) {
	p, _ := lab(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := p.Run(ctx, Job{Target: "deploy", Mode: pipeline.ModeRun, RunID: "r-cancel",
		Before: func(context.Context, io.Writer) error { cancel(); return context.Canceled }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	led, _ := p.Ledger()
	if r, err := led.Get(context.Background(), "r-cancel"); err != nil || r.Status != string(pipeline.StatusCancelled) || r.End.IsZero() {
		t.Errorf("record = %+v, %v; want cancelled with an end", r, err)
	}
}

// Unstarted records a run that never began, once; a run already recorded
// (it failed after it began) is left as it is.
func TestUnstartedRecordsOnce(t *testing.T) {
	p, out := lab(t, nil)
	ctx := context.Background()
	cause := errors.New("baton.hcl:9: the pipeline file no longer loads")
	j := Job{Target: "deploy", Mode: pipeline.ModeRun, RunID: "r-never", Trigger: "webhook", Sender: "alice", Deliveries: []string{"d-1", "d-2"}}
	if err := p.Unstarted(ctx, "staging", j, cause); err != nil {
		t.Fatal(err)
	}
	if err := p.Unstarted(ctx, "staging", j, errors.New("a second report")); err != nil {
		t.Fatal(err)
	}
	led, _ := p.LedgerOf("staging")
	recs, _, err := led.List(ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("staging's history: %d runs, %v; want one", len(recs), err)
	}
	r := recs[0]
	if r.RunID != "r-never" || r.Env != "staging" || r.Status != "failed" || r.Error != cause.Error() || r.Sender != "alice" || r.DeliveryID != "d-1" || r.End.IsZero() {
		t.Errorf("record: %+v", r)
	}

	// A run that began and failed keeps its own record.
	_, err = p.Run(ctx, Job{Target: "deploy", Mode: pipeline.ModeRun, RunID: "r-began"})
	if err == nil {
		t.Fatalf("the lab's run with an unwritable store succeeded\n%s", out)
	}
	if err := p.Unstarted(ctx, p.Env, Job{Target: "deploy", Mode: pipeline.ModeRun, RunID: "r-began"}, errors.New("overwritten")); err != nil {
		t.Fatal(err)
	}
	own, _ := p.Ledger()
	if r, err := own.Get(ctx, "r-began"); err != nil || !strings.Contains(r.Error, "handoff store cannot be written") {
		t.Errorf("the run that began: %+v, %v; want its own error kept", r, err)
	}
}
