package pipeline

import (
	"errors"
	"fmt"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// selection returns the stages a run covers, in pipeline order.
func (p *Pipeline) selection(opts Options) ([]Stage, error) {
	if len(opts.Only) > 0 && opts.From != "" {
		return nil, errors.New("run: give Only or From, not both")
	}
	want := map[string]bool{}
	switch {
	case len(opts.Only) > 0:
		for _, n := range opts.Only {
			if _, ok := p.index[n]; !ok {
				return nil, fmt.Errorf("run: %w", p.unknownStage(n))
			}
			want[n] = true
		}
	case opts.From != "":
		down, err := p.Downstream(opts.From)
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		for _, n := range down {
			want[n] = true
		}
	default:
		for _, s := range p.stages {
			want[s.Name()] = true
		}
	}
	var out []Stage
	for _, s := range p.stages {
		if want[s.Name()] {
			out = append(out, s)
		}
	}
	return out, nil
}

// resolveInputs finds, for each selected stage, the values of the needs
// that no selected stage gives in this run. In a dry run every need comes
// from outside, since no stage gives anything; a need no source has makes
// the stage a planned skip instead of an error.
func (rs *runState) resolveInputs(selected []Stage) (map[string][]handoff.Value, map[string]string, error) {
	inRun := map[string]bool{}
	for _, s := range selected {
		inRun[s.Name()] = true
	}
	res := &handoff.Resolver{Args: rs.opts.Args, Getenv: rs.opts.Getenv, Store: rs.opts.Store}
	inputs := map[string][]handoff.Value{}
	skips := map[string]string{}
	var errs []error
	for _, s := range selected {
		for _, d := range s.Needs() {
			prod, hasProd := rs.p.producer[d.Name()]
			if rs.rules.gives && hasProd && inRun[prod.Name()] {
				continue
			}
			v, err := res.Resolve(d)
			var missing *handoff.MissingError
			if errors.As(err, &missing) {
				missing.Stage = s.Name()
				missing.Example = rs.opts.Hints[d.Name()]
				if hasProd {
					missing.Producer = prod.Name()
				}
				if rs.rules.skipUnresolved {
					if _, ok := skips[s.Name()]; !ok {
						skips[s.Name()] = fmt.Sprintf("needs %s, which no source has yet", d.Name())
						if hasProd {
							skips[s.Name()] += fmt.Sprintf(" (stage %s gives it when it really runs)", prod.Name())
						}
					}
					continue
				}
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if v.Sensitive || d.Sensitive() {
				v.Sensitive = true
				rs.redact.Add(v.Text())
			}
			inputs[s.Name()] = append(inputs[s.Name()], v)
		}
	}
	return inputs, skips, errors.Join(errs...)
}

// stageInputs gathers a stage's inputs: those resolved from outside and
// those given by stages of this run. A check or rollback also gets what the
// stage itself last gave, from the store, so that it knows what it made.
func (rs *runState) stageInputs(s Stage, outside []handoff.Value) *handoff.Values {
	in := &handoff.Values{}
	if rs.rules.ownGives && rs.opts.Store != nil {
		for _, d := range s.Gives() {
			if v, err := rs.opts.Store.Get(d); err == nil {
				in.Set(v)
			}
		}
	}
	for _, v := range outside {
		in.Set(v)
	}
	for _, d := range s.Needs() {
		if _, ok := in.Lookup(d.Name()); ok {
			continue
		}
		if v, ok := rs.values.Lookup(d.Name()); ok {
			in.Set(v)
		}
	}
	return in
}
