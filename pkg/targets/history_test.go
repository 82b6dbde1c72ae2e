package targets

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// recorded makes a project over the lab's pipeline file with the given
// runs in its history, without running anything.
func recorded(t *testing.T, recs ...*ledger.Record) *syncBuffer {
	t.Helper()
	root := t.TempDir()
	lab, _ := filepath.Abs("../../examples/local")
	t.Setenv("BATON_ROOT", root)
	t.Setenv("BATON_PIPELINE", lab)
	t.Setenv("BATON_ENV", "")
	t.Setenv("BATON_JSON", "")
	t.Setenv("BATON_LEDGER", "")
	led, err := ledger.Open(filepath.Join(root, ".baton", "local", "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Env, r.User, r.Host, r.Trigger = "local", "ann", "box", "cli"
		if err := led.Begin(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := led.Finish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, ".baton", "local", "runs"), 0o700)
	out := &syncBuffer{}
	old := stdout
	stdout = out
	t.Cleanup(func() { stdout = old })
	return out
}

func release(id, tid string, start time.Time) *ledger.Record {
	return &ledger.Record{RunID: id, Target: "deploy", Mode: string(pipeline.ModeRun), Status: "succeeded", Start: start, End: start.Add(time.Minute), GitCommit: "abcdef0123456789",
		Stages:   []pipeline.StageResult{{Name: "terraform.hosts", Status: pipeline.StatusSucceeded, Attempts: 1, Note: "applied"}},
		Handoffs: map[string]ledger.Handoff{"packer.image.artifact_id": {Display: tid, Text: tid, SHA256: "0123456789abcdef"}}}
}

func TestStatusSaysDestroyed(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	destroy := &ledger.Record{RunID: "r-destroy", Target: "destroy", Mode: string(pipeline.ModeRollback), Status: "succeeded", Start: t0.Add(10 * time.Minute), End: t0.Add(11 * time.Minute)}
	out := recorded(t, release("r-one", "8025", t0), destroy)
	if err := Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "destroyed by run r-destroy") || !strings.Contains(got, "the last release was run r-one (8025") {
		t.Errorf("status after destroy:\n%s", got)
	}
	if strings.Contains(got, "  release ") {
		t.Errorf("status shows a release as deployed after destroy:\n%s", got)
	}
}

func TestStatusShowsRelease(t *testing.T) {
	out := recorded(t, release("r-one", "8025", time.Now().Add(-time.Hour)))
	if err := Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "release   run r-one") || strings.Contains(got, "destroyed") {
		t.Errorf("status:\n%s", got)
	}
}

func TestShowReadableAndJSON(t *testing.T) {
	out := recorded(t, release("r-one", "8025", time.Now().Add(-time.Hour)))
	if err := Show(context.Background(), "r-one"); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"run r-one: deploy succeeded in local", "ann@box", "abcdef012345", "terraform.hosts", "applied", "packer.image.artifact_id", "sha256 0123456789ab", "gantt"} {
		if !strings.Contains(got, want) {
			t.Errorf("show lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"run_id"`) {
		t.Errorf("show printed JSON by default:\n%s", got)
	}
	t.Setenv("BATON_JSON", "1")
	mark := len(out.String())
	if err := Show(context.Background(), "r-one"); err != nil {
		t.Fatal(err)
	}
	if js := out.String()[mark:]; !strings.Contains(js, `"run_id": "r-one"`) {
		t.Errorf("BATON_JSON=1 show:\n%s", js)
	}
}
