//go:build baton_tf_v2

package stages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Output names a Terraform output to give as a handoff: Output{Name:
// "ansible_inventory", As: handoff.Inventory}. The value is validated by
// As; a sensitive output gives a sensitive value whatever As says.
type Output struct {
	Name string
	As   handoff.Def
}

// LintMode says whether tflint gates a plan; `terraform validate` always
// does.
type LintMode int

// The lint modes.
const (
	LintOff       LintMode = iota // no tflint
	LintIfPresent                 // tflint when it is installed
	LintRequired                  // tflint, and an error when it is missing
)

// Terraform plans and applies a configuration through terraform-exec: init
// only when what it acts on changed, validate (and tflint when asked), plan
// with -detailed-exitcode, apply of exactly that plan when it has changes,
// then the named outputs as handoffs. Its dry run shows the plan, its check
// reports drift and its rollback destroys, both with the variables last
// applied. The zero value is not usable: Dir must be set.
//
// Terraform runs non-interactively in a process group of its own, started
// by terraform-exec through a small launcher script in the run directory:
// the script passes TF_VAR_*, TF_CLI_ARGS* and TF_WORKSPACE from the
// environment and Exec.Env (terraform-exec refuses them), sets TF_INPUT=0,
// puts Exec.Wrapper in front and records the process group. Cancelling
// sends Terraform one SIGINT, never two (a second makes it exit at once and
// leave the state locked); if it has not stopped after the grace period,
// it is killed with every process it started, and what it leaves running
// when it does stop is killed too. Where the run directory does not allow
// executables, Terraform is started directly, without the script.
//
// A failed command is a *ToolError (with OpenTofu, its Tool is "tofu"); a
// missing binary is a *MissingToolError. Relative DataDir and
// PluginCacheDir are taken from the current directory; Terraform itself
// runs in Dir, so other paths it reads (BackendConfig values) are best
// absolute.
type Terraform struct {
	// StageName names the stage; "" means "terraform".
	StageName string
	// Dir is the configuration's directory.
	Dir string
	// Binary is terraform (or OpenTofu's tofu), a name on PATH or a path;
	// "" means "terraform".
	Binary string
	// Vars pass handoffs as -var (template_id → -var template_id=8025);
	// Set are static -var values. A name in both takes the handoff.
	Vars []Var
	Set  map[string]string
	// Outputs become handoffs after apply; every one must exist.
	Outputs []Output
	// BackendConfig values are passed to init as -backend-config.
	BackendConfig []string
	// DataDir is TF_DATA_DIR, so that .terraform can live outside the
	// source tree; "" means Terraform's default, Dir/.terraform.
	DataDir string
	// PluginCacheDir is TF_PLUGIN_CACHE_DIR, shared between
	// configurations; it is created when missing.
	PluginCacheDir string
	// LockTimeout is how long to wait for the state lock; 0 means 60 s.
	LockTimeout time.Duration
	// Parallelism is Terraform's -parallelism; 0 means its default.
	Parallelism int
	// Lint gates the plan with tflint.
	Lint LintMode
	// RunAfter names stages this one must follow without needing their
	// handoffs, e.g. apps deployed after Ansible configured the hosts.
	RunAfter []string
	// Exec supplies extra environment, a wrapper such as ["doppler",
	// "run", "--"] and the grace period after SIGINT.
	Exec Exec
}

var (
	_ pipeline.Stage         = (*Terraform)(nil)
	_ pipeline.Planner       = (*Terraform)(nil)
	_ pipeline.Checker       = (*Terraform)(nil)
	_ pipeline.Rollbacker    = (*Terraform)(nil)
	_ pipeline.Fingerprinter = (*Terraform)(nil)
	_ pipeline.Sequencer     = (*Terraform)(nil)
)

// Name implements pipeline.Stage.
func (t *Terraform) Name() string {
	if t.StageName == "" {
		return "terraform"
	}
	return t.StageName
}

// Needs implements pipeline.Stage: the handoffs in Vars.
func (t *Terraform) Needs() []handoff.Def { return varDefs(t.Vars) }

// Gives implements pipeline.Stage: the handoffs of Outputs.
func (t *Terraform) Gives() []handoff.Def {
	defs := make([]handoff.Def, len(t.Outputs))
	for i, o := range t.Outputs {
		defs[i] = o.As
	}
	return defs
}

// After implements pipeline.Sequencer.
func (t *Terraform) After() []string { return t.RunAfter }

// Run implements pipeline.Stage: plan, apply when the plan has changes,
// give the outputs.
func (t *Terraform) Run(ctx context.Context, j *pipeline.Job) error {
	r, err := t.start(ctx, j, false)
	if err != nil {
		return err
	}
	if err := r.prepare(ctx); err != nil {
		return err
	}
	planFile := filepath.Join(r.runDir, "tfplan")
	// A plan file holds every variable's value: it does not outlive the run.
	defer os.Remove(planFile)
	changes, err := r.plan(ctx, planFile, true)
	if err != nil {
		return err
	}
	if !changes {
		j.Printf("no changes: apply skipped")
		j.SetNote("no changes: apply skipped")
	} else {
		summary := r.summary(ctx, planFile)
		if err := r.apply(ctx, planFile); err != nil {
			return err
		}
		j.SetNote("applied: %s", summary)
	}
	if err := r.saveApplied(); err != nil {
		return err
	}
	return r.outputs(ctx)
}

// Plan implements pipeline.Planner: validate and show the plan. It takes
// no state lock, so it neither waits for nor blocks a running deploy, and
// it changes nothing but Terraform's data directory (init, when needed).
func (t *Terraform) Plan(ctx context.Context, j *pipeline.Job) error {
	r, err := t.start(ctx, j, false)
	if err != nil {
		return err
	}
	if err := r.prepare(ctx); err != nil {
		return err
	}
	planFile := filepath.Join(r.runDir, "dry-run.tfplan")
	defer os.Remove(planFile)
	changes, err := r.plan(ctx, planFile, false)
	if err != nil {
		return err
	}
	if changes {
		j.SetNote("plan: %s", r.summary(ctx, planFile))
	} else {
		j.SetNote("no changes")
	}
	return nil
}

// Check implements pipeline.Checker: a plan with the variables last
// applied shows no change, so what Terraform made still matches the
// configuration. A difference is reported as drift, counted and named.
func (t *Terraform) Check(ctx context.Context, j *pipeline.Job) error {
	r, err := t.start(ctx, j, true)
	if err != nil {
		return err
	}
	if err := r.ensureInit(ctx); err != nil {
		return err
	}
	planFile := filepath.Join(r.runDir, "check.tfplan")
	defer os.Remove(planFile)
	changes, err := r.plan(ctx, planFile, false)
	if err != nil {
		return err
	}
	if changes {
		return fmt.Errorf("%s: drift: %s: the infrastructure no longer matches the configuration and the variables last applied; run the stage to correct it", r.name, r.drift(ctx, planFile))
	}
	j.SetNote("no drift")
	return nil
}

// Rollback implements pipeline.Rollbacker: destroy what the configuration
// made, with the variables it was last applied with (or, when baton never
// applied it, the stage's inputs).
func (t *Terraform) Rollback(ctx context.Context, j *pipeline.Job) error {
	r, err := t.start(ctx, j, true)
	if err != nil {
		return err
	}
	if err := r.ensureInit(ctx); err != nil {
		return err
	}
	return r.destroy(ctx)
}
