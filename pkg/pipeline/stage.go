package pipeline

import (
	"context"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// Stage does one job with one tool. Run reads the handoffs listed in Needs
// from j.In and must give every handoff listed in Gives through j.Out; the
// runner checks both. Run must return soon after ctx is done, and must not
// keep j after it returns.
type Stage interface {
	Name() string
	Needs() []handoff.Def
	Gives() []handoff.Def
	Run(ctx context.Context, j *Job) error
}

// Planner is a stage that can show what it would do without doing it:
// packer validate, terraform plan, ansible-playbook --check --diff. Plan must
// change nothing and gives no handoffs.
type Planner interface {
	Plan(ctx context.Context, j *Job) error
}

// Checker is a stage that can tell whether what it made is still there and
// healthy: the template is registered, the state shows no drift, the hosts
// answer.
type Checker interface {
	Check(ctx context.Context, j *Job) error
}

// Rollbacker is a stage that can undo what it made, such as destroying the
// machines Terraform created. j.In holds the handoffs the stage last
// consumed, where they are known.
type Rollbacker interface {
	Rollback(ctx context.Context, j *Job) error
}

// Fingerprinter is a stage that can summarise its inputs — the files it
// reads, its variables, the handoffs it needs, its tool's version — in one
// string, so that a run can skip it when nothing changed since it last
// succeeded.
type Fingerprinter interface {
	Fingerprint(ctx context.Context, j *Job) (string, error)
}

// Sequencer is a stage that must run after other stages without needing a
// handoff from them, such as Ansible after the wait for SSH. After names
// those stages; names of stages that a run does not include are ignored.
type Sequencer interface {
	After() []string
}

// Func returns a Stage whose Run is run; it is the quickest way to put a
// few lines of Go into a pipeline.
func Func(name string, needs, gives []handoff.Def, run func(ctx context.Context, j *Job) error) Stage {
	return &funcStage{name: name, needs: needs, gives: gives, run: run}
}

type funcStage struct {
	name         string
	needs, gives []handoff.Def
	run          func(ctx context.Context, j *Job) error
}

func (s *funcStage) Name() string                          { return s.name }
func (s *funcStage) Needs() []handoff.Def                  { return s.needs }
func (s *funcStage) Gives() []handoff.Def                  { return s.gives }
func (s *funcStage) Run(ctx context.Context, j *Job) error { return s.run(ctx, j) }
