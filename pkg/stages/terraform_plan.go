//go:build baton_tf_v2

package stages

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// prepare gets a configuration ready to plan: every -var declared, init
// when needed, validate, and tflint per Lint.
func (r *terraformRun) prepare(ctx context.Context) error {
	if err := checkDeclared(r.dir, r.vars); err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	if err := r.ensureInit(ctx); err != nil {
		return err
	}
	if err := r.retryInit(ctx, func() error { return r.validate(ctx) }); err != nil {
		return err
	}
	return r.lint(ctx)
}

// validate runs `validate -json` and reports its diagnostics as lines.
func (r *terraformRun) validate(ctx context.Context) error {
	var v *tfjson.ValidateOutput
	err := r.run(ctx, call{stream: "validate", args: []string{"validate", "-json"}, quiet: true}, func(ctx context.Context) (err error) {
		v, err = r.tf.Validate(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s validate: %w", r.name, err)
	}
	text := diagnosticsText(v.Diagnostics)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line != "" {
			r.j.Printf("validate: %s", r.j.Redact(line))
		}
	}
	if !v.Valid {
		return fmt.Errorf("%s validate: %w", r.name, &ToolError{Tool: r.name, Args: []string{"validate", "-json"}, ExitCode: 1, Stderr: r.j.Redact(text),
			Err: fmt.Errorf("%d errors", v.ErrorCount)})
	}
	return nil
}

// diagnosticsText renders diagnostics the way Terraform prints them, one
// per line: "Error: Unsupported argument: An argument named … (main.tf:3)".
func diagnosticsText(diags []tfjson.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		sev := "Warning"
		if d.Severity == tfjson.DiagnosticSeverityError {
			sev = "Error"
		}
		fmt.Fprintf(&b, "%s: %s", sev, d.Summary)
		if d.Detail != "" {
			fmt.Fprintf(&b, ": %s", strings.Join(strings.Fields(d.Detail), " "))
		}
		if d.Range != nil {
			fmt.Fprintf(&b, " (%s:%d)", d.Range.Filename, d.Range.Start.Line)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// lint runs tflint per Lint.
func (r *terraformRun) lint(ctx context.Context) error {
	if r.t.Lint == LintOff {
		return nil
	}
	tflint, err := LookTool("tflint", "")
	if err != nil {
		if r.t.Lint == LintIfPresent {
			r.j.Printf("tflint is not installed: lint skipped")
			return nil
		}
		return err
	}
	c := command{tool: "tflint", path: tflint, dir: r.dir, args: []string{"--no-color"}, stream: "tflint", env: []string{"TF_DATA_DIR=" + r.dataDir}}
	if err := r.t.Exec.run(ctx, r.j, c); err != nil {
		return fmt.Errorf("tflint: %w", err)
	}
	return nil
}

// lockTimeout is -lock-timeout's value: whole seconds, at least one.
func (r *terraformRun) lockTimeout() string {
	d := r.t.LockTimeout
	if d <= 0 {
		d = time.Minute
	}
	return fmt.Sprintf("%ds", int(math.Ceil(d.Seconds())))
}

// planArgs returns the options and the shown arguments of a plan into
// planFile; a plan that does not lock is one that cannot change anything.
func (r *terraformRun) planArgs(planFile string, lock bool) ([]tfexec.PlanOption, []string) {
	opts := []tfexec.PlanOption{tfexec.Out(planFile), tfexec.Lock(lock), tfexec.LockTimeout(r.lockTimeout())}
	args := []string{"plan", "-input=false", "-detailed-exitcode", "-out=" + planFile}
	if lock {
		args = append(args, "-lock-timeout="+r.lockTimeout())
	} else {
		args = append(args, "-lock=false")
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

// plan plans into planFile and reports whether the plan has changes.
func (r *terraformRun) plan(ctx context.Context, planFile string, lock bool) (bool, error) {
	opts, args := r.planArgs(planFile, lock)
	var changes bool
	err := r.retryInit(ctx, func() error {
		return r.run(ctx, call{stream: "plan", args: args}, func(ctx context.Context) (err error) {
			changes, err = r.tf.Plan(ctx, opts...)
			return err
		})
	})
	if err != nil {
		return false, fmt.Errorf("%s plan: %w", r.name, err)
	}
	return changes, nil
}

// apply applies exactly the saved plan.
func (r *terraformRun) apply(ctx context.Context, planFile string) error {
	opts := []tfexec.ApplyOption{tfexec.DirOrPlan(planFile), tfexec.LockTimeout(r.lockTimeout())}
	args := []string{"apply", "-input=false", "-auto-approve", "-lock-timeout=" + r.lockTimeout()}
	if r.t.Parallelism > 0 {
		opts = append(opts, tfexec.Parallelism(r.t.Parallelism))
		args = append(args, fmt.Sprintf("-parallelism=%d", r.t.Parallelism))
	}
	args = append(args, planFile)
	if err := r.run(ctx, call{stream: "apply", args: args}, func(ctx context.Context) error { return r.tf.Apply(ctx, opts...) }); err != nil {
		return fmt.Errorf("%s apply: %w", r.name, err)
	}
	return nil
}

// destroy destroys everything in the state.
func (r *terraformRun) destroy(ctx context.Context) error {
	opts := []tfexec.DestroyOption{tfexec.LockTimeout(r.lockTimeout())}
	args := []string{"destroy", "-input=false", "-auto-approve", "-lock-timeout=" + r.lockTimeout()}
	if r.t.Parallelism > 0 {
		opts = append(opts, tfexec.Parallelism(r.t.Parallelism))
		args = append(args, fmt.Sprintf("-parallelism=%d", r.t.Parallelism))
	}
	for _, v := range r.vars {
		opts = append(opts, tfexec.Var(v))
		args = append(args, "-var", v)
	}
	note := "destroyed"
	lines := func(line string) {
		// "Destroy complete! Resources: 2 destroyed."
		if _, after, ok := strings.Cut(line, "Destroy complete! Resources: "); ok {
			note = "destroyed: " + strings.TrimSuffix(strings.TrimSpace(after), ".")
		}
	}
	if err := r.run(ctx, call{stream: "destroy", args: args, lines: lines}, func(ctx context.Context) error { return r.tf.Destroy(ctx, opts...) }); err != nil {
		return fmt.Errorf("%s destroy: %w", r.name, err)
	}
	r.j.SetNote("%s", note)
	return nil
}

// planChanges is what a saved plan would do.
type planChanges struct {
	add, change, destroy int
	resources            []string // "terraform_data.host[0]: replace"
	outputs              []string // outputs whose value would change
}

func (p planChanges) String() string {
	return fmt.Sprintf("%d to add, %d to change, %d to destroy", p.add, p.change, p.destroy)
}

// changesOf counts a plan's resource actions the way Terraform's summary
// line does (a replacement is one to add and one to destroy) and names
// what changes.
func changesOf(p *tfjson.Plan) planChanges {
	var c planChanges
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.Replace():
			c.add++
			c.destroy++
			c.resources = append(c.resources, rc.Address+": replace")
		case a.Create():
			c.add++
			c.resources = append(c.resources, rc.Address+": create")
		case a.Update():
			c.change++
			c.resources = append(c.resources, rc.Address+": update")
		case a.Delete():
			c.destroy++
			c.resources = append(c.resources, rc.Address+": destroy")
		}
	}
	for name, oc := range p.OutputChanges {
		if oc != nil && !oc.Actions.NoOp() {
			c.outputs = append(c.outputs, name)
		}
	}
	sort.Strings(c.outputs)
	return c
}

// show reads a saved plan. Its JSON holds every value, sensitive ones
// included: it is read, never shown.
func (r *terraformRun) show(ctx context.Context, planFile string) (planChanges, error) {
	var p *tfjson.Plan
	err := r.run(ctx, call{stream: "show", args: []string{"show", "-json", planFile}, quiet: true, hidden: true}, func(ctx context.Context) (err error) {
		p, err = r.tf.ShowPlanFile(ctx, planFile)
		return err
	})
	if err != nil {
		return planChanges{}, err
	}
	return changesOf(p), nil
}

// summary is "2 to add, 0 to change, 1 to destroy", or "changes" when the
// plan cannot be read (the plan is still applied: the summary is a note).
func (r *terraformRun) summary(ctx context.Context, planFile string) string {
	c, err := r.show(ctx, planFile)
	if err != nil {
		r.j.Printf("cannot summarise the plan: %v", err)
		return "changes"
	}
	if c.add+c.change+c.destroy == 0 && len(c.outputs) > 0 {
		return "outputs changed: " + strings.Join(c.outputs, ", ")
	}
	return c.String()
}

// drift says what a check's plan would change, naming up to five
// resources and the outputs.
func (r *terraformRun) drift(ctx context.Context, planFile string) string {
	c, err := r.show(ctx, planFile)
	if err != nil {
		var te *ToolError
		if errors.As(err, &te) && ctx.Err() == nil {
			return "the plan has changes (it cannot be summarised: " + te.Error() + ")"
		}
		return "the plan has changes"
	}
	s := c.String()
	if len(c.resources) > 0 {
		names := c.resources
		if len(names) > 5 {
			names = append(names[:5:5], fmt.Sprintf("%d more", len(c.resources)-5))
		}
		s += " (" + strings.Join(names, ", ") + ")"
	}
	if len(c.outputs) > 0 {
		s += "; outputs changed: " + strings.Join(c.outputs, ", ")
	}
	return s
}
