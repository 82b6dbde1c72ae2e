package ledger

import (
	"context"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Ledger is a run history with its lock, for one environment. File is
// the embedded one; package postgres holds one that every machine that
// deploys shares. Every method that does I/O takes a context: a
// cancelled one stops a hung database call.
type Ledger interface {
	// Begin records that a run started; Finish records how it ended
	// (the same record, with its end, status and stages).
	Begin(ctx context.Context, r *Record) error
	Finish(ctx context.Context, r *Record) error
	// List returns the environment's runs, newest first, with the
	// entries that could not be read.
	List(ctx context.Context) ([]*Record, []Problem, error)
	// Get returns one run by ID or by a unique prefix of it; a run it
	// does not hold is a *NotFoundError.
	Get(ctx context.Context, runID string) (*Record, error)
	// Lock takes env's lock for holder, failing at once with a
	// *LockedError when another run holds it. unlock releases it, and
	// is bounded by its own timeout: it runs after cancellation too.
	Lock(ctx context.Context, env string, holder Holder) (unlock func() error, err error)
}

var _ Ledger = (*File)(nil)

// Status values of a run record, beyond pipeline's: a run whose process
// died without finishing it is interrupted.
const (
	StatusRunning     = "running"
	StatusInterrupted = "interrupted"
)

// Record is one run: who, what, when, and how it went.
type Record struct {
	RunID  string `json:"run_id"`
	Env    string `json:"env"`
	Target string `json:"target"` // deploy, stage2, plan, validate, rollback, …
	Mode   string `json:"mode"`   // the pipeline mode: run, plan, check, rollback

	User       string `json:"user"`
	Host       string `json:"host"`
	PID        int    `json:"pid"`
	Trigger    string `json:"trigger"` // cli or webhook
	Sender     string `json:"sender,omitempty"`
	DeliveryID string `json:"delivery_id,omitempty"`
	// Coalesced are the deliveries that joined the run while it waited
	// behind another, after the one that queued it.
	Coalesced []string `json:"coalesced,omitempty"`

	GitCommit string `json:"git_commit,omitempty"`
	GitDirty  bool   `json:"git_dirty,omitempty"`

	Start  time.Time `json:"start"`
	End    time.Time `json:"end,omitzero"`
	Status string    `json:"status"`
	Error  string    `json:"error,omitempty"`
	// RollbackOf names the run this one rolled back to, if any.
	RollbackOf string `json:"rollback_of,omitempty"`
	// PromotedFrom names the environment and run whose release this run
	// deployed, when it was a promotion.
	PromotedFrom *Promotion `json:"promoted_from,omitempty"`

	Stages []pipeline.StageResult `json:"stages,omitempty"`
	// Handoffs holds every handoff the run used or gave, by name, as the
	// run saw it (sensitive values are never recorded, only their hash).
	Handoffs map[string]Handoff `json:"handoffs,omitempty"`
}

// Promotion is where a promoted release came from: the environment and
// the run that deployed it there.
type Promotion struct {
	Env   string `json:"env"`
	RunID string `json:"run_id"`
}

// Handoff is a handoff as a record keeps it.
type Handoff struct {
	Display string `json:"display"`
	SHA256  string `json:"sha256"`
	// Text is the value's text form (a template ID's number), for
	// rollback; empty for sensitive values and large ones.
	Text string `json:"text,omitempty"`
}

// Duration is how long the run took, or has taken so far.
func (r *Record) Duration() time.Duration {
	if r.End.IsZero() {
		if r.Status != StatusRunning {
			return 0 // interrupted: when it stopped is not known
		}
		return time.Since(r.Start)
	}
	return r.End.Sub(r.Start)
}

// Succeeded reports whether the run finished well.
func (r *Record) Succeeded() bool { return r.Status == string(pipeline.StatusSucceeded) }

// Holder is who holds an environment's lock.
type Holder struct {
	RunID  string    `json:"run_id"`
	User   string    `json:"user"`
	Host   string    `json:"host"`
	PID    int       `json:"pid"`
	Target string    `json:"target"`
	Since  time.Time `json:"since"`
}
