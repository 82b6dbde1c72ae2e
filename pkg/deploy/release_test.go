package deploy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// run is a record of a run; n orders it (newer with greater n).
type run struct {
	id, target, mode, status, tf, artifact, commit string
}

func (r run) record(n int) *ledger.Record {
	rec := &ledger.Record{RunID: r.id, Target: r.target, Mode: r.mode, Status: r.status, GitCommit: r.commit, Start: t0.Add(time.Duration(n) * time.Hour)}
	if rec.Target == "" {
		rec.Target = "deploy"
	}
	if rec.Mode == "" {
		rec.Mode = string(pipeline.ModeRun)
	}
	if rec.Status == "" {
		rec.Status = string(pipeline.StatusSucceeded)
	}
	if r.tf != "" {
		rec.Stages = []pipeline.StageResult{{Name: "terraform.hosts", Status: pipeline.Status(r.tf)}}
	}
	if r.artifact != "" {
		rec.Handoffs = map[string]ledger.Handoff{"packer.image.artifact_id": {Display: r.artifact, Text: r.artifact}}
	}
	return rec
}

// history makes records newest first from runs given oldest first.
func history(runs ...run) []*ledger.Record {
	out := make([]*ledger.Record, len(runs))
	for i, r := range runs {
		out[len(runs)-1-i] = r.record(i)
	}
	return out
}

func TestPickRelease(t *testing.T) {
	ok := string(pipeline.StatusSucceeded)
	rel := func(id, art, commit string) run { return run{id: id, tf: ok, artifact: art, commit: commit} }
	failed := run{id: "r-failed-9999", status: string(pipeline.StatusFailed), tf: string(pipeline.StatusFailed), artifact: "9000", commit: "c9"}
	plan := run{id: "r-plan-0000", mode: string(pipeline.ModePlan), target: "plan", tf: ok, commit: "c1"}
	for _, tc := range []struct {
		name         string
		runs         []run
		run          string
		afterFailure bool
		want         string // run ID, or "" with wantErr
		wantErr      string
		is           error
	}{
		{name: "the one before the current", runs: []run{rel("r-1", "8025", "c1"), rel("r-2", "8026", "c2")}, want: "r-1"},
		{name: "current release again is skipped", runs: []run{rel("r-1", "8025", "c1"), rel("r-2", "8026", "c2"), rel("r-3", "8026", "c2")}, want: "r-1"},
		{name: "same artifact, other commit is another release", runs: []run{rel("r-1", "8025", "c1"), rel("r-2", "8025", "c2")}, want: "r-1"},
		{name: "same commit, other artifact is another release", runs: []run{rel("r-1", "8025", "c1"), rel("r-2", "8026", "c1")}, want: "r-1"},
		{name: "plans and failures are no releases", runs: []run{rel("r-1", "8025", "c1"), plan, rel("r-2", "8026", "c2"), failed}, want: "r-1"},
		{name: "unchanged terraform still deployed", runs: []run{{id: "r-1", tf: string(pipeline.StatusSkipped), artifact: "8025", commit: "c1"}, rel("r-2", "8026", "c2")}, want: "r-1"},
		{name: "without terraform no release", runs: []run{{id: "r-1", artifact: "8025", commit: "c1"}, rel("r-2", "8026", "c2")}, wantErr: "no release before the current one (8026, commit c2)"},
		{name: "only the current release", runs: []run{rel("r-1", "8025", "c1"), rel("r-2", "8025", "c1")}, wantErr: "no release before the current one"},
		{name: "no releases", runs: []run{plan, failed}, is: ErrNoRelease},
		{name: "empty history", is: ErrNoRelease},
		{name: "after a failure, the last good one", runs: []run{rel("r-1", "8025", "c1"), rel("r-2", "8026", "c2"), failed}, afterFailure: true, want: "r-2"},
		{name: "after a failure without a release", runs: []run{failed}, afterFailure: true, is: ErrNoRelease},
		{name: "by run ID", runs: []run{rel("r-1111", "8025", "c1"), rel("r-2222", "8026", "c2"), rel("r-3333", "8027", "c3")}, run: "r-2222", want: "r-2222"},
		{name: "by run ID, the current one", runs: []run{rel("r-1111", "8025", "c1"), rel("r-2222", "8026", "c2")}, run: "r-2222", want: "r-2222"},
		{name: "by prefix", runs: []run{rel("20260301T1000-aaaa", "8025", "c1"), rel("20260302T1000-bbbb", "8026", "c2")}, run: "20260301", want: "20260301T1000-aaaa"},
		{name: "too short a prefix", runs: []run{rel("20260301T1000-aaaa", "8025", "c1")}, run: "202", wantErr: `no run "202" in the history`},
		{name: "by ID, not a release", runs: []run{rel("r-1", "8025", "c1"), failed}, run: "r-failed-9999", wantErr: "run r-failed-9999 did not deploy a release (deploy, failed)"},
		{name: "by ID, a plan", runs: []run{rel("r-1", "8025", "c1"), plan}, run: "r-plan", wantErr: "did not deploy a release (plan, succeeded)"},
		{name: "unknown run", runs: []run{rel("r-1", "8025", "c1")}, run: "r-nope", wantErr: `no run "r-nope" in the history`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickRelease(history(tc.runs...), tc.run, tc.afterFailure)
			switch {
			case tc.want != "":
				if err != nil || got.RunID != tc.want {
					t.Fatalf("pickRelease = %v, %v; want run %s", got, err, tc.want)
				}
			case tc.is != nil:
				if !errors.Is(err, tc.is) {
					t.Fatalf("pickRelease = %v, %v; want %v", got, err, tc.is)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("pickRelease = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
			}
		})
	}
}

func TestPickReleaseErrorTypes(t *testing.T) {
	recs := history(run{id: "r-plan-0000", mode: string(pipeline.ModePlan)})
	if _, err := pickRelease(recs, "r-plan-0000", false); !errors.As(err, new(*NotReleaseError)) {
		t.Errorf("a plan by ID: %v, want a *NotReleaseError", err)
	}
	if _, err := pickRelease(recs, "r-none", false); !errors.As(err, new(*ledger.NotFoundError)) {
		t.Errorf("an unknown run: %v, want a *ledger.NotFoundError", err)
	}
}

func TestArtifactText(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handoffs map[string]ledger.Handoff
		want     string
	}{
		{"none", nil, ""},
		{"one", map[string]ledger.Handoff{"packer.image.artifact_id": {Text: "8025"}}, "8025"},
		{"several, sorted", map[string]ledger.Handoff{"packer.b.artifact_id": {Text: "8026"}, "packer.a.artifact_id": {Text: "8025"}}, "packer.a=8025 packer.b=8026"},
		{"sensitive or large (no text) left out", map[string]ledger.Handoff{"packer.a.artifact_id": {Display: "***"}, "terraform.x.ip": {Text: "10.0.0.1"}}, ""},
	} {
		if got := ArtifactText(&ledger.Record{Handoffs: tc.handoffs}); got != tc.want {
			t.Errorf("%s: ArtifactText = %q, want %q", tc.name, got, tc.want)
		}
	}
}
