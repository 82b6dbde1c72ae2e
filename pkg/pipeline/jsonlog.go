package pipeline

import (
	"io"
	"time"

	"github.com/rs/zerolog"
)

// JSONSink is a Sink that writes every event as one JSON object per line —
// the run's log file, log.jsonl. Its keys are those of Event.
type JSONSink struct {
	log zerolog.Logger
}

// NewJSONSink returns a JSONSink writing to w. Writes are not buffered, so
// a run killed at any moment leaves every event before it on disk, at most
// the last line torn.
func NewJSONSink(w io.Writer) *JSONSink {
	return &JSONSink{log: zerolog.New(w)}
}

// Handle writes e as a line of JSON.
func (s *JSONSink) Handle(e Event) {
	ev := s.log.Info()
	if e.Error != "" || e.Status == StatusFailed {
		ev = s.log.Error()
	}
	ev = ev.Str("time", e.Time.UTC().Format(time.RFC3339Nano)).Str("kind", string(e.Kind)).Str(keyRun, e.RunID)
	if e.Mode != "" {
		ev = ev.Str("mode", string(e.Mode))
	}
	if e.Stage != "" {
		ev = ev.Str(keyStage, e.Stage)
	}
	if e.Attempt > 0 {
		ev = ev.Int(keyAttempt, e.Attempt)
	}
	if e.Status != "" {
		ev = ev.Str("status", string(e.Status))
	}
	if e.Error != "" {
		ev = ev.Str(keyErr, e.Error)
	}
	if e.Reason != "" {
		ev = ev.Str("reason", e.Reason)
	}
	if e.Duration > 0 {
		ev = ev.Dur("duration", e.Duration)
	}
	if e.Wait > 0 {
		ev = ev.Dur(keyWait, e.Wait)
	}
	if e.Stream != "" {
		ev = ev.Str(keyStream, e.Stream)
	}
	if e.Kind == LogLine {
		ev = ev.Str("line", e.Line)
	}
	if e.Handoff != nil {
		ev = ev.Interface("handoff", e.Handoff)
	}
	if len(e.Stages) > 0 {
		ev = ev.Strs("stages", e.Stages)
	}
	if e.Summary != nil {
		ev = ev.Interface("summary", e.Summary)
	}
	ev.Send()
}
