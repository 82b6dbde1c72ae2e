package pipeline

import (
	"sync"
	"time"
)

// Kind says what an Event reports.
type Kind string

// The kinds of events a run emits, in the order a run emits them.
const (
	RunStarted    Kind = "run.started"    // Stages lists the stages to run
	StageStarted  Kind = "stage.started"  // Stage, Attempt
	LogLine       Kind = "log"            // Stage, Stream, Line: a line of a tool's output or a stage's note
	StageRetrying Kind = "stage.retrying" // Stage, Attempt that failed, Error, Wait before the next
	HandoffGiven  Kind = "handoff.given"  // Stage, Handoff
	StageSkipped  Kind = "stage.skipped"  // Stage, Reason
	StageFinished Kind = "stage.finished" // Stage, Status, Attempt, Duration, Error
	RunFinished   Kind = "run.finished"   // Status, Duration, Error, Summary
)

// Event is one thing that happened in a run. Which fields are set depends on
// Kind, as its constants say. Text in an event has been through the run's
// redactor: it never holds a value marked secret.
type Event struct {
	Kind     Kind          `json:"kind"`
	Time     time.Time     `json:"time"`
	RunID    string        `json:"run_id"`
	Mode     Mode          `json:"mode,omitempty"`
	Stage    string        `json:"stage,omitempty"`
	Attempt  int           `json:"attempt,omitempty"`
	Status   Status        `json:"status,omitempty"`
	Error    string        `json:"error,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Wait     time.Duration `json:"wait,omitempty"`
	Stream   string        `json:"stream,omitempty"`
	Line     string        `json:"line,omitempty"`
	Handoff  *HandoffInfo  `json:"handoff,omitempty"`
	Stages   []string      `json:"stages,omitempty"`
	Summary  *Summary      `json:"summary,omitempty"`
}

// HandoffInfo describes a handoff value in an event or a summary without
// holding the value itself.
type HandoffInfo struct {
	Name string `json:"name"`
	// Display is the value on one line for people; "***" when sensitive.
	Display string `json:"display"`
	SHA256  string `json:"sha256"`
	// Source says where a stage's input came from: "stage", "argument",
	// "environment" or "store"; Origin names the variable or file.
	Source    string `json:"source,omitempty"`
	Origin    string `json:"origin,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// Sink consumes events. A run calls its sinks one event at a time, in order,
// from one goroutine at a time, so a Sink needs no locking of its own for
// that; it must return quickly, since the run waits for it.
type Sink interface {
	Handle(e Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(e Event)

// Handle calls f(e).
func (f SinkFunc) Handle(e Event) { f(e) }

// emitter delivers events to sinks in order, redacting them first.
type emitter struct {
	mu     sync.Mutex
	sinks  []Sink
	redact *Redactor
	runID  string
	mode   Mode
	now    func() time.Time
}

func (em *emitter) emit(e Event) {
	em.mu.Lock()
	defer em.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = em.now()
	}
	e.RunID = em.runID
	e.Mode = em.mode
	e.Line = em.redact.Redact(e.Line)
	e.Error = em.redact.Redact(e.Error)
	e.Reason = em.redact.Redact(e.Reason)
	for _, s := range em.sinks {
		s.Handle(e)
	}
}
