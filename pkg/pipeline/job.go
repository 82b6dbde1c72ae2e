package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/rs/zerolog"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// Job is what one attempt of a stage receives from the runner: its inputs,
// where to put its outputs, a directory of its own, and where to send the
// lines it wants people to see. A fresh Job is made for every attempt, so
// the outputs of a failed attempt are never used.
type Job struct {
	// RunID identifies the run; Stage names the stage; Attempt counts from 1.
	RunID   string
	Stage   string
	Attempt int
	// Mode says what the runner asked of the stage.
	Mode Mode
	// Dir is the stage's own directory in the run directory, created for it
	// and kept after the run: tools' whole output goes there.
	Dir string
	// In holds the handoffs the stage needs, resolved and validated. In a
	// check or rollback it also holds what the stage last gave, where the
	// store knows it.
	In *handoff.Values
	// Out receives the handoffs the stage gives, through Key.Put or
	// Values.PutRaw; the runner validates them when Run returns.
	Out *handoff.Values
	// Log is the stage's logger for diagnostics; it writes nowhere unless the
	// run was given a logger. Tool output belongs in Output, not here.
	Log zerolog.Logger

	emit   func(Event)
	redact *Redactor

	mu     sync.Mutex
	note   string
	detail json.RawMessage
}

// Printf sends a line to the run's events as the stage's own note, as
// opposed to a tool's output.
func (j *Job) Printf(format string, args ...any) {
	j.line("baton", fmt.Sprintf(format, args...))
}

func (j *Job) line(stream, text string) {
	if j.emit == nil {
		return
	}
	j.emit(Event{Kind: LogLine, Stage: j.Stage, Attempt: j.Attempt, Stream: stream, Line: text})
}

// Secret adds values to the run's redactor: from now on they are shown as
// "***" in every event, log file and record. Stages call it for values they
// learn while running, such as Terraform's sensitive outputs.
func (j *Job) Secret(values ...string) { j.redact.Add(values...) }

// Redact returns s with the run's secrets masked.
func (j *Job) Redact(s string) string { return j.redact.Redact(s) }

// SetNote sets the stage's one-line account of what it did, shown in the
// summary, e.g. "no changes; apply skipped".
func (j *Job) SetNote(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.note = j.redact.Redact(fmt.Sprintf(format, args...))
}

// SetDetail sets the stage's structured result, kept in the summary and the
// run record, such as Ansible's per-host recap. v must marshal to JSON.
func (j *Job) SetDetail(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("stage %s: detail: %w", j.Stage, err)
	}
	b = []byte(j.redact.Redact(string(b)))
	j.mu.Lock()
	defer j.mu.Unlock()
	j.detail = b
	return nil
}

func (j *Job) result() (note string, detail json.RawMessage) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.note, j.detail
}

var streamNameRE = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Output returns a writer for one stream of a tool's output, such as
// "apply.stdout". Every line written to it is redacted, sent to the events
// as a LogLine of that stream, and appended to the file <stream>.log in
// j.Dir, so the whole output is kept with the run. Close flushes a last
// line that has no newline; the caller must call it.
func (j *Job) Output(stream string) io.WriteCloser {
	w := &lineWriter{job: j, stream: stream}
	if j.Dir != "" {
		name := streamNameRE.ReplaceAllString(stream, "_") + ".log"
		f, err := os.OpenFile(filepath.Join(j.Dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err == nil {
			w.file = f
		} else {
			j.Log.Warn().Err(err).Str(keyStream, stream).Msg("cannot keep stream in the run directory")
		}
	}
	return w
}

// maxLine bounds one event's line; longer lines are split, so a tool that
// prints megabytes without a newline cannot exhaust memory.
const maxLine = 64 << 10

type lineWriter struct {
	job    *Job
	stream string
	file   *os.File
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			// A line too long is split, but never inside a secret: the
			// split waits for enough bytes to see one whole.
			if len(w.buf) >= maxLine+w.job.redact.longest() {
				n := w.job.redact.cut(w.buf, maxLine)
				w.flushLine(w.buf[:n])
				w.buf = w.buf[n:]
				continue
			}
			break
		}
		w.flushLine(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	// Keep the buffer from growing by reslicing forever.
	if len(w.buf) == 0 {
		w.buf = w.buf[:0:0]
	}
	return len(p), nil
}

func (w *lineWriter) flushLine(b []byte) {
	line := w.job.redact.Redact(string(bytes.TrimSuffix(b, []byte{'\r'})))
	if w.file != nil {
		// A failing disk must not fail the tool; the events still carry it.
		_, _ = io.WriteString(w.file, line+"\n")
	}
	w.job.line(w.stream, line)
}

func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.flushLine(w.buf)
		w.buf = nil
	}
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file = nil
	return err
}
