package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/baton-deploy/baton/internal/atomicfile"
	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Output names a Terraform output to give as a handoff.
type Output struct {
	Name string
	As   handoff.Def
}

// LintMode says whether tflint gates an apply.
type LintMode int

// The lint modes; `terraform validate` always runs.
const (
	LintOff       LintMode = iota // no tflint
	LintIfPresent                 // tflint when it is installed
	LintRequired                  // tflint, and an error when it is missing
)

// Terraform plans and applies a configuration through terraform-exec: init
// only when needed, validate (and tflint when asked), plan with
// -detailed-exitcode, apply of exactly that plan when it has changes, then
// the named outputs as handoffs. The zero value is not usable: Dir must be
// set.
type Terraform struct {
	// StageName names the stage; "" means "terraform".
	StageName string
	// Dir is the configuration's directory.
	Dir string
	// Binary is terraform (or OpenTofu's tofu), a name on PATH or a path;
	// "" means "terraform".
	Binary string
	// Vars pass handoffs as -var (template_id → -var template_id=8025);
	// Set are static -var values (a handoff of the same name wins).
	Vars []Var
	Set  map[string]string
	// VarFiles are passed to plan, apply, check and destroy as -var-file,
	// in order (a later file wins); each is relative to Dir, or absolute.
	// Their contents are part of the fingerprint.
	VarFiles []string
	// Outputs become handoffs after apply; every one must exist.
	Outputs []Output
	// Replaced, when set, is given as a JSON array of strings: the
	// addresses of the resources this run's apply created or replaced,
	// e.g. ["proxmox_vm.web[\"web-1\"]"]; [] when the apply was skipped
	// or made nothing new. Make it with handoff.NewJSON[[]string]; the
	// wait for SSH reads it to accept the new host keys of remade hosts.
	Replaced handoff.Def
	// ReplaceUnreachable makes a run replace (-replace=ADDRESS) the
	// resources that make hosts of the inventory output that do not answer
	// SSH; without it, a run whose plan has no changes fails at once when
	// hosts are dead. See DeadHostsError.
	ReplaceUnreachable bool
	// CheckHosts makes a run dial, before it plans, the hosts of the
	// inventory its state gives (something waits for them over SSH after
	// it); ReplaceUnreachable implies it.
	CheckHosts bool
	// BackendConfig values are passed to init as -backend-config, and
	// only when there are some: without them the configuration's own
	// backend (or Terraform's default, terraform.tfstate in Dir) is used
	// untouched.
	BackendConfig []string
	// DataDir is TF_DATA_DIR, so that .terraform can live outside the
	// source tree; "" means Terraform's default, Dir/.terraform.
	DataDir string
	// PluginCacheDir is TF_PLUGIN_CACHE_DIR, shared between
	// configurations; it is created when missing. Inits into it take turns
	// (an flock on a file in it), since Terraform's cache is not safe for
	// concurrent inits — across baton processes too.
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
	// Exec supplies extra environment, the grace period and a wrapper.
	// terraform-exec starts Terraform itself, so a wrapper is put in front
	// of it by a small script in the job's directory; on cancel,
	// terraform-exec interrupts the wrapper, which must pass SIGINT on to
	// Terraform (doppler run, op run and env do).
	Exec Exec
}

// After implements pipeline.Sequencer.
func (t *Terraform) After() []string { return t.RunAfter }

var (
	_ pipeline.Stage         = (*Terraform)(nil)
	_ pipeline.Planner       = (*Terraform)(nil)
	_ pipeline.Checker       = (*Terraform)(nil)
	_ pipeline.Rollbacker    = (*Terraform)(nil)
	_ pipeline.Fingerprinter = (*Terraform)(nil)
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

// Gives implements pipeline.Stage: the handoffs of Outputs, and Replaced.
func (t *Terraform) Gives() []handoff.Def {
	defs := make([]handoff.Def, 0, len(t.Outputs)+1)
	for _, o := range t.Outputs {
		defs = append(defs, o.As)
	}
	if t.Replaced != nil {
		defs = append(defs, t.Replaced)
	}
	return defs
}

// tfRun is one stage run's Terraform.
type tfRun struct {
	t       *Terraform
	j       *pipeline.Job
	tf      *tfexec.Terraform
	bin     string
	vars    []string // name=value, sorted
	varFile string   // TF_VAR_* of the environment, as a var file
	reap    func()   // kills what a cancelled Terraform left (reapOnCancel)
	scratch string   // the wrapper script's directory, removed by close
}

// envVarFile passes the environment's TF_VAR_* values, which
// terraform-exec refuses to forward, as a var file in the job's directory
// (0600, removed by close). Variables baton sets with -var still win.
func (r *tfRun) envVarFile(env map[string]string) error {
	vals := map[string]string{}
	for k, v := range env {
		if name, ok := strings.CutPrefix(k, "TF_VAR_"); ok && name != "" {
			vals[name] = v
			r.j.Secret(v)
		}
	}
	if len(vals) == 0 || r.j.Dir == "" {
		return nil
	}
	data, _ := json.Marshal(vals)
	r.varFile = filepath.Join(r.j.Dir, "env.tfvars.json")
	return atomicfile.Write(r.varFile, data, 0o600)
}

// close removes what the run wrote that holds variable values.
func (r *tfRun) close() {
	if r.reap != nil {
		r.reap()
	}
	protect(r.localStateFiles()...)
	if r.varFile != "" {
		os.Remove(r.varFile)
	}
	if r.scratch != "" {
		os.RemoveAll(r.scratch)
	}
}

// wrap returns the executable that runs bin under the wrapper: a script
// that execs "wrapper… bin args…", in a private temporary directory (not
// the kept run directory: the wrapper's arguments may hold a token) that
// close removes.
func (r *tfRun) wrap(bin string) (string, error) {
	w := r.t.Exec.Wrapper
	if _, err := exec.LookPath(w[0]); err != nil {
		return "", fmt.Errorf("terraform: the wrapper %s cannot be run: %w: install it or fix the wrapper setting", w[0], err)
	}
	dir, err := os.MkdirTemp("", "baton-terraform-")
	if err != nil {
		return "", err
	}
	r.scratch = dir
	script := "#!/bin/sh\n# baton runs Terraform under its wrapper through this script.\nexec " +
		shellQuote(append(append([]string(nil), w...), bin)) + " \"$@\"\n"
	path := filepath.Join(dir, filepath.Base(bin)+"-wrapped")
	if err := atomicfile.Write(path, []byte(script), 0o700); err != nil {
		return "", err
	}
	return path, nil
}

func (t *Terraform) open(j *pipeline.Job) (_ *tfRun, err error) {
	if t.Dir == "" {
		return nil, errors.New("terraform: Dir is not set")
	}
	if err := t.checkVarFiles(); err != nil {
		return nil, err
	}
	name := "terraform"
	if t.Binary != "" && filepath.Base(t.Binary) == "tofu" {
		name = "tofu"
	}
	bin, err := lookTool(name, t.Binary)
	if err != nil {
		return nil, err
	}
	r := &tfRun{t: t, j: j, bin: bin}
	if stale := clearStaleLock(r.localStateFiles()[0]); stale != "" {
		j.Printf("removed the lock file a killed Terraform left: %s", stale)
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	execPath := bin
	if len(t.Exec.Wrapper) > 0 {
		if execPath, err = r.wrap(bin); err != nil {
			return nil, err
		}
	}
	tf, err := tfexec.NewTerraform(t.Dir, execPath)
	if err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	r.tf = tf
	grace := t.Exec.Grace
	if grace <= 0 {
		grace = proc.DefaultGrace
	}
	// terraform-exec runs Terraform in its own process group and sends
	// SIGINT on cancel; it is killed after the grace period.
	_ = tf.SetWaitDelay(grace)
	env := proc.EnvMap(os.Environ())
	for k, v := range proc.EnvMap(t.Exec.Env) {
		env[k] = v
	}
	if t.DataDir != "" {
		env["TF_DATA_DIR"] = t.DataDir
	}
	if t.PluginCacheDir != "" {
		if err := os.MkdirAll(t.PluginCacheDir, 0o755); err != nil {
			return nil, err
		}
		env["TF_PLUGIN_CACHE_DIR"] = t.PluginCacheDir
	}
	// Before CleanEnv, which deletes TF_VAR_* from the map.
	if err := r.envVarFile(env); err != nil {
		return nil, err
	}
	if err := tf.SetEnv(tfexec.CleanEnv(env)); err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	vals, err := toolVars(j.In, t.Vars, t.Set)
	if err != nil {
		return nil, err
	}
	for k, v := range vals {
		r.vars = append(r.vars, k+"="+v)
	}
	sort.Strings(r.vars)
	return r, nil
}

// cmd runs one Terraform command with its output streamed as stream, and
// turns a failure into a *ToolError.
func (r *tfRun) cmd(stream string, args []string, fn func() error) error {
	out := r.j.Output(stream + ".stdout")
	errOut := r.j.Output(stream + ".stderr")
	tail := proc.NewTail(stderrTail)
	r.tf.SetStdout(out)
	r.tf.SetStderr(io.MultiWriter(errOut, tail))
	r.j.Printf("$ %s", shellQuote(append([]string{filepath.Base(r.bin)}, redactAll(r.j, args)...)))
	err := fn()
	r.tf.SetStdout(io.Discard)
	r.tf.SetStderr(io.Discard)
	out.Close()
	errOut.Close()
	if err == nil {
		return nil
	}
	te := &ToolError{Tool: filepath.Base(r.bin), Args: redactAll(r.j, args), ExitCode: -1, Stderr: r.j.Redact(tail.String()), Err: err}
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok && exitErr.Exited() {
		te.ExitCode = exitErr.ExitCode()
	}
	// terraform-exec's error for a run cancelled as it started has no
	// message (its Error panics), and the one for a run cancelled while it
	// asked for Terraform's version blames the version ("validate -json
	// was added in 0.12.0: context canceled"): say what happened instead,
	// and only that.
	switch {
	case errors.Is(err, context.Canceled):
		te.Err = context.Canceled
		return te
	case errors.Is(err, context.DeadlineExceeded):
		te.Err = context.DeadlineExceeded
		return te
	}
	msg, ok := errText(err)
	if !ok {
		te.Err = errors.New("terraform stopped without an error message")
	}
	if te.Stderr == "" && ok {
		te.Stderr = r.j.Redact(msg)
	}
	return te
}

// errText is err's message, or false when producing it panics.
func errText(err error) (msg string, ok bool) {
	defer func() {
		if recover() != nil {
			msg, ok = "", false
		}
	}()
	return err.Error(), true
}

func (r *tfRun) lockTimeout() string {
	d := r.t.LockTimeout
	if d <= 0 {
		d = time.Minute
	}
	return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
}

// start opens a run and inits when needed; applied switches to the
// variables of the last apply (check, destroy), gate runs validate and
// tflint (run, plan). The caller closes the run.
func (t *Terraform) start(ctx context.Context, j *pipeline.Job, applied, gate bool) (*tfRun, error) {
	r, err := t.open(j)
	if err != nil {
		return nil, err
	}
	r.reap = reapOnCancel(ctx, t.Dir)
	if applied {
		r.useApplied()
	}
	if err := r.initIfNeeded(ctx); err != nil {
		r.close()
		return nil, err
	}
	if gate {
		if err := r.gate(ctx); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

// Plan implements pipeline.Planner: the plan, shown, saved nowhere.
func (t *Terraform) Plan(ctx context.Context, j *pipeline.Job) error {
	r, err := t.start(ctx, j, false, true)
	if err != nil {
		return err
	}
	defer r.close()
	changes, err := r.planReadOnly(ctx, "")
	if err != nil {
		return fmt.Errorf("terraform plan: %w", err)
	}
	if changes {
		j.SetNote("the plan has changes (see above)")
	} else {
		j.SetNote("no changes")
	}
	return nil
}

// planReadOnly plans without taking the state lock, for a dry run or a
// check that must not hold up a deploy; out, when set, keeps the plan.
func (r *tfRun) planReadOnly(ctx context.Context, out string) (changes bool, err error) {
	opts, args := r.planOptions(out, false)
	opts = append(opts, tfexec.Lock(false))
	err = r.cmd("plan", append(args, "-lock=false"), func() (err error) { changes, err = r.tf.Plan(ctx, opts...); return err })
	return changes, err
}

// Check implements pipeline.Checker: the state is valid and a plan with
// the variables of the last apply shows no drift.
func (t *Terraform) Check(ctx context.Context, j *pipeline.Job) error {
	r, err := t.start(ctx, j, true, false)
	if err != nil {
		return err
	}
	defer r.close()
	planFile := filepath.Join(j.Dir, "check.tfplan")
	defer os.Remove(planFile)
	changes, err := r.planReadOnly(ctx, planFile)
	protect(planFile)
	if err != nil {
		return fmt.Errorf("terraform state cannot be checked: %w", err)
	}
	if changes {
		pl, _ := r.planChanges(ctx, planFile)
		return fmt.Errorf("drift: the infrastructure differs from the configuration (%s): run the terraform stage to correct it", pl.summary)
	}
	j.SetNote("state is valid, no drift")
	return nil
}

// Fingerprint implements pipeline.Fingerprinter: the configuration's
// files, the var files, the variables, the backend settings and
// Terraform's version.
func (t *Terraform) Fingerprint(ctx context.Context, j *pipeline.Job) (string, error) {
	r, err := t.open(j)
	if err != nil {
		return "", err
	}
	defer r.close()
	out, err := toolOutput(ctx, r.bin, "version")
	if err != nil {
		return "", fmt.Errorf("terraform version: %w", err)
	}
	f := newFingerprint("terraform")
	f.add("version", truncateLine(string(out)))
	for _, v := range r.vars {
		f.add("var", v)
	}
	for _, b := range t.BackendConfig {
		f.add("backend-config", b)
	}
	for _, vf := range t.VarFiles {
		// By content: a var file may live outside Dir.
		if err := f.addFile("var-file:"+vf, t.varFilePath(vf)); err != nil {
			return "", fmt.Errorf("terraform fingerprint: %w", err)
		}
	}
	if err := f.addTree(t.Dir, withSkip(".terraform", "*.tfstate*", "*.tfplan", "tfplan")...); err != nil {
		return "", fmt.Errorf("terraform fingerprint: %w", err)
	}
	return f.sum(), nil
}

// isSecretVar reports whether a name=value var came from a sensitive
// handoff.
func (t *Terraform) isSecretVar(nameValue string) bool {
	name, _, _ := strings.Cut(nameValue, "=")
	for _, v := range t.Vars {
		if v.Name == name && v.From.Sensitive() {
			return true
		}
	}
	return false
}
