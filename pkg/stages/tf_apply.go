package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/baton-deploy/baton/internal/atomicfile"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Run implements pipeline.Stage.
func (t *Terraform) Run(ctx context.Context, j *pipeline.Job) error {
	r, err := t.start(ctx, j, false, true)
	if err != nil {
		return err
	}
	defer r.close()
	replace, dead, err := r.unreachable(ctx)
	if err != nil {
		return err
	}
	planFile := filepath.Join(j.Dir, "tfplan")
	opts, args := r.planOptions(planFile, false)
	opts, args = replaceOptions(opts, args, replace)
	var changes bool
	// A plan file holds every variable's value: 0600 while it lives, and
	// removed however the run ends.
	defer os.Remove(planFile)
	err = r.cmd("plan", args, func() (err error) { changes, err = r.tf.Plan(ctx, opts...); return err })
	protect(planFile)
	if err != nil {
		return fmt.Errorf("terraform plan: %w", err)
	}
	created := []string{}
	if !changes && len(dead) > 0 {
		return r.deadError(ctx, dead)
	}
	if !changes {
		j.Printf("no changes: apply skipped")
		j.SetNote("no changes: apply skipped")
	} else {
		pl, err := r.planChanges(ctx, planFile)
		if err != nil && t.Replaced != nil {
			os.Remove(planFile)
			return fmt.Errorf("terraform: cannot tell which resources the plan replaces, so the apply did not start: %w", err)
		}
		if pl.created != nil {
			created = pl.created
		}
		if len(dead) > 0 {
			if err := r.deadUntouched(ctx, dead, pl, err == nil); err != nil {
				return err
			}
		}
		applyArgs := []string{"apply", "-input=false", "-auto-approve", "-lock-timeout=" + r.lockTimeout()}
		if r.t.Parallelism > 0 {
			applyArgs = append(applyArgs, fmt.Sprintf("-parallelism=%d", r.t.Parallelism))
		}
		applyArgs = append(applyArgs, planFile)
		aopts := []tfexec.ApplyOption{tfexec.DirOrPlan(planFile), tfexec.LockTimeout(r.lockTimeout())}
		if r.t.Parallelism > 0 {
			aopts = append(aopts, tfexec.Parallelism(r.t.Parallelism))
		}
		if err := r.cmd("apply", applyArgs, func() error { return r.tf.Apply(ctx, aopts...) }); err != nil {
			return fmt.Errorf("terraform apply: %w", err)
		}
		j.SetNote("applied: %s", pl.summary)
	}
	if err := r.saveApplied(); err != nil {
		return err
	}
	if t.Replaced != nil {
		raw, _ := json.Marshal(created)
		if err := j.Out.PutRaw(t.Replaced, raw); err != nil {
			return fmt.Errorf("terraform: the replaced resources are not a valid %s: %w", t.Replaced.Name(), err)
		}
	}
	return r.outputs(ctx)
}

// appliedFile records the variables of the last successful apply, so that
// a check or a destroy uses what is deployed, not what was built since.
func (r *tfRun) appliedFile() string { return filepath.Join(r.dataDir(), "baton-applied.json") }

func (r *tfRun) saveApplied() error {
	data, _ := json.Marshal(r.vars)
	if err := os.MkdirAll(r.dataDir(), 0o700); err != nil {
		return err
	}
	// Variables may be secret: 0600, like the state.
	return atomicfile.Write(r.appliedFile(), data, 0o600)
}

// useApplied switches to the variables of the last apply, when known.
func (r *tfRun) useApplied() {
	data, err := os.ReadFile(r.appliedFile())
	if err != nil {
		return
	}
	var vars []string
	if json.Unmarshal(data, &vars) == nil {
		r.vars = vars
		for _, v := range vars {
			if _, val, ok := strings.Cut(v, "="); ok && r.t.isSecretVar(v) {
				r.j.Secret(val)
			}
		}
	}
}

// Rollback implements pipeline.Rollbacker: destroy what the configuration
// made, with the variables it was last applied with.
func (t *Terraform) Rollback(ctx context.Context, j *pipeline.Job) error {
	r, err := t.start(ctx, j, true, false)
	if err != nil {
		return err
	}
	defer r.close()
	args := []string{"destroy", "-input=false", "-auto-approve", "-lock-timeout=" + r.lockTimeout()}
	opts := []tfexec.DestroyOption{tfexec.LockTimeout(r.lockTimeout())}
	for _, f := range r.varFiles() {
		opts = append(opts, tfexec.VarFile(f))
		args = append(args, "-var-file="+f)
	}
	for _, v := range r.vars {
		opts = append(opts, tfexec.Var(v))
		args = append(args, "-var", v)
	}
	if err := r.cmd("destroy", args, func() error { return r.tf.Destroy(ctx, opts...) }); err != nil {
		return fmt.Errorf("terraform destroy: %w", err)
	}
	j.SetNote("destroyed")
	return nil
}
