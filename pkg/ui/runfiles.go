package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// readStages reads a run's stages from its files, for a run whose record
// does not have them yet (it runs) or never will (it was killed):
// summary.json when the run wrote it, else the events of log.jsonl.
func readStages(dir string) ([]pipeline.StageResult, string) {
	if data, err := os.ReadFile(filepath.Join(dir, "summary.json")); err == nil {
		var sum pipeline.Summary
		if json.Unmarshal(data, &sum) == nil && len(sum.Stages) > 0 {
			return sum.Stages, "summary.json"
		}
	}
	f, err := os.Open(filepath.Join(dir, "log.jsonl"))
	if err != nil {
		return nil, ""
	}
	defer f.Close()
	return stagesFromLog(f), "log.jsonl"
}

// logEvent is a line of log.jsonl, as pipeline.JSONSink writes it.
type logEvent struct {
	Time     time.Time             `json:"time"`
	Kind     pipeline.Kind         `json:"kind"`
	Stage    string                `json:"stage"`
	Attempt  int                   `json:"attempt"`
	Status   pipeline.Status       `json:"status"`
	Error    string                `json:"error"`
	Reason   string                `json:"reason"`
	Duration float64               `json:"duration"` // milliseconds
	Handoff  *pipeline.HandoffInfo `json:"handoff"`
	Stages   []string              `json:"stages"`
	Summary  *pipeline.Summary     `json:"summary"`
}

// stagesFromLog replays a run's events into its stages so far. A torn
// or foreign line is passed over: the log of a killed run may end in one.
func stagesFromLog(r io.Reader) []pipeline.StageResult {
	var out []pipeline.StageResult
	find := func(name string) *pipeline.StageResult {
		for i := range out {
			if out[i].Name == name {
				return &out[i]
			}
		}
		out = append(out, pipeline.StageResult{Name: name, Status: pipeline.StatusPending})
		return &out[len(out)-1]
	}
	rd := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := rd.ReadBytes('\n')
		// Tools' lines are most of a log and say nothing of the stages.
		if len(line) > 0 && !bytes.Contains(line, []byte(`"kind":"log"`)) {
			var e logEvent
			if json.Unmarshal(line, &e) == nil {
				if e.Kind == pipeline.RunFinished && e.Summary != nil && len(e.Summary.Stages) > 0 {
					return e.Summary.Stages
				}
				apply(e, find)
			}
		}
		if err != nil {
			return out
		}
	}
}

func apply(e logEvent, find func(string) *pipeline.StageResult) {
	switch e.Kind {
	case pipeline.RunStarted:
		for _, name := range e.Stages {
			find(name)
		}
		return
	}
	if e.Stage == "" {
		return
	}
	s := find(e.Stage)
	switch e.Kind {
	case pipeline.StageStarted:
		s.Status, s.Attempts = pipeline.StatusRunning, max(e.Attempt, 1)
		if s.Start.IsZero() {
			s.Start = e.Time
		}
	case pipeline.StageRetrying:
		s.Error = e.Error
	case pipeline.HandoffGiven:
		if e.Handoff != nil {
			s.Given = append(s.Given, *e.Handoff)
		}
	case pipeline.StageSkipped:
		s.Status, s.Reason = pipeline.StatusSkipped, e.Reason
	case pipeline.StageFinished:
		s.Status, s.Error = e.Status, e.Error
		s.Duration = time.Duration(e.Duration * float64(time.Millisecond))
		if e.Attempt > 0 {
			s.Attempts = e.Attempt
		}
	}
}

// Output limits: the run page shows each file's end, newest line first;
// the whole file is a link away.
const (
	tailBytes = 64 << 10
	tailLines = 200
)

// output is one stage's output files.
type output struct {
	Stage string
	Files []outputFile
}

// outputFile is the end of one file of a stage's output.
type outputFile struct {
	Name, Link string
	Size       string
	Lines      []string // newest first
	Cut        bool     // the file holds more than Lines
	Open       bool     // shown open: all but a tool's raw output
}

// outputs reads the end of every output file of the run's stages (the
// directories of dir named after them), in the stages' order.
func (h *Handler) outputs(env, runID, dir string, stages []pipeline.StageResult) []output {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
	}
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(names, e.Name()) {
			names = append(names, e.Name())
		}
	}
	var out []output
	for _, name := range names {
		if !safeName.MatchString(name) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		o := output{Stage: h.mask(name)}
		// A tool's raw output (Packer's machine-readable lines) after
		// what it printed for people.
		slices.SortStableFunc(files, func(a, b os.DirEntry) int {
			return boolCmp(strings.HasSuffix(a.Name(), ".raw.log"), strings.HasSuffix(b.Name(), ".raw.log"))
		})
		for _, f := range files {
			if f.IsDir() || !strings.HasSuffix(f.Name(), ".log") || !safeName.MatchString(f.Name()) {
				continue
			}
			of := h.tail(filepath.Join(dir, name, f.Name()))
			of.Name = h.mask(f.Name())
			of.Open = !strings.HasSuffix(f.Name(), ".raw.log")
			of.Link = runPath(env, runID) + "/files/" + url.PathEscape(name) + "/" + url.PathEscape(f.Name())
			o.Files = append(o.Files, of)
		}
		if len(o.Files) > 0 {
			out = append(out, o)
		}
	}
	return out
}

// tail reads the last lines of a file, masked, newest first.
func (h *Handler) tail(path string) outputFile {
	var of outputFile
	f, err := os.Open(path)
	if err != nil {
		return of
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return of
	}
	of.Size = size(fi.Size())
	off := max(0, fi.Size()-tailBytes)
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	buf = buf[:n]
	if off > 0 {
		// The first line is cut short: start at the next whole one.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
		of.Cut = true
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
		of.Cut = true
	}
	slices.Reverse(lines)
	for i, l := range lines {
		lines[i] = h.mask(l)
	}
	of.Lines = lines
	return of
}

func size(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n>>20, 10) + " MiB"
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
