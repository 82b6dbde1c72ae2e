//go:build baton_tf_v2

package stages

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/baton-deploy/baton/internal/atomicfile"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// inputVars returns the -var assignments from the stage's handoffs and
// Set, sorted by name; a handoff wins over a Set value of the same name.
func (t *Terraform) inputVars(j *pipeline.Job) ([]string, error) {
	vals, err := varValues(j.In, t.Vars)
	if err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	for k, v := range t.Set {
		if _, dup := vals[k]; !dup {
			vals[k] = v
		}
	}
	vars := make([]string, 0, len(vals))
	for k, v := range vals {
		vars = append(vars, k+"="+v)
	}
	sort.Strings(vars)
	return vars, nil
}

// appliedFile records the variables of the last successful apply, so that
// a check or a destroy uses what is deployed, not what was built since.
func (r *terraformRun) appliedFile() string { return filepath.Join(r.dataDir, "baton-applied.json") }

func (r *terraformRun) saveApplied() error {
	data, err := json.Marshal(r.vars)
	if err == nil {
		err = os.MkdirAll(r.dataDir, 0o755)
	}
	if err == nil {
		// Variables may be secret: 0600, like the state.
		err = atomicfile.Write(r.appliedFile(), data, 0o600)
	}
	if err != nil {
		return fmt.Errorf("%s: recording the variables applied: %w", r.name, err)
	}
	return nil
}

// loadApplied switches to the variables of the last apply and reports
// whether they are known. Values of sensitive handoffs are masked.
func (r *terraformRun) loadApplied() bool {
	data, err := os.ReadFile(r.appliedFile())
	if err != nil {
		return false
	}
	var vars []string
	if json.Unmarshal(data, &vars) != nil {
		return false
	}
	r.vars = vars
	for _, v := range vars {
		name, val, _ := strings.Cut(v, "=")
		for _, tv := range r.t.Vars {
			if tv.Name == name && tv.From.Sensitive() {
				r.j.Secret(val)
			}
		}
	}
	return true
}

// checkDeclared fails, before Terraform does, when a -var names a
// variable the root module does not declare. Names it cannot find because
// it cannot read the files are left to Terraform.
func checkDeclared(dir string, vars []string) error {
	declared, ok := declaredVariables(dir)
	if !ok {
		return nil
	}
	var missing []string
	for _, v := range vars {
		name, _, _ := strings.Cut(v, "=")
		if !declared[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("variable %s is not declared in %s: add `variable %q {}` to a .tf file there, or stop passing it", strings.Join(missing, ", "), dir, missing[0])
}

var variableRE = regexp.MustCompile(`(?m)^[ \t]*variable[ \t]+"?([A-Za-z_][A-Za-z0-9_-]*)"?[ \t]*\{`)

// declaredVariables lists the variables declared in dir's .tf and .tf.json
// files; ok is false when it found no configuration file or could not read
// one.
func declaredVariables(dir string) (names map[string]bool, ok bool) {
	tf, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	tfjson, _ := filepath.Glob(filepath.Join(dir, "*.tf.json"))
	if len(tf)+len(tfjson) == 0 {
		return nil, false
	}
	names = map[string]bool{}
	for _, f := range tf {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, false
		}
		for _, m := range variableRE.FindAllStringSubmatch(string(data), -1) {
			names[m[1]] = true
		}
	}
	for _, f := range tfjson {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, false
		}
		var doc struct {
			Variable map[string]json.RawMessage `json:"variable"`
		}
		if json.Unmarshal(data, &doc) != nil {
			return nil, false
		}
		for n := range doc.Variable {
			names[n] = true
		}
	}
	return names, true
}
