package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"github.com/zclconf/go-cty/cty/json"
)

// evalContext is what a fixed value may use: baton.env, baton.state,
// baton.dir and baton.root, env("NAME", "default") and a few functions.
func evalContext(p *Pipeline, root string, getenv func(string) string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"baton": cty.ObjectVal(map[string]cty.Value{
				"env":   cty.StringVal(p.Env),
				"state": cty.StringVal(p.State),
				"dir":   cty.StringVal(p.Dir),
				"root":  cty.StringVal(root),
			}),
		},
		Functions: map[string]function.Function{
			"env":      envFunc(getenv),
			"format":   stdlib.FormatFunc,
			"join":     stdlib.JoinFunc,
			"lower":    stdlib.LowerFunc,
			"upper":    stdlib.UpperFunc,
			"coalesce": stdlib.CoalesceFunc,
		},
	}
}

// envFunc is env(name) or env(name, default): an environment variable, the
// default when it is unset or empty, and an error when there is neither.
func envFunc(getenv func(string) string) function.Function {
	return function.New(&function.Spec{
		Params:   []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam: &function.Parameter{Name: "default", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if v := getenv(name); v != "" {
				return cty.StringVal(v), nil
			}
			switch len(args) {
			case 1:
				return cty.NilVal, fmt.Errorf("%s is not set: set it, or give a default, env(%q, \"…\")", name, name)
			case 2:
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("env takes a name and at most one default, got %d arguments", len(args))
		},
	})
}

// text renders a fixed value as a tool reads it on its command line:
// strings as they are, numbers and bools as written, lists and objects as
// JSON (which Terraform and Packer read as HCL).
func text(v cty.Value) (string, error) {
	if v.IsNull() {
		return "", fmt.Errorf("the value is null")
	}
	if !v.IsWhollyKnown() {
		return "", fmt.Errorf("the value is not known")
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			i, _ := bf.Int(nil)
			return i.String(), nil
		}
		f, _ := bf.Float64()
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case cty.Bool:
		return strconv.FormatBool(v.True()), nil
	}
	b, err := json.Marshal(v, v.Type())
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// describe names a cty type for messages.
func describe(t cty.Type) string {
	return strings.TrimPrefix(t.FriendlyName(), "cty.")
}
