package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// Run runs the selected stages, each once its dependencies have succeeded,
// independent ones at the same time, and returns what happened. It stops
// starting stages at the first failure, lets those already running finish,
// and returns a *StageError naming the stage. When ctx is cancelled the
// running stages are cancelled too and given Options.Grace to stop; the
// error then wraps ctx's error. Inputs that no source can give are reported
// together before any stage runs.
func (p *Pipeline) Run(ctx context.Context, opts Options) (*Summary, error) {
	return p.run(ctx, ModeRun, opts)
}

// Plan runs the dry run of the selected stages that are Planners, giving
// and storing no handoffs. A stage whose inputs no source can give yet (its
// producer has never run) is skipped with that reason rather than failing
// the plan.
func (p *Pipeline) Plan(ctx context.Context, opts Options) (*Summary, error) {
	return p.run(ctx, ModePlan, opts)
}

// Check runs the health check of the selected stages that are Checkers,
// with the inputs the store holds: is what each made still there and well?
func (p *Pipeline) Check(ctx context.Context, opts Options) (*Summary, error) {
	return p.run(ctx, ModeCheck, opts)
}

// Rollback undoes what the selected stages made, in reverse order: a stage
// is undone only after every selected stage downstream of it. Stages that
// are not Rollbackers are skipped; inputs come from Args, the environment or
// the store, and a stage whose inputs no source has is skipped with that
// reason (it has most likely never run).
func (p *Pipeline) Rollback(ctx context.Context, opts Options) (*Summary, error) {
	return p.run(ctx, ModeRollback, opts)
}

type runState struct {
	p      *Pipeline
	mode   Mode
	rules  modeRules // what mode does: ask these, not mode
	opts   Options
	runID  string
	runDir string
	em     *emitter
	redact *Redactor
	log    zerolog.Logger
	values handoff.Values // given in this run
}

func (p *Pipeline) run(ctx context.Context, mode Mode, opts Options) (*Summary, error) {
	rules, err := rulesOf(mode)
	if err != nil {
		return nil, err
	}
	selected, err := p.selection(opts)
	if err != nil {
		return nil, err
	}
	rs := &runState{p: p, mode: mode, rules: rules, opts: opts, runID: opts.RunID, redact: NewRedactor(opts.Secrets...)}
	if rs.runID == "" {
		rs.runID = NewRunID()
	}
	rs.log = zerolog.Nop()
	if opts.Logger != nil {
		rs.log = opts.Logger.With().Str(keyRun, rs.runID).Logger()
	}
	rs.em = &emitter{sinks: opts.Sinks, redact: rs.redact, runID: rs.runID, mode: mode, now: time.Now}
	if opts.RunDir == "" {
		dir, err := os.MkdirTemp("", "baton-run-*")
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		defer os.RemoveAll(dir)
		rs.runDir = dir
	} else {
		if err := os.MkdirAll(opts.RunDir, 0o700); err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		rs.runDir = opts.RunDir
	}

	sum := &Summary{RunID: rs.runID, Mode: mode, Status: StatusRunning, Start: time.Now()}
	names := make([]string, len(selected))
	for i, s := range selected {
		names[i] = s.Name()
		sum.Stages = append(sum.Stages, StageResult{Name: s.Name(), Status: StatusPending})
	}
	rs.em.emit(Event{Kind: RunStarted, Stages: names})

	inputs, planSkips, err := rs.resolveInputs(selected)
	if err != nil {
		return rs.finish(sum, fmt.Errorf("run %s cannot start: %w", rs.runID, err))
	}
	err = rs.schedule(ctx, selected, inputs, planSkips, sum)
	return rs.finish(sum, err)
}

func (rs *runState) skipped(sum *Summary, i int, reason string) {
	r := &sum.Stages[i]
	r.Status = StatusSkipped
	r.Reason = reason
	rs.emitSkipped(r.Name, reason)
}

// emitSkipped reports a stage skipped without running.
func (rs *runState) emitSkipped(stage, reason string) {
	rs.em.emit(Event{Kind: StageSkipped, Stage: stage, Reason: reason})
	rs.em.emit(Event{Kind: StageFinished, Stage: stage, Status: StatusSkipped, Reason: reason})
}

func (rs *runState) finish(sum *Summary, err error) (*Summary, error) {
	sum.End = time.Now()
	switch {
	case err == nil:
		sum.Status = StatusSucceeded
	case errors.Is(err, context.Canceled):
		sum.Status = StatusCancelled
	default:
		sum.Status = StatusFailed
	}
	for i := range sum.Stages {
		if sum.Stages[i].Status == StatusPending {
			sum.Stages[i].Status = StatusNotRun
		}
	}
	if err != nil {
		err = rs.redact.Error(err)
		sum.Error = err.Error()
	}
	final := *sum
	rs.em.emit(Event{Kind: RunFinished, Status: sum.Status, Duration: sum.Duration(), Error: sum.Error, Summary: &final})
	return sum, err
}

// runStage runs one stage with its policy and reports the result.
func (rs *runState) runStage(ctx context.Context, idx int, s Stage, in *handoff.Values) stageDone {
	name := s.Name()
	res := StageResult{Name: name, Start: time.Now()}
	for _, v := range in.All() {
		res.Used = append(res.Used, rs.info(v))
	}
	fn, ok := rs.rules.method(s)
	if !ok {
		res.Status, res.Reason = StatusSkipped, fmt.Sprintf("has no %s", rs.mode)
		rs.emitSkipped(name, res.Reason)
		return stageDone{idx: idx, res: res}
	}
	dir := filepath.Join(rs.runDir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		res.Status, res.Error = StatusFailed, err.Error()
		return stageDone{idx: idx, res: res, err: &StageError{Stage: name, Err: err}}
	}
	t := rs.try(ctx, s, fn, in, dir)
	res.Attempts = t.attempts
	res.Duration = time.Since(res.Start)
	res.Fingerprint = t.fingerprint
	if t.job != nil {
		res.Note, res.Detail = t.job.result()
	}
	given, skip, err := rs.settle(s, t)
	for _, v := range given {
		res.Given = append(res.Given, rs.info(v))
	}
	if skip != nil {
		res.Reason = skip.Reason
	}
	res.Status = stageStatus(ctx, err, skip != nil)
	var serr error
	if err != nil {
		res.Error = rs.redact.Redact(err.Error())
		serr = &StageError{Stage: name, Attempts: t.attempts, Err: err}
	}
	rs.em.emit(Event{Kind: StageFinished, Stage: name, Status: res.Status, Attempt: t.attempts, Duration: res.Duration, Error: res.Error, Reason: res.Reason})
	return stageDone{idx: idx, res: res, given: given, err: serr}
}

// tried is what the attempts at a stage came to.
type tried struct {
	job         *Job   // of the last attempt; nil when none started
	fingerprint string // of the inputs, when the mode fingerprints
	attempts    int
	err         error
}

// try calls a stage's method under the stage's policy — a timeout per
// attempt, retries, the grace to stop — after, on the first attempt,
// asking whether the stage is unchanged and can be skipped.
func (rs *runState) try(ctx context.Context, s Stage, fn stageMethod, in *handoff.Values, dir string) tried {
	name := s.Name()
	policy := rs.policy(name)
	retry := policy.Retry
	retry.OnRetry = func(attempt int, err error, wait time.Duration) {
		rs.em.emit(Event{Kind: StageRetrying, Stage: name, Attempt: attempt, Error: err.Error(), Wait: wait})
	}
	var t tried
	t.attempts, t.err = retry.Do(ctx, func(ctx context.Context, attempt int) error {
		t.job = rs.newJob(name, attempt, dir, in)
		rs.em.emit(Event{Kind: StageStarted, Stage: name, Attempt: attempt})
		if attempt == 1 {
			var reason string
			if t.fingerprint, reason = rs.unchanged(ctx, s, t.job); reason != "" {
				return Skip(reason)
			}
		}
		if err := runAttempt(ctx, policy.Timeout, rs.grace(), func(ctx context.Context) error { return fn(ctx, t.job) }); err != nil {
			return err
		}
		if rs.rules.gives {
			return checkGives(s, t.job.Out)
		}
		return nil
	})
	return t
}

// policy is the stage's own policy, or else the run's default.
func (rs *runState) policy(stage string) Policy {
	if p, ok := rs.opts.Policies[stage]; ok {
		return p
	}
	return rs.opts.DefaultPolicy
}

// grace is how long a cancelled stage is given to stop.
func (rs *runState) grace() time.Duration {
	if rs.opts.Grace <= 0 {
		return 10 * time.Second
	}
	return rs.opts.Grace
}

// newJob is the Job of one attempt at a stage.
func (rs *runState) newJob(stage string, attempt int, dir string, in *handoff.Values) *Job {
	return &Job{
		RunID: rs.runID, Stage: stage, Attempt: attempt, Mode: rs.mode, Dir: dir,
		In: in, Out: &handoff.Values{},
		Log:  rs.log.With().Str(keyStage, stage).Int(keyAttempt, attempt).Logger(),
		emit: rs.em.emit, redact: rs.redact,
	}
}

// settle deals with how a stage's attempts ended. A success gives its
// handoffs and keeps its fingerprint; a stage that skipped itself gives
// again what it last gave. It returns the handoffs given, the skip when
// the stage skipped itself, and the error that fails the stage.
func (rs *runState) settle(s Stage, t tried) (given []handoff.Value, skip *SkipError, err error) {
	switch {
	case t.err == nil:
		given, err = rs.give(s, t.job.Out, false)
		if err == nil && rs.rules.fingerprints {
			err = recordFingerprint(rs.opts.Fingerprints, s.Name(), t.fingerprint)
		}
	case errors.As(t.err, &skip):
		rs.em.emit(Event{Kind: StageSkipped, Stage: s.Name(), Reason: skip.Reason})
		if rs.rules.gives {
			given, err = rs.reuse(s)
		}
	default:
		err = t.err
	}
	return given, skip, err
}

// stageStatus is how a stage ended, from its error and whether it skipped
// itself.
func stageStatus(ctx context.Context, err error, skipped bool) Status {
	switch {
	case err == nil && skipped:
		return StatusSkipped
	case err == nil:
		return StatusSucceeded
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return StatusCancelled
	default:
		return StatusFailed
	}
}

// waitsFor names the stages that the named one waits for: those it
// depends on, or in reverse those that depend on it.
func (rs *runState) waitsFor(name string) []string {
	if rs.rules.reverse {
		return rs.p.dependents(name)
	}
	return rs.p.deps[name]
}

// runAttempt runs one attempt of fn with a timeout, and gives up waiting for
// it grace after its context ends, so a stage that ignores cancellation
// cannot hold the run forever.
func runAttempt(ctx context.Context, timeout, grace time.Duration, fn func(ctx context.Context) error) error {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("stage panicked: %v\n%s", r, debug.Stack())
			}
		}()
		done <- fn(actx)
	}()
	var err error
	select {
	case err = <-done:
	case <-actx.Done():
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case err = <-done:
		case <-t.C:
			return fmt.Errorf("did not stop within %s of being asked to: %w", grace, context.Cause(actx))
		}
	}
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w (%w)", timeout, err, context.DeadlineExceeded)
	}
	return err
}
