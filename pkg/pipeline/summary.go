package pipeline

import (
	"encoding/json"
	"time"
)

// Mode says what a run does with its stages.
type Mode string

// The modes of a run.
const (
	ModeRun      Mode = "run"      // Stage.Run: do the work
	ModePlan     Mode = "plan"     // Planner.Plan: show what would change, change nothing
	ModeCheck    Mode = "check"    // Checker.Check: is what was made still there and healthy
	ModeRollback Mode = "rollback" // Rollbacker.Rollback, in reverse order
)

// Status is where a stage or a run stands.
type Status string

// The statuses of stages and runs.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusCancelled Status = "cancelled"
	// StatusNotRun is a stage a run never started, because an earlier one
	// failed or the run was cancelled.
	StatusNotRun Status = "not-run"
)

// Summary is what a run did: one StageResult per selected stage, in order.
type Summary struct {
	RunID  string        `json:"run_id"`
	Mode   Mode          `json:"mode"`
	Status Status        `json:"status"`
	Start  time.Time     `json:"start"`
	End    time.Time     `json:"end"`
	Error  string        `json:"error,omitempty"`
	Stages []StageResult `json:"stages"`
}

// Duration returns how long the run took.
func (s *Summary) Duration() time.Duration { return s.End.Sub(s.Start) }

// Stage returns the result of the stage named name, or nil.
func (s *Summary) Stage(name string) *StageResult {
	for i := range s.Stages {
		if s.Stages[i].Name == name {
			return &s.Stages[i]
		}
	}
	return nil
}

// Given returns every handoff the run's stages gave, by name.
func (s *Summary) Given() map[string]HandoffInfo {
	out := make(map[string]HandoffInfo)
	for _, st := range s.Stages {
		for _, h := range st.Given {
			out[h.Name] = h
		}
	}
	return out
}

// StageResult is what one stage did in a run.
type StageResult struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Attempts int           `json:"attempts"`
	Start    time.Time     `json:"start,omitzero"`
	Duration time.Duration `json:"duration"`
	// Used lists the handoffs the stage consumed and where each came from.
	Used []HandoffInfo `json:"used,omitempty"`
	// Given lists the handoffs the stage gave.
	Given []HandoffInfo `json:"given,omitempty"`
	// Fingerprint is the stage's input fingerprint, when it has one.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Note is the stage's one-line account of what it did, e.g. "no
	// changes, apply skipped"; Reason says why a stage was skipped.
	Note   string `json:"note,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Detail is the stage's structured result, such as Ansible's recap.
	Detail json.RawMessage `json:"detail,omitempty"`
	Error  string          `json:"error,omitempty"`
}
