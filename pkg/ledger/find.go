package ledger

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// NotFoundError reports a run ID that names no run, or more than one.
type NotFoundError struct {
	RunID string
	// Where is the history that was searched: "the run history in
	// <file>", "the baton_runs table".
	Where string
	// Matches is how many runs the ID is a prefix of, when more than one.
	Matches int
}

func (e *NotFoundError) Error() string {
	if e.Matches > 1 {
		return fmt.Sprintf("%q matches %d runs: give more of the run ID", e.RunID, e.Matches)
	}
	return fmt.Sprintf("no run %q in %s", e.RunID, e.Where)
}

// Find returns the record of recs with ID runID or, when it has 4
// characters or more, the one record whose ID it begins; else a
// *NotFoundError naming where, the history searched.
func Find(recs []*Record, runID, where string) (*Record, error) {
	var hits []*Record
	for _, r := range recs {
		if r.RunID == runID {
			return r, nil
		}
		if len(runID) >= 4 && len(r.RunID) > len(runID) && strings.HasPrefix(r.RunID, runID) {
			hits = append(hits, r)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	return nil, &NotFoundError{RunID: runID, Where: where, Matches: len(hits)}
}

// interruptedWhy is the error of a run whose process died mid-run.
const interruptedWhy = "the run's process ended before it finished the run (killed, or the machine went down)"

// MarkInterrupted turns a running record whose process no longer runs on
// this host (hostname) into an interrupted one, and reports whether it
// did. Another host's runs cannot be checked from here and stay running.
func MarkInterrupted(r *Record, hostname string) bool {
	if r.Status != StatusRunning || r.Host != hostname || r.PID <= 0 || pidAlive(r.PID) {
		return false
	}
	r.Status = StatusInterrupted
	if r.Error == "" {
		r.Error = interruptedWhy
	}
	return true
}

// pidAlive reports whether a process of this host still runs.
func pidAlive(pid int) bool {
	if pid <= 0 || pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
