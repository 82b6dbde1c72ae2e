package stages

import (
	"encoding/json"
	"fmt"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// Var passes a handoff to a tool as a variable: Terraform's -var,
// Ansible's --extra-vars. Name is the tool's variable name. Every stage
// that takes variables names them the same way: Vars are the ones taken
// from handoffs, Set the static ones, and a handoff wins over a static
// value of the same name.
type Var struct {
	Name string
	From handoff.Def
}

// varDefs lists the handoffs vars read.
func varDefs(vars []Var) []handoff.Def {
	defs := make([]handoff.Def, 0, len(vars))
	for _, v := range vars {
		defs = append(defs, v.From)
	}
	return defs
}

// toolVars gives a stage's variables: set, then vars (from in) over them.
func toolVars(in *handoff.Values, vars []Var, set map[string]string) (map[string]string, error) {
	vals, err := varValues(in, vars)
	if err != nil {
		return nil, err
	}
	for k, v := range set {
		if _, dup := vals[k]; !dup {
			vals[k] = v
		}
	}
	return vals, nil
}

// varValues gives each var its value from in, as text: a JSON string
// unquoted, anything else (a number, an object) as its JSON.
func varValues(in *handoff.Values, vars []Var) (map[string]string, error) {
	out := make(map[string]string, len(vars))
	for _, v := range vars {
		val, ok := in.Lookup(v.From.Name())
		if !ok {
			return nil, fmt.Errorf("variable %s: handoff %s is not available", v.Name, v.From.Name())
		}
		var s string
		if err := json.Unmarshal(val.Raw, &s); err == nil {
			out[v.Name] = s
			continue
		}
		out[v.Name] = string(val.Raw)
	}
	return out, nil
}
