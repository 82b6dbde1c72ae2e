package stages

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// requireTool returns the path of a real tool, or skips the test — or
// fails it when BATON_E2E=required.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return testlab.Require(t, name)
}

// runStage runs one stage in a one-stage pipeline with the given inputs and
// returns the summary, the values it gave, and every event.
func runStage(t *testing.T, ctx context.Context, mode pipeline.Mode, s pipeline.Stage, args map[string]string) (*pipeline.Summary, *handoff.Store, []pipeline.Event, error) {
	t.Helper()
	return runStageOpts(t, ctx, mode, s, func(o *pipeline.Options) { o.Args = args })
}

// runStageWithSecrets runs s for real with values to mask from the start.
func runStageWithSecrets(t *testing.T, ctx context.Context, s pipeline.Stage, secrets []string) (*pipeline.Summary, *handoff.Store, []pipeline.Event, error) {
	t.Helper()
	return runStageOpts(t, ctx, pipeline.ModeRun, s, func(o *pipeline.Options) { o.Secrets = secrets })
}

// runStageOpts runs s in a one-stage pipeline with a fresh store and run
// directory; edit adjusts the options.
func runStageOpts(t *testing.T, ctx context.Context, mode pipeline.Mode, s pipeline.Stage, edit func(*pipeline.Options)) (*pipeline.Summary, *handoff.Store, []pipeline.Event, error) {
	t.Helper()
	p, err := pipeline.New(s)
	if err != nil {
		t.Fatal(err)
	}
	store, err := handoff.OpenStore(filepath.Join(t.TempDir(), "handoffs"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []pipeline.Event
	opts := pipeline.Options{
		RunDir: t.TempDir(),
		Getenv: func(string) string { return "" },
		Store:  store,
		Sinks: []pipeline.Sink{pipeline.SinkFunc(func(e pipeline.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		})},
	}
	if edit != nil {
		edit(&opts)
	}
	var sum *pipeline.Summary
	switch mode {
	case pipeline.ModePlan:
		sum, err = p.Plan(ctx, opts)
	case pipeline.ModeCheck:
		sum, err = p.Check(ctx, opts)
	case pipeline.ModeRollback:
		sum, err = p.Rollback(ctx, opts)
	default:
		sum, err = p.Run(ctx, opts)
	}
	mu.Lock()
	defer mu.Unlock()
	return sum, store, append([]pipeline.Event(nil), events...), err
}
