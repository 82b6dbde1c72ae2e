package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// stageDone is what a stage's goroutine hands back to the scheduler.
type stageDone struct {
	idx   int
	res   StageResult
	given []handoff.Value
	err   error
}

// scheduler starts the stages of one run as the stages they wait for
// finish, and gathers their results into the run's Summary.
type scheduler struct {
	rs        *runState
	selected  []Stage
	inputs    map[string][]handoff.Value // resolved from outside, by stage
	planSkips map[string]string          // stage → why it is skipped unrun
	sum       *Summary
	inRun     map[string]int // stage name → index in selected
	done      chan stageDone
	running   int
	errs      []error // of the stages that failed, as they finished
}

// schedule starts every stage whose dependencies are done, until all have
// run, one has failed, or ctx is cancelled.
func (rs *runState) schedule(ctx context.Context, selected []Stage, inputs map[string][]handoff.Value, planSkips map[string]string, sum *Summary) error {
	sc := &scheduler{
		rs: rs, selected: selected, inputs: inputs, planSkips: planSkips, sum: sum,
		inRun: map[string]int{}, done: make(chan stageDone),
	}
	for i, s := range selected {
		sc.inRun[s.Name()] = i
	}
	for {
		sc.startReady(ctx)
		if sc.running == 0 {
			break
		}
		sc.collect(<-sc.done)
	}
	return sc.result(ctx)
}

// startReady starts stages until no more can start now: none is ready,
// Parallelism is reached, or the run is stopping.
func (sc *scheduler) startReady(ctx context.Context) {
	for unblocked := true; unblocked && sc.mayStart(ctx); {
		unblocked = sc.startPass(ctx)
	}
}

// mayStart reports whether the run still starts stages: it is not
// cancelled, and no stage has failed or the mode keeps going regardless.
func (sc *scheduler) mayStart(ctx context.Context) bool {
	return (len(sc.errs) == 0 || sc.rs.rules.keepGoing) && ctx.Err() == nil
}

// startPass goes once over the pending stages in order, starting those
// that are ready, and reports whether it skipped one as planned: that may
// have made later stages ready, so another pass is worth it.
func (sc *scheduler) startPass(ctx context.Context) (skipped bool) {
	for i, s := range sc.selected {
		if sc.sum.Stages[i].Status != StatusPending || !sc.ready(i) {
			continue
		}
		if p := sc.rs.opts.Parallelism; p > 0 && sc.running >= p {
			break
		}
		if reason, ok := sc.planSkips[s.Name()]; ok {
			sc.rs.skipped(sc.sum, i, reason)
			skipped = true
			continue
		}
		sc.sum.Stages[i].Status = StatusRunning
		sc.running++
		go func() {
			sc.done <- sc.rs.runStage(ctx, i, s, sc.rs.stageInputs(s, sc.inputs[s.Name()]))
		}()
	}
	return skipped
}

// ready reports whether stage i can start: every stage of the run it waits
// for has succeeded or was skipped — or, when the mode keeps going, has
// finished at all.
func (sc *scheduler) ready(i int) bool {
	for _, d := range sc.rs.waitsFor(sc.selected[i].Name()) {
		j, ok := sc.inRun[d]
		if !ok {
			continue
		}
		st := sc.sum.Stages[j].Status
		if sc.rs.rules.keepGoing && st != StatusPending && st != StatusRunning {
			continue // every check runs, whatever the others found
		}
		if st != StatusSucceeded && st != StatusSkipped {
			return false
		}
	}
	return true
}

// collect records a finished stage.
func (sc *scheduler) collect(d stageDone) {
	sc.running--
	sc.sum.Stages[d.idx] = d.res
	if d.err != nil {
		sc.errs = append(sc.errs, d.err)
	}
}

// result marks the stages that never started, saying why, and returns the
// run's error: the first failure (every failure, joined, when the mode
// keeps going) or else the cancellation.
func (sc *scheduler) result(ctx context.Context) error {
	var err error
	switch {
	case len(sc.errs) > 1 && sc.rs.rules.keepGoing:
		err = errors.Join(sc.errs...)
	case len(sc.errs) > 0:
		err = sc.errs[0]
	}
	reason := "the run was cancelled"
	if err != nil {
		reason = "an earlier stage failed"
	}
	for i := range sc.sum.Stages {
		if sc.sum.Stages[i].Status == StatusPending {
			sc.sum.Stages[i].Status = StatusNotRun
			sc.sum.Stages[i].Reason = reason
		}
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("run %s: %w", sc.rs.runID, context.Cause(ctx))
	}
	return err
}
