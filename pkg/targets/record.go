package targets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/notify"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Ledger opens the environment's run history: the embedded one in
// .baton/<env>/ledger, or the shared PostgreSQL one that BATON_LEDGER
// names (postgres://user@host/db).
func (p *Project) Ledger() (ledger.Ledger, error) {
	return openLedger(p.State, p.Env)
}

// shared caches the PostgreSQL ledger per environment for the process.
var (
	sharedMu sync.Mutex
	shared   = map[string]*ledger.Postgres{}
)

func openLedger(state, env string) (ledger.Ledger, error) {
	url := os.Getenv("BATON_LEDGER")
	if url == "" {
		return ledger.Open(filepath.Join(state, "ledger"))
	}
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, fmt.Errorf("BATON_LEDGER must be a postgres:// URL (or unset for the embedded ledger), got %q", strings.SplitN(url, ":", 2)[0]+":…")
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if l, ok := shared[env]; ok {
		return l, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := ledger.OpenPostgres(ctx, url, env)
	if err != nil {
		return nil, err
	}
	shared[env] = l
	return l, nil
}

// begin records a run's start and, for runs that change things, takes the
// environment's lock. finish records how it ended and releases the lock;
// it is safe to call once whatever happened.
func begin(p *Project, j job, runID string) (ledger.Ledger, *ledger.Record, func(*pipeline.Summary, error), error) {
	led, err := p.Ledger()
	if err != nil {
		return nil, nil, nil, err
	}
	host, _ := os.Hostname()
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	// The commit of the repository that holds the pipeline file.
	commit, dirty := gitState(p.Config.Dir)
	rec := &ledger.Record{
		RunID: runID, Env: p.Env, Target: j.target, Mode: string(j.mode),
		User: who, Host: host, PID: os.Getpid(), Trigger: "cli",
		GitCommit: commit, GitDirty: dirty, Start: time.Now(), Status: ledger.StatusRunning,
		RollbackOf: j.rollbackOf, PromotedFrom: j.promotedFrom,
	}
	if t := os.Getenv("BATON_TRIGGER"); t != "" {
		rec.Trigger = t
	}
	if j.trigger != "" {
		rec.Trigger, rec.Sender = j.trigger, j.sender
	}
	if len(j.deliveries) > 0 {
		rec.DeliveryID, rec.Coalesced = j.deliveries[0], j.deliveries[1:]
	}
	unlock := func() error { return nil }
	if j.mode == pipeline.ModeRun || j.mode == pipeline.ModeRollback {
		unlock, err = led.Lock(p.Env, ledger.Holder{RunID: runID, User: who, Host: host, PID: os.Getpid(), Target: j.target, Since: rec.Start})
		if err != nil {
			return nil, nil, nil, err
		}
	}
	if err := led.Begin(rec); err != nil {
		unlock()
		return nil, nil, nil, err
	}
	finish := func(sum *pipeline.Summary, runErr error) {
		defer unlock()
		rec.End = time.Now()
		rec.Status = string(pipeline.StatusSucceeded)
		if sum != nil {
			rec.Stages = sum.Stages
			rec.Handoffs = map[string]ledger.Handoff{}
			for _, st := range sum.Stages {
				for _, h := range append(append([]pipeline.HandoffInfo(nil), st.Used...), st.Given...) {
					rh := ledger.Handoff{Display: h.Display, SHA256: h.SHA256}
					// An artifact's ID is kept whole: rollback
					// deploys it again.
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
		if err := led.Finish(rec); err != nil {
			fmt.Fprintf(stdout, "warning: the run record of %s could not be written: %v\n", runID, err)
		}
		// Deploys, rollbacks and destroys are news; plans and checks not.
		if j.mode == pipeline.ModeRun || j.mode == pipeline.ModeRollback {
			j.notify.Send(notify.FromRecord(rec))
		}
	}
	return led, rec, finish, nil
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
