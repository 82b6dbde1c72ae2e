package pipeline

import (
	"context"
	"fmt"
)

// stageMethod is the method of a stage that a mode calls.
type stageMethod func(ctx context.Context, j *Job) error

// modeRules is everything that tells one Mode from another. A run looks its
// rules up once; the runner asks them, never the Mode itself, so the table
// below is the whole of what each mode does differently.
type modeRules struct {
	// method returns the stage's method for the mode; ok is false when the
	// stage has none, and it is then skipped ("has no plan").
	method func(s Stage) (fn stageMethod, ok bool)
	// reverse makes a stage wait for the stages that depend on it instead
	// of those it depends on: what was made last is undone first.
	reverse bool
	// keepGoing lets every stage run whatever the others found: a failure
	// stops nothing, and every failure is reported, joined.
	keepGoing bool
	// gives says stages give handoffs: a need that a stage of the run gives
	// is taken from it, a stage must give exactly what it declares, what it
	// gives is stored and published, and a stage that skips itself
	// publishes again what it last gave.
	gives bool
	// fingerprints says a Fingerprinter's inputs are fingerprinted, an
	// unchanged stage may be skipped, and a success's fingerprint is kept.
	fingerprints bool
	// skipUnresolved makes a stage with a need that no source has a planned
	// skip saying so, instead of an error that stops the run before it
	// starts.
	skipUnresolved bool
	// ownGives gives a stage, besides its needs, what it last gave, from
	// the store: a check or a rollback must know what the stage made.
	ownGives bool
}

// modes holds the rules of every Mode.
var modes = map[Mode]modeRules{
	ModeRun:      {method: methodOf(Stage.Run), gives: true, fingerprints: true},
	ModePlan:     {method: methodOf(Planner.Plan), skipUnresolved: true},
	ModeCheck:    {method: methodOf(Checker.Check), skipUnresolved: true, ownGives: true, keepGoing: true},
	ModeRollback: {method: methodOf(Rollbacker.Rollback), skipUnresolved: true, ownGives: true, reverse: true},
}

// rulesOf returns the rules of mode.
func rulesOf(mode Mode) (modeRules, error) {
	r, ok := modes[mode]
	if !ok {
		return modeRules{}, fmt.Errorf("run: unknown mode %q: use %s, %s, %s or %s", mode, ModeRun, ModePlan, ModeCheck, ModeRollback)
	}
	return r, nil
}

// methodOf turns a method expression of the interface I (Planner.Plan)
// into the lookup of that method on a stage, which a stage that is not an
// I does not have.
func methodOf[I any](m func(I, context.Context, *Job) error) func(Stage) (stageMethod, bool) {
	return func(s Stage) (stageMethod, bool) {
		i, ok := s.(I)
		if !ok {
			return nil, false
		}
		return func(ctx context.Context, j *Job) error { return m(i, ctx, j) }, true
	}
}
