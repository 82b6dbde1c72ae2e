package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/rs/zerolog"
)

// Options configures one run. The zero Options runs every stage, keeps no
// files after the run, stores no handoffs, reads outside inputs from the
// environment only and reports to no sink.
type Options struct {
	// RunID identifies the run; "" makes one with NewRunID.
	RunID string
	// RunDir is the run's directory: each stage gets RunDir/<stage> for its
	// tools' output. "" means a temporary directory removed after the run.
	RunDir string
	// Only, when set, runs just the named stages; From, when set, runs the
	// named stage and every stage downstream of it. Inputs that the
	// selected stages need from stages not selected come from Args, the
	// environment or the Store.
	Only []string
	From string
	// Args holds explicit values for handoffs, by name, in their text form
	// (a template ID's number, an inventory file's path).
	Args map[string]string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Store, when set, is read for inputs no other source has and receives
	// every handoff a stage gives in a real run. Dry runs never write it.
	Store *handoff.Store
	// Hints shows, per handoff name, how to give it as an argument in the
	// front end at hand ("mage stage2 8025"), for the missing-handoff error.
	Hints map[string]string
	// Sinks receive the run's events.
	Sinks []Sink
	// Logger receives diagnostics; nil means none. It never receives tool
	// output or handoff values: those go to Sinks, redacted.
	Logger *zerolog.Logger
	// Policies sets timeouts and retries per stage name; stages without an
	// entry get DefaultPolicy.
	Policies      map[string]Policy
	DefaultPolicy Policy
	// Grace is how long a stage may take to stop after it is cancelled or
	// times out before the run gives up waiting for it; 0 means 10 seconds.
	Grace time.Duration
	// Parallelism caps how many stages run at once; 0 means no cap.
	Parallelism int
	// Secrets are values to mask as "***" in every event from the start.
	Secrets []string
	// Fingerprints, when set, records each Fingerprinter stage's inputs
	// after it succeeds. A stage named in SkipUnchanged whose inputs are
	// the same as at its last success, whose handoffs are stored and whose
	// check (if it is a Checker) passes is skipped, reusing its stored
	// handoffs. Force runs every stage regardless.
	Fingerprints  Fingerprints
	SkipUnchanged map[string]bool
	Force         bool
}

// Policy is how a stage is run: a timeout for each attempt and a retry
// policy. The zero Policy means no timeout and one attempt.
type Policy struct {
	Timeout time.Duration
	Retry   RetryPolicy
}

// StageError reports the stage that made a run fail.
type StageError struct {
	Stage    string
	Attempts int
	Err      error
}

func (e *StageError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("stage %s failed after %d attempts: %v", e.Stage, e.Attempts, e.Err)
	}
	return fmt.Sprintf("stage %s failed: %v", e.Stage, e.Err)
}

func (e *StageError) Unwrap() error { return e.Err }

// SkipError is returned by a stage that decided not to run, with the
// reason. In a real run the handoffs such a stage gives are read from the
// Store, where its last successful run left them.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns a *SkipError with the reason.
func Skip(reason string) error { return &SkipError{Reason: reason} }

// NewRunID returns a run ID that sorts by start time: the UTC time to the
// second and four random hex digits, e.g. 20261122T221405-3f9a.
func NewRunID() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}
