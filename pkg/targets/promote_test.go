package targets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestChoosePromotion(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	r1, r2 := release("r-1", "101", t0), release("r-2", "102", t0.Add(time.Minute))
	check := func(id, status string) *ledger.Record {
		return &ledger.Record{RunID: id, Target: "validate", Mode: string(pipeline.ModeCheck), Status: status, Error: "web-1 never became ready"}
	}
	rb := release("r-rb", "101", t0.Add(2*time.Minute))
	rb.Target, rb.RollbackOf = "rollback", "r-1"
	destroy := &ledger.Record{RunID: "r-d", Target: "destroy", Mode: string(pipeline.ModeRollback), Status: "succeeded"}
	failed := &ledger.Record{RunID: "r-f", Target: "deploy", Mode: string(pipeline.ModeRun), Status: "failed"}
	noGit := release("r-ng", "103", t0)
	noGit.GitCommit = ""
	qaSame := release("r-qa", "102", t0) // the same artifact and commit as r-2
	for _, tt := range []struct {
		name     string
		from     []*ledger.Record
		requires []string
		qa       []*ledger.Record
		want     string // the run chosen, or a part of the refusal
	}{
		{"happy path", []*ledger.Record{check("v", "succeeded"), r2, r1}, []string{"staging"}, nil, "r-2"},
		{"no success", []*ledger.Record{failed}, nil, nil, "no successful release on staging"},
		{"validate failed after", []*ledger.Record{check("v", "failed"), r2}, nil, nil, "the last validate on staging (run v) failed: web-1 never became ready"},
		{"validate passed since it failed", []*ledger.Record{check("v2", "succeeded"), check("v1", "failed"), r2}, nil, nil, "r-2"},
		{"validate failed before the release", []*ledger.Record{r2, check("v", "failed"), r1}, nil, nil, "r-2"},
		{"rolled back", []*ledger.Record{check("v", "succeeded"), rb, r2, r1}, nil, nil, "release was rolled back (run r-rb went back to run r-1)"},
		{"destroyed", []*ledger.Record{destroy, r2}, nil, nil, "destroyed (run r-d)"},
		{"not from git", []*ledger.Record{noGit}, nil, nil, "not deployed from a git checkout"},
		{"requires not met", []*ledger.Record{r2}, []string{"staging", "qa"}, []*ledger.Record{r1}, "has not succeeded on qa"},
		{"requires never ran", []*ledger.Record{r2}, []string{"qa"}, nil, "has not succeeded on qa"},
		{"requires met", []*ledger.Record{r2}, []string{"staging", "qa"}, []*ledger.Record{qaSame}, "r-2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr := promotion{from: "staging", to: "production", fromRecs: tt.from, requires: tt.requires,
				required: map[string][]*ledger.Record{"qa": tt.qa}}
			got, err := choosePromotion(pr)
			if strings.HasPrefix(tt.want, "r-") {
				if err != nil || got.RunID != tt.want {
					t.Fatalf("got %v, %v; want run %s", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, err %v; want a refusal with %q", got, err, tt.want)
			}
			if tt.name == "no success" && !errors.Is(err, errNoRelease) {
				t.Errorf("err = %v, want errNoRelease", err)
			}
		})
	}
}

func TestBehind(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	r1, r2 := release("r-1", "101", t0), release("r-2", "102", t0.Add(time.Minute))
	prom := release("r-p", "102", t0.Add(2*time.Minute))
	prom.Target, prom.PromotedFrom = "promote", &ledger.Promotion{Env: "staging", RunID: "r-2"}
	for _, tt := range []struct {
		name          string
		prod, staging []*ledger.Record
		want          string
	}{
		{"behind", []*ledger.Record{r1}, []*ledger.Record{r2, r1}, "production is behind staging, which runs 102"},
		{"nothing yet", nil, []*ledger.Record{r2}, "production is behind staging"},
		{"same", []*ledger.Record{prom}, []*ledger.Record{r2}, "production runs what staging runs (102"},
		{"staging empty", []*ledger.Record{r1}, nil, "staging runs no release"},
	} {
		if got := behind("production", "staging", tt.prod, tt.staging); !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := how(prom); got != "promoted from staging r-2" {
		t.Errorf("how = %q", got)
	}
}

func TestPromoteRefusedBeforeAnythingRuns(t *testing.T) {
	out := recorded(t) // the lab's file: local, staging, production
	for _, tt := range []struct{ from, to, want string }{
		{"staging", "production", "no successful release on staging"},
		{"staging", "staging", "both staging"},
		{"staging", "qa", `declares no environment "qa"`},
	} {
		err := Promote(t.Context(), tt.from, tt.to)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "refused, nothing was run") {
			t.Errorf("promote %s %s: %v, want %q", tt.from, tt.to, err, tt.want)
		}
	}
	if strings.Contains(out.String(), "promoting") {
		t.Errorf("a refused promotion started:\n%s", out)
	}
	t.Setenv("BATON_ENV", "production")
	if err := Deploy(t.Context()); err == nil || !strings.Contains(err.Error(), "promote staging production") {
		t.Errorf("deploy to production: %v, want it sent to promote", err)
	}
	// A stage run alone would change production with this checkout's
	// files just as much: refused the same way, before a run is recorded.
	for name, run := range map[string]func() error{
		"stage1":                  func() error { return Stage1(t.Context()) },
		"stage2":                  func() error { return Stage2(t.Context(), "8025") },
		"stage3":                  func() error { return Stage3(t.Context(), "-") },
		"stage ansible.configure": func() error { return Stage(t.Context(), "ansible.configure") },
	} {
		err := run()
		if err == nil || !strings.Contains(err.Error(), name+" runs this checkout's files there") || !strings.Contains(err.Error(), "promote staging production") {
			t.Errorf("%s in production: %v, want it sent to promote", name, err)
		}
	}
	if runs, _ := filepath.Glob(filepath.Join(os.Getenv("BATON_ROOT"), ".baton", "production", "runs", "*")); len(runs) != 0 {
		t.Errorf("refused runs left %v", runs)
	}
}
