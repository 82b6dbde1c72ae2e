package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// builder is a Fingerprinter and Checker whose inputs and product the test
// controls.
type builder struct {
	Stage
	input  string
	exists bool
	runs   atomic.Int64
}

func (b *builder) Fingerprint(ctx context.Context, j *Job) (string, error) {
	return "fp-" + b.input, nil
}
func (b *builder) Check(ctx context.Context, j *Job) error {
	if _, err := imageID.Get(j.In); err != nil {
		return err
	}
	if !b.exists {
		return errors.New("the template is gone")
	}
	return nil
}

func TestUnchangedStageIsSkippedAndReusesItsHandoffs(t *testing.T) {
	dir := t.TempDir()
	store, _ := handoff.OpenStore(filepath.Join(dir, "h"))
	b := &builder{input: "a", exists: true}
	b.Stage = Func("build", nil, []handoff.Def{imageID}, func(ctx context.Context, j *Job) error {
		n := b.runs.Add(1)
		return imageID.Put(j.Out, 8024+int(n))
	})
	var got int
	use := Func("use", []handoff.Def{imageID}, nil, func(ctx context.Context, j *Job) error {
		got, _ = imageID.Get(j.In)
		return nil
	})
	p, _ := New(b, use)
	opts := Options{Store: store, Fingerprints: FileFingerprints{Dir: filepath.Join(dir, "fp")}, SkipUnchanged: map[string]bool{"build": true}, Getenv: func(string) string { return "" }}
	run := func(o Options) *Summary {
		t.Helper()
		sum, err := p.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	run(opts)
	sum := run(opts)
	if b.runs.Load() != 1 || sum.Stages[0].Status != StatusSkipped || sum.Stages[0].Reason != "unchanged" || got != 8025 {
		t.Errorf("unchanged: runs=%d status=%s reason=%q used=%d; want 1 run, skipped, 8025 reused", b.runs.Load(), sum.Stages[0].Status, sum.Stages[0].Reason, got)
	}
	force := opts
	force.Force = true
	run(force)
	if b.runs.Load() != 2 || got != 8026 {
		t.Errorf("force: runs=%d used=%d, want a new build", b.runs.Load(), got)
	}
	b.exists = false
	run(opts)
	if b.runs.Load() != 3 {
		t.Errorf("product gone: runs=%d, want the stage to run", b.runs.Load())
	}
	b.exists = true
	b.input = "b"
	sum = run(opts)
	if b.runs.Load() != 4 || sum.Stages[0].Fingerprint != "fp-b" {
		t.Errorf("changed input: runs=%d fingerprint=%q", b.runs.Load(), sum.Stages[0].Fingerprint)
	}
	noSkip := opts
	noSkip.SkipUnchanged = nil
	run(noSkip)
	if b.runs.Load() != 5 {
		t.Errorf("not allowed to skip: runs=%d, want 5", b.runs.Load())
	}
}
