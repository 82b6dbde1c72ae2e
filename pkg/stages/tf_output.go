package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/baton-deploy/baton/internal/proc"
)

// outputs gives the named outputs as handoffs; sensitive ones are masked
// in every log first.
func (r *tfRun) outputs(ctx context.Context) error {
	if len(r.t.Outputs) == 0 {
		return nil
	}
	var outs map[string]tfexec.OutputMeta
	// output -json prints every value, sensitive ones included: it is not
	// streamed to the logs.
	r.j.Printf("$ %s output -json", filepath.Base(r.bin))
	r.tf.SetStdout(io.Discard)
	tail := proc.NewTail(stderrTail)
	r.tf.SetStderr(tail)
	outs, err := r.tf.Output(ctx)
	if err != nil {
		return fmt.Errorf("terraform output: %w", &ToolError{Tool: filepath.Base(r.bin), Args: []string{"output", "-json"}, ExitCode: -1, Stderr: tail.String(), Err: err})
	}
	for _, meta := range outs {
		if meta.Sensitive {
			r.j.Secret(secretStrings(meta.Value)...)
		}
	}
	var missing []string
	for _, o := range r.t.Outputs {
		meta, ok := outs[o.Name]
		if !ok {
			missing = append(missing, o.Name)
			continue
		}
		if err := r.j.Out.PutRaw(o.As, meta.Value); err != nil {
			return fmt.Errorf("terraform output %s is not a valid %s: %w", o.Name, o.As.Name(), err)
		}
		if meta.Sensitive {
			v, _ := r.j.Out.Lookup(o.As.Name())
			v.Sensitive = true
			r.j.Out.Set(v)
		}
	}
	if len(missing) > 0 {
		have := make([]string, 0, len(outs))
		for n := range outs {
			have = append(have, n)
		}
		sort.Strings(have)
		return fmt.Errorf("terraform has no output %s (it has: %s): add `output %q { value = ... }` to %s", strings.Join(missing, ", "), strings.Join(have, ", "), missing[0], r.t.Dir)
	}
	return nil
}

// secretStrings lists the strings of a JSON value, and the value itself,
// to mask them wherever they might appear.
func secretStrings(raw json.RawMessage) []string {
	out := []string{strings.Trim(string(raw), `"`)}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return out
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
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
	return out
}
