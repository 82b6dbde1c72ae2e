package targets

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
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

// status reads each environment's handoff store as the next run would: a
// damaged file is named with what to do, and a value that is not the
// release's is pointed out; a store that matches says nothing.
func TestStatusNoticesTheStore(t *testing.T) {
	rel := release("r-one", "8025", time.Now().Add(-time.Hour))
	same := handoff.Value{Name: "packer.image.artifact_id", Raw: []byte("8025"), Stage: "packer.image", RunID: "r-one"}
	rel.Handoffs["packer.image.artifact_id"] = ledger.Handoff{Display: "8025", Text: "8025", SHA256: same.SHA256()}
	out := recorded(t, rel)
	store, err := handoff.OpenStore(filepath.Join(os.Getenv("BATON_ROOT"), ".baton", "local", "handoffs"))
	if err != nil {
		t.Fatal(err)
	}
	status := func() string {
		t.Helper()
		mark := len(out.String())
		if err := Status(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out.String()[mark:]
	}
	if err := store.Put(same); err != nil {
		t.Fatal(err)
	}
	if got := status(); strings.Contains(got, "damaged") || strings.Contains(got, "changed") {
		t.Errorf("status of a store that matches its release:\n%s", got)
	}

	newer := same
	newer.Raw, newer.RunID = []byte("8026"), "r-two"
	if err := store.Put(newer); err != nil {
		t.Fatal(err)
	}
	broken := store.Path("terraform.hosts.ansible_inventory")
	if err := os.WriteFile(broken, []byte(`{"schema":1,"name":"terraform.hosts.ansible_inv`), 0o600); err != nil {
		t.Fatal(err)
	}
	got := status()
	for _, want := range []string{
		"changed   packer.image.artifact_id in the store is not the release's (given by packer.image in run r-two)",
		"damaged   handoff file " + broken + " is not usable",
		"delete it and re-run the stage that gives it",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status does not say %q:\n%s", want, got)
		}
	}
}
