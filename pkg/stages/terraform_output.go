//go:build baton_tf_v2

package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// outputs reads `output -json` and gives the named outputs as handoffs.
// Its stdout holds every value, sensitive ones included: it is never
// shown or kept.
func (r *terraformRun) outputs(ctx context.Context) error {
	if len(r.t.Outputs) == 0 {
		return nil
	}
	var outs map[string]tfexec.OutputMeta
	err := r.run(ctx, call{stream: "output", args: []string{"output", "-json"}, quiet: true}, func(ctx context.Context) (err error) {
		outs, err = r.tf.Output(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s output: %w", r.name, err)
	}
	if err := giveOutputs(outs, r.t.Outputs, r.j.Out, r.j.Secret); err != nil {
		return fmt.Errorf("%s: %w (in %s)", r.name, err, r.dir)
	}
	return nil
}

// giveOutputs masks the values of every sensitive output through secret,
// before anything could show them, then puts each wanted output into out
// as its handoff, validated, and sensitive when the output is.
func giveOutputs(outs map[string]tfexec.OutputMeta, want []Output, out *handoff.Values, secret func(values ...string)) error {
	for _, name := range sortedOutputNames(outs) {
		if meta := outs[name]; meta.Sensitive {
			secret(secretStrings(meta.Value)...)
		}
	}
	var missing []string
	for _, o := range want {
		meta, ok := outs[o.Name]
		if !ok {
			missing = append(missing, o.Name)
			continue
		}
		if err := out.PutRaw(o.As, meta.Value); err != nil {
			return fmt.Errorf("output %s is not a valid %s: %w", o.Name, o.As.Name(), err)
		}
		if meta.Sensitive {
			v, _ := out.Lookup(o.As.Name())
			v.Sensitive = true
			out.Set(v)
		}
	}
	if len(missing) > 0 {
		have := strings.Join(sortedOutputNames(outs), ", ")
		if have == "" {
			have = "none"
		}
		return fmt.Errorf("no output %s (outputs: %s): add `output %q { value = ... }`", strings.Join(missing, ", "), have, missing[0])
	}
	return nil
}

func sortedOutputNames(outs map[string]tfexec.OutputMeta) []string {
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// secretStrings lists the forms of a sensitive JSON value that a log could
// show: each string and number in it, and for an object or a list, its
// compact JSON too. Booleans and null are not secrets worth masking.
func secretStrings(raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return []string{strings.TrimSpace(string(raw))}
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case json.Number:
			out = append(out, v.String())
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	switch v.(type) {
	case map[string]any, []any:
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			out = append(out, b.String())
		}
	}
	sort.Strings(out)
	return out
}
