package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// checkGives makes sure a stage gave exactly the handoffs it declared.
func checkGives(s Stage, out *handoff.Values) error {
	declared := map[string]handoff.Def{}
	var errs []error
	for _, d := range s.Gives() {
		declared[d.Name()] = d
		v, ok := out.Lookup(d.Name())
		if !ok {
			errs = append(errs, fmt.Errorf("finished without giving handoff %q, which it declares", d.Name()))
			continue
		}
		if _, err := d.Normalize(v.Raw); err != nil {
			errs = append(errs, fmt.Errorf("gave an invalid value: %w", err))
		}
	}
	for _, v := range out.All() {
		if _, ok := declared[v.Name]; !ok {
			errs = append(errs, fmt.Errorf("gave handoff %q, which it does not declare in Gives", v.Name))
		}
	}
	return errors.Join(errs...)
}

// give stamps, stores and publishes the handoffs a stage gave.
func (rs *runState) give(s Stage, out *handoff.Values, reused bool) ([]handoff.Value, error) {
	if !rs.rules.gives {
		return nil, nil
	}
	var given []handoff.Value
	now := time.Now().UTC()
	for _, d := range s.Gives() {
		v, _ := out.Lookup(d.Name())
		if !reused {
			v.Source, v.Stage, v.RunID, v.Time = handoff.FromStage, s.Name(), rs.runID, now
		}
		v.Sensitive = v.Sensitive || d.Sensitive()
		if v.Sensitive {
			rs.redact.Add(v.Text())
		}
		if rs.opts.Store != nil && !reused {
			if err := rs.opts.Store.Put(v); err != nil {
				return given, fmt.Errorf("its handoff %q could not be stored: %w", d.Name(), err)
			}
		}
		rs.values.Set(v)
		given = append(given, v)
		info := rs.info(v)
		rs.em.emit(Event{Kind: HandoffGiven, Stage: s.Name(), Handoff: &info})
	}
	return given, nil
}

// reuse publishes, for a stage that skipped itself, the handoffs its last
// successful run stored.
func (rs *runState) reuse(s Stage) ([]handoff.Value, error) {
	out := &handoff.Values{}
	for _, d := range s.Gives() {
		if rs.opts.Store == nil {
			return nil, fmt.Errorf("it skipped itself, but there is no handoff store to take %q from", d.Name())
		}
		v, err := rs.opts.Store.Get(d)
		if err != nil {
			return nil, fmt.Errorf("it skipped itself, but its earlier %q cannot be reused: %w", d.Name(), err)
		}
		out.Set(v)
	}
	return rs.give(s, out, true)
}

func (rs *runState) info(v handoff.Value) HandoffInfo {
	display := "***"
	if d, ok := rs.p.defs[v.Name]; ok && !v.Sensitive {
		display = rs.redact.Redact(d.Display(v.Raw))
	}
	return HandoffInfo{Name: v.Name, Display: display, SHA256: v.SHA256(), Source: string(v.Source), Origin: v.Origin, Sensitive: v.Sensitive}
}
