package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/stages"
	"github.com/baton-deploy/baton/pkg/targets"
)

// BenchmarkPipelineFile weighs what reading baton.hcl costs every target —
// decoding, checking references, files and declared variables, building
// the stages — against a no-op plan of the deployed lab, alternately.
func BenchmarkPipelineFile(b *testing.B) {
	l := newLab(b, 1)
	ctx := context.Background()
	if err := targets.Deploy(ctx); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(l.root, "examples", "local", config.FileName)
	load := func() time.Duration {
		start := time.Now()
		p, err := config.Load(file, config.Options{StateRoot: l.root})
		if err == nil {
			_, err = p.Build(stages.Exec{})
		}
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	plan := func() time.Duration {
		start := time.Now()
		if err := targets.Plan(ctx); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	tl, tp := alternate(b, 3, load, plan)
	b.ReportMetric(float64(tl.Microseconds())/1000, "load-ms")
	b.ReportMetric(float64(tp.Milliseconds()), "plan-ms")
	b.ReportMetric(float64(tl)/float64(tp), "load/plan")
}
