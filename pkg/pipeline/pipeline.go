package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// Pipeline is a set of stages whose handoffs form a graph without cycles.
// It is immutable once made by New and safe for concurrent use; each Run
// has state of its own.
type Pipeline struct {
	stages   []Stage          // in a topological order, stable with New's argument order
	index    map[string]int   // stage name → position in stages
	producer map[string]Stage // handoff name → the stage that gives it
	deps     map[string][]string
	defs     map[string]handoff.Def // every handoff named, needed or given
}

var stageNameRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// New checks stages and returns them as a Pipeline. It is an error when two
// stages share a name, two stages give the same handoff, a stage needs a
// handoff it gives itself, a stage declares an invalid handoff name, a
// Sequencer names a stage that is not there, or the stages form a cycle.
// A handoff that no stage gives is not an error here: a run takes it from
// an argument, the environment or the store, and fails before anything runs
// when none has it.
func New(stages ...Stage) (*Pipeline, error) {
	p := &Pipeline{
		index:    make(map[string]int),
		producer: make(map[string]Stage),
		deps:     make(map[string][]string),
		defs:     make(map[string]handoff.Def),
	}
	byName, errs := p.addStages(stages)
	for _, s := range stages {
		if s == nil || byName[s.Name()] != s {
			continue
		}
		errs = append(errs, p.linkNeeds(s)...)
		errs = append(errs, p.linkAfter(s, byName)...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("pipeline: %w", errors.Join(errs...))
	}
	order, err := topoSort(stages, p.deps)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p.stages = order
	for i, s := range order {
		p.index[s.Name()] = i
	}
	return p, nil
}

// addStages checks each stage's name and records the handoffs it gives,
// so that needs can be linked to their producers whatever the order. It
// returns the stages by name, without those refused.
func (p *Pipeline) addStages(stages []Stage) (map[string]Stage, []error) {
	var errs []error
	byName := make(map[string]Stage)
	for _, s := range stages {
		if s == nil {
			errs = append(errs, errors.New("a stage is nil"))
			continue
		}
		name := s.Name()
		if !stageNameRE.MatchString(name) {
			errs = append(errs, fmt.Errorf("stage name %q is not valid: use 1-64 lowercase letters, digits, '-', '_' or '.', starting with a letter", name))
			continue
		}
		if _, dup := byName[name]; dup {
			errs = append(errs, fmt.Errorf("two stages are named %q", name))
			continue
		}
		byName[name] = s
		errs = append(errs, p.addGives(s)...)
	}
	return byName, errs
}

// addGives records s as the producer of each handoff it gives.
func (p *Pipeline) addGives(s Stage) []error {
	var errs []error
	for _, d := range s.Gives() {
		if err := p.addDef(s.Name(), d); err != nil {
			errs = append(errs, err)
			continue
		}
		if other, ok := p.producer[d.Name()]; ok {
			errs = append(errs, fmt.Errorf("handoff %q is given by two stages, %q and %q: rename one of them", d.Name(), other.Name(), s.Name()))
			continue
		}
		p.producer[d.Name()] = s
	}
	return errs
}

// linkNeeds makes s depend on the producer of each handoff it needs.
func (p *Pipeline) linkNeeds(s Stage) []error {
	var errs []error
	name := s.Name()
	for _, d := range s.Needs() {
		if err := p.addDef(name, d); err != nil {
			errs = append(errs, err)
			continue
		}
		prod, ok := p.producer[d.Name()]
		switch {
		case !ok:
		case prod == s:
			errs = append(errs, fmt.Errorf("stage %q both needs and gives handoff %q", name, d.Name()))
		default:
			p.deps[name] = appendUnique(p.deps[name], prod.Name())
		}
	}
	return errs
}

// linkAfter makes a Sequencer depend on the stages it names in After.
func (p *Pipeline) linkAfter(s Stage, byName map[string]Stage) []error {
	seq, ok := s.(Sequencer)
	if !ok {
		return nil
	}
	var errs []error
	name := s.Name()
	for _, after := range seq.After() {
		switch {
		case after == name:
			errs = append(errs, fmt.Errorf("stage %q is set to run after itself", name))
		case byName[after] == nil:
			errs = append(errs, fmt.Errorf("stage %q is set to run after %q, which is not in the pipeline", name, after))
		default:
			p.deps[name] = appendUnique(p.deps[name], after)
		}
	}
	return errs
}

func (p *Pipeline) addDef(stage string, d handoff.Def) error {
	if d == nil {
		return fmt.Errorf("stage %q lists a nil handoff", stage)
	}
	if err := handoff.ValidName(d.Name()); err != nil {
		return fmt.Errorf("stage %q: %w", stage, err)
	}
	p.defs[d.Name()] = d
	return nil
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// topoSort orders stages so that each comes after those it depends on,
// keeping the caller's order among stages that do not depend on each other.
// On a cycle it reports the stages on it.
func topoSort(stages []Stage, deps map[string][]string) ([]Stage, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int)
	byName := make(map[string]Stage)
	for _, s := range stages {
		byName[s.Name()] = s
	}
	var (
		order []Stage
		path  []string
		visit func(name string) error
	)
	visit = func(name string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			start := slices.Index(path, name)
			cycle := append(slices.Clone(path[start:]), name)
			return fmt.Errorf("stages form a cycle: %s; a stage cannot need, even indirectly, what it gives", strings.Join(cycle, " → "))
		}
		state[name] = visiting
		path = append(path, name)
		for _, d := range deps[name] {
			if err := visit(d); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		order = append(order, byName[name])
		return nil
	}
	for _, s := range stages {
		if err := visit(s.Name()); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Stages returns the stages in the order a run starts them when it runs one
// at a time.
func (p *Pipeline) Stages() []Stage { return slices.Clone(p.stages) }

// Stage returns the stage named name.
func (p *Pipeline) Stage(name string) (Stage, bool) {
	i, ok := p.index[name]
	if !ok {
		return nil, false
	}
	return p.stages[i], true
}

// Producer returns the stage that gives the handoff named name.
func (p *Pipeline) Producer(name string) (Stage, bool) {
	s, ok := p.producer[name]
	return s, ok
}

// Deps returns the names of the stages that stage name must wait for.
func (p *Pipeline) Deps(name string) []string { return slices.Clone(p.deps[name]) }

// Def returns the handoff named name, as a stage of the pipeline declared it.
func (p *Pipeline) Def(name string) (handoff.Def, bool) {
	d, ok := p.defs[name]
	return d, ok
}

// Downstream returns name and every stage that depends on it, directly or
// not, in pipeline order: what "from this stage onwards" means.
func (p *Pipeline) Downstream(name string) ([]string, error) {
	if _, ok := p.index[name]; !ok {
		return nil, p.unknownStage(name)
	}
	in := map[string]bool{name: true}
	var out []string
	for _, s := range p.stages {
		n := s.Name()
		if !in[n] {
			for _, d := range p.deps[n] {
				if in[d] {
					in[n] = true
					break
				}
			}
		}
		if in[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func (p *Pipeline) unknownStage(name string) error {
	names := make([]string, len(p.stages))
	for i, s := range p.stages {
		names[i] = s.Name()
	}
	return fmt.Errorf("no stage is named %q; the stages are %s", name, strings.Join(names, ", "))
}

// dependents lists the stages that depend directly on the named one.
func (p *Pipeline) dependents(name string) []string {
	var out []string
	for _, s := range p.stages {
		if slices.Contains(p.deps[s.Name()], name) {
			out = append(out, s.Name())
		}
	}
	return out
}

// Mermaid returns the pipeline as a Mermaid flowchart: stages as nodes,
// handoffs as labelled edges, ordering without a handoff as dotted edges,
// and handoffs no stage gives as inputs from outside.
func (p *Pipeline) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, s := range p.stages {
		fmt.Fprintf(&b, "    %s[%s]\n", mermaidID(s.Name()), s.Name())
	}
	external := map[string]bool{}
	for _, s := range p.stages {
		labels := map[string][]string{}
		for _, d := range s.Needs() {
			prod, ok := p.producer[d.Name()]
			if !ok {
				if !external[d.Name()] {
					external[d.Name()] = true
					fmt.Fprintf(&b, "    in_%s([%s]) -.-> %s\n", mermaidID(d.Name()), d.Name(), mermaidID(s.Name()))
				} else {
					fmt.Fprintf(&b, "    in_%s -.-> %s\n", mermaidID(d.Name()), mermaidID(s.Name()))
				}
				continue
			}
			labels[prod.Name()] = append(labels[prod.Name()], d.Name())
		}
		for _, dep := range p.deps[s.Name()] {
			if l, ok := labels[dep]; ok {
				fmt.Fprintf(&b, "    %s -->|%s| %s\n", mermaidID(dep), strings.Join(l, ", "), mermaidID(s.Name()))
			} else {
				fmt.Fprintf(&b, "    %s -.->|after| %s\n", mermaidID(dep), mermaidID(s.Name()))
			}
		}
	}
	return b.String()
}

func mermaidID(name string) string { return strings.NewReplacer("-", "_", ".", "_").Replace(name) }
