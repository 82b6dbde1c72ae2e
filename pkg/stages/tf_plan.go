package stages

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// varFiles gives the -var-file arguments of plan and destroy: the
// environment's TF_VAR_* first, then VarFiles in their order, so that, as
// on Terraform's own command line, a later file wins over an earlier one
// and -var over both.
func (r *tfRun) varFiles() []string {
	var files []string
	if r.varFile != "" {
		files = append(files, r.varFile)
	}
	return append(files, r.t.VarFiles...)
}

// varFilePath is a var file as the stage reads it: relative to Dir unless
// absolute.
func (t *Terraform) varFilePath(f string) string {
	if filepath.IsAbs(f) {
		return f
	}
	return filepath.Join(t.Dir, f)
}

// checkVarFiles makes a missing var file an error that names it, before
// Terraform's own less direct one.
func (t *Terraform) checkVarFiles() error {
	for _, f := range t.VarFiles {
		fi, err := os.Stat(t.varFilePath(f))
		switch {
		case err != nil:
			return fmt.Errorf("terraform: var file %s: %w: VarFiles are relative to %s, or absolute", f, err, t.Dir)
		case fi.IsDir():
			return fmt.Errorf("terraform: var file %s is a directory: give a .tfvars or .tfvars.json file", f)
		}
	}
	return nil
}

func (r *tfRun) planOptions(out string, destroy bool) ([]tfexec.PlanOption, []string) {
	opts := []tfexec.PlanOption{tfexec.LockTimeout(r.lockTimeout())}
	args := []string{"plan", "-input=false", "-detailed-exitcode", "-lock-timeout=" + r.lockTimeout()}
	for _, f := range r.varFiles() {
		opts = append(opts, tfexec.VarFile(f))
		args = append(args, "-var-file="+f)
	}
	if out != "" {
		opts = append(opts, tfexec.Out(out))
		args = append(args, "-out="+out)
	}
	if destroy {
		opts = append(opts, tfexec.Destroy(true))
		args = append(args, "-destroy")
	}
	if r.t.Parallelism > 0 {
		opts = append(opts, tfexec.Parallelism(r.t.Parallelism))
		args = append(args, fmt.Sprintf("-parallelism=%d", r.t.Parallelism))
	}
	for _, v := range r.vars {
		opts = append(opts, tfexec.Var(v))
		args = append(args, "-var", v)
	}
	return opts, args
}

// planned is what a saved plan does: its summary ("2 to add, 0 to
// change, 1 to destroy", or "changes" when the plan cannot be read) and
// the addresses of the managed resources it creates or replaces (actions
// create, delete then create, create then delete) and of those it only
// deletes, each sorted.
type planned struct {
	summary          string
	created, deleted []string
}

// touches reports whether the plan creates, replaces or deletes address.
func (p planned) touches(address string) bool {
	return slices.Contains(p.created, address) || slices.Contains(p.deleted, address)
}

// planChanges reads a saved plan. Reading it is an error only for the
// caller that needs the addresses.
func (r *tfRun) planChanges(ctx context.Context, planFile string) (planned, error) {
	// The JSON plan holds every variable and output, sensitive ones
	// included: it is read, never logged.
	r.tf.SetStdout(io.Discard)
	r.tf.SetStderr(io.Discard)
	p, err := r.tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		return planned{summary: "changes"}, fmt.Errorf("terraform show %s: %w", filepath.Base(planFile), err)
	}
	var add, change, destroy int
	var out planned
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil {
			continue
		}
		for _, a := range rc.Change.Actions {
			switch a {
			case "create":
				add++
			case "update":
				change++
			case "delete":
				destroy++
			}
		}
		switch {
		case rc.Mode != "managed":
		case rc.Change.Actions.Create() || rc.Change.Actions.Replace():
			out.created = append(out.created, rc.Address)
		case rc.Change.Actions.Delete():
			out.deleted = append(out.deleted, rc.Address)
		}
	}
	sort.Strings(out.created)
	sort.Strings(out.deleted)
	out.summary = fmt.Sprintf("%d to add, %d to change, %d to destroy", add, change, destroy)
	return out, nil
}
