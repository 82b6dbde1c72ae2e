package deploy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/notify"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// finishTimeout bounds recording how a run ended, which happens after a
// cancellation too.
const finishTimeout = 30 * time.Second

// changes reports whether a mode changes the environment: such runs hold
// its lock and are news.
func changes(m pipeline.Mode) bool { return m == pipeline.ModeRun || m == pipeline.ModeRollback }

// begin records a run's start and, for runs that change things, takes the
// environment's lock. finish records how it ended, notifies and releases
// the lock; it is to be called once, whatever happened.
func (p *Project) begin(ctx context.Context, j Job, runID string) (func(*pipeline.Summary, error), error) {
	led, err := p.Ledger()
	if err != nil {
		return nil, err
	}
	rec := p.newRecord(j, runID)
	unlock := func() error { return nil }
	if changes(j.Mode) {
		unlock, err = led.Lock(ctx, p.Env, ledger.Holder{RunID: runID, User: rec.User, Host: rec.Host, PID: rec.PID, Target: j.Target, Since: rec.Start})
		if err != nil {
			return nil, err
		}
	}
	if err := led.Begin(ctx, rec); err != nil {
		unlock()
		return nil, err
	}
	return func(sum *pipeline.Summary, runErr error) {
		defer unlock()
		ended(rec, sum, runErr)
		// A cancelled run is recorded as such, within a bound of its own.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if err := led.Finish(fctx, rec); err != nil {
			p.printf("warning: the run record of %s could not be written: %v\n", runID, err)
		}
		// Deploys, rollbacks and destroys are news; plans and checks not.
		if changes(j.Mode) {
			j.Notify.Send(notify.FromRecord(rec))
		}
	}, nil
}

// newRecord is the record of a run that starts now.
func (p *Project) newRecord(j Job, runID string) *ledger.Record {
	host, _ := os.Hostname()
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	// The commit of the repository that holds the pipeline file.
	commit, dirty := gitState(p.Config.Dir)
	rec := &ledger.Record{
		RunID: runID, Env: p.Env, Target: j.Target, Mode: string(j.Mode),
		User: who, Host: host, PID: os.Getpid(), Trigger: "cli",
		GitCommit: commit, GitDirty: dirty, Start: time.Now(), Status: ledger.StatusRunning,
		RollbackOf: j.RollbackOf, PromotedFrom: j.PromotedFrom,
	}
	if t := p.opts.Getenv("BATON_TRIGGER"); t != "" {
		rec.Trigger = t
	}
	if j.Trigger != "" {
		rec.Trigger, rec.Sender = j.Trigger, j.Sender
	}
	if len(j.Deliveries) > 0 {
		rec.DeliveryID, rec.Coalesced = j.Deliveries[0], j.Deliveries[1:]
	}
	return rec
}

// ended fills in how a run ended: its stages, handoffs and result.
func ended(rec *ledger.Record, sum *pipeline.Summary, runErr error) {
	rec.End = time.Now()
	rec.Status = string(pipeline.StatusSucceeded)
	if sum != nil {
		rec.Stages = sum.Stages
		rec.Handoffs = map[string]ledger.Handoff{}
		for _, st := range sum.Stages {
			for _, h := range append(append([]pipeline.HandoffInfo(nil), st.Used...), st.Given...) {
				rh := ledger.Handoff{Display: h.Display, SHA256: h.SHA256}
				// An artifact's ID is kept whole: rollback deploys it again.
				if isArtifact(h.Name) && !h.Sensitive {
					rh.Text = h.Display
				}
				rec.Handoffs[h.Name] = rh
			}
		}
	}
	if runErr != nil {
		rec.Status = string(pipeline.StatusFailed)
		if errors.Is(runErr, context.Canceled) {
			rec.Status = string(pipeline.StatusCancelled)
		}
		rec.Error = runErr.Error()
	}
}

// gitState is the project's commit and whether its tree has changes.
func gitState(root string) (string, bool) {
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	status, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), len(strings.TrimSpace(string(status))) > 0
}

// Unstarted records j as a run of env that failed before it could start —
// its pipeline file no longer loads, its wrapper cannot run, it gave up
// waiting for the lock — unless it was recorded already: a run a webhook
// has accepted is in the history however it ends. It is notified like any
// failed run that changes things.
func (p *Project) Unstarted(ctx context.Context, env string, j Job, runErr error) error {
	led, err := p.LedgerOf(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if _, err := led.Get(ctx, j.RunID); err == nil {
		return nil
	} else if _, missing := errors.AsType[*ledger.NotFoundError](err); !missing {
		return err
	}
	rec := p.newRecord(j, j.RunID)
	rec.Env = env
	if err := led.Begin(ctx, rec); err != nil {
		return err
	}
	ended(rec, nil, runErr)
	if err := led.Finish(ctx, rec); err != nil {
		return err
	}
	if changes(j.Mode) && j.Notify != nil {
		j.Notify.Send(notify.FromRecord(rec))
	}
	return nil
}
