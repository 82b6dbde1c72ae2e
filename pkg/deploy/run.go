package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/baton-deploy/baton/internal/atomicfile"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/notify"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// Job is one run of the project's pipeline.
type Job struct {
	// Target names the run in its record: deploy, stage2, plan, …
	Target string
	// Mode is what the pipeline does; ModeRun and ModeRollback change the
	// environment, so they take its lock and are notified.
	Mode pipeline.Mode
	// Only, when set, names the stages to run; Args gives handoffs by
	// name as text (a template ID).
	Only []string
	Args map[string]string
	// Force runs every stage, even those whose inputs are unchanged (as
	// BATON_FORCE=1 does).
	Force bool
	// RollbackOf names the run whose release this one deploys again.
	RollbackOf string
	// PromotedFrom, for a promotion, names the environment and run whose
	// release this one deploys.
	PromotedFrom *ledger.Promotion
	// Hints tell a user, by handoff name, how the front end gives one
	// stage its input (`go run mage.go stage2 8025`); an error about a
	// missing handoff shows them.
	Hints map[string]string

	// RunID, when set, is the run's ID (a webhook's response named it).
	RunID string
	// Trigger is who started the run: "cli" (default, or BATON_TRIGGER)
	// or "webhook", with the Sender and the Deliveries.
	Trigger    string
	Sender     string
	Deliveries []string
	// Before runs once the run is recorded and holds the lock, before the
	// pipeline: a webhook hook's update command. What it writes to out is
	// masked. The pipeline file is read again after it.
	Before func(ctx context.Context, out io.Writer) error
	// Notify, when set, is told how a run that changes things ended;
	// without one, Run makes its own from the settings.
	Notify *notify.Notifier
}

// Run runs j on the project's pipeline with the console (Stdout) and a
// JSON-lines log, and keeps the run's summary in its run directory. Every
// run is recorded, and from the moment it is, a failure is recorded,
// notified and masked. A run that changes things and finds the
// environment locked fails with a *ledger.LockedError before anything.
func (p *Project) Run(ctx context.Context, j Job) (sum *pipeline.Summary, err error) {
	// A bad BATON_WRAPPER is found before anything is recorded.
	x, err := p.Exec()
	if err != nil {
		return nil, err
	}
	store, err := p.Store()
	if err != nil {
		return nil, err
	}
	if j.Notify == nil {
		n, closeN, err := p.Notifier(ctx)
		if err != nil {
			return nil, err
		}
		// After finish (deferred below), which sends.
		defer closeN()
		j.Notify = n
	}
	if j.RunID == "" {
		j.RunID = pipeline.NewRunID()
	}
	finish, err := p.begin(ctx, j, j.RunID)
	if err != nil {
		return nil, err
	}
	var redact *pipeline.Redactor
	defer func() {
		err = redact.Error(err)
		finish(sum, err)
	}()
	if j.Before != nil {
		if redact, err = p.before(ctx, j); err != nil {
			return nil, err
		}
	}
	pl, secrets, err := p.ready(ctx, j, x, store)
	if err != nil {
		return nil, err
	}
	redact = pipeline.NewRedactor(secrets...)
	return p.runPipeline(ctx, j, pl, store, secrets)
}

// before runs the job's hook with its output masked with what is known
// before the pipeline file is read again (BATON_SECRETS and baton's own),
// then reads the file again: the hook may have pulled a new one.
func (p *Project) before(ctx context.Context, j Job) (*pipeline.Redactor, error) {
	known, err := p.Secrets(ctx)
	if err != nil {
		return nil, err
	}
	redact := pipeline.NewRedactor(known...)
	w := &maskedLines{r: redact, w: p.opts.Stdout}
	err = j.Before(ctx, w)
	w.flush()
	if err != nil {
		return redact, err
	}
	return redact, p.Reload()
}

// ready builds the pipeline and finds what to mask, checking what must
// hold before a tool starts.
func (p *Project) ready(ctx context.Context, j Job, x stages.Exec, store *handoff.Store) (*pipeline.Pipeline, []string, error) {
	pl, err := p.Config.Build(x)
	if err != nil {
		return nil, nil, err
	}
	if j.Mode == pipeline.ModeRun {
		// Found out now, not after Terraform has replaced every host and
		// cannot record the inventory it made.
		if err := p.storeWritable(store.Dir()); err != nil {
			return nil, nil, fmt.Errorf("the handoff store cannot be written, so nothing was run: %w", err)
		}
	}
	// Asking the wrappers what they give may fail (a secrets manager out of
	// reach): that is a failed run, which a webhook's caller can look up.
	secrets, err := p.runSecrets(ctx, p.Config.Wrappers(x.Wrapper)...)
	if err != nil {
		return nil, nil, err
	}
	return pl, secrets, nil
}

// runPipeline runs pl in j's mode, logging to the run directory, and
// writes the summary there.
func (p *Project) runPipeline(ctx context.Context, j Job, pl *pipeline.Pipeline, store *handoff.Store, secrets []string) (sum *pipeline.Summary, err error) {
	dir := p.RunDir(j.RunID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "log.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	opts := pipeline.Options{
		RunID:    j.RunID,
		RunDir:   dir,
		Only:     j.Only,
		Args:     j.Args,
		Store:    store,
		Hints:    j.Hints,
		Policies: p.Config.Policies(),
		// Masked from the start: in the console, log.jsonl, each tool's
		// output file, summary.json and so the run's record.
		Secrets:      secrets,
		Sinks:        []pipeline.Sink{pipeline.NewConsole(p.opts.Stdout, pipeline.ConsoleOptions{}), pipeline.NewJSONSink(logFile)},
		Grace:        p.opts.Grace,
		Fingerprints: pipeline.FileFingerprints{Dir: filepath.Join(p.State, "fingerprints")},
		// Ansible corrects drift, so it runs even when nothing changed.
		SkipUnchanged: p.skipUnchanged(),
		Force:         j.Force || p.opts.Getenv("BATON_FORCE") == "1",
	}
	switch j.Mode {
	case pipeline.ModePlan:
		sum, err = pl.Plan(ctx, opts)
	case pipeline.ModeCheck:
		sum, err = pl.Check(ctx, opts)
	case pipeline.ModeRollback:
		sum, err = pl.Rollback(ctx, opts)
	default:
		sum, err = pl.Run(ctx, opts)
	}
	if sum != nil {
		if data, merr := json.MarshalIndent(sum, "", "  "); merr == nil {
			if werr := atomicfile.Write(filepath.Join(dir, "summary.json"), data, 0o600); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err != nil {
		p.printf("\nrun %s failed; its log and each tool's whole output are in %s\n", j.RunID, rel(p.Root, dir))
		return sum, err
	}
	return sum, nil
}

// maskedLines writes what it is given to w a line at a time, masked.
type maskedLines struct {
	r   *pipeline.Redactor
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

func (m *maskedLines) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf = append(m.buf, p...)
	for {
		i := bytes.IndexByte(m.buf, '\n')
		if i < 0 {
			break
		}
		_, _ = io.WriteString(m.w, m.r.Redact(string(m.buf[:i]))+"\n")
		m.buf = m.buf[i+1:]
	}
	return len(p), nil
}

func (m *maskedLines) flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.buf) > 0 {
		_, _ = io.WriteString(m.w, m.r.Redact(string(m.buf))+"\n")
		m.buf = nil
	}
}
