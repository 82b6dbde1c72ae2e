//go:build baton_tf_v2

package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// terraformRun is one stage attempt's Terraform: the terraform-exec handle
// and what the attempt resolved. Its commands run one at a time.
type terraformRun struct {
	t       *Terraform
	j       *pipeline.Job
	tf      *tfexec.Terraform
	name    string // "terraform" or "tofu", in messages and errors
	bin     string // the binary
	dir     string // Dir, absolute
	runDir  string // j.Dir, absolute
	dataDir string // TF_DATA_DIR, absolute
	pidFile string // where the launcher writes its process ID; "" without one
	grace   time.Duration
	vars    []string // -var assignments, name=value, sorted
	carried map[string]string
	inited  bool // init ran in this attempt
}

// start resolves the binary, the directories, the environment and the
// variables: the stage's inputs, or with applied the variables of the last
// apply when they are known.
//
// terraform-exec (v0.26) starts Terraform with Setpgid, sends SIGINT to
// that one process when ctx ends and SIGKILL to it after WaitDelay. It does
// not let us set SysProcAttr, wrap the command or pass TF_VAR_*,
// TF_CLI_ARGS*, TF_WORKSPACE, TF_INPUT or TF_LOG* (SetEnv refuses them).
// Hence the launcher script (see launcherScript): its process ID is the
// group's, so watch can kill the whole group, where WaitDelay alone would
// leave Terraform's children running and, when one holds Terraform's
// output, the command hanging.
func (t *Terraform) start(ctx context.Context, j *pipeline.Job, applied bool) (*terraformRun, error) {
	if t.Dir == "" {
		return nil, errors.New("terraform: Dir is not set")
	}
	name := toolName(t.Binary)
	bin, err := LookTool(name, t.Binary)
	if err != nil {
		return nil, err
	}
	r := &terraformRun{t: t, j: j, name: name, bin: bin, grace: t.Exec.Grace}
	if r.grace <= 0 {
		r.grace = DefaultGrace
	}
	if r.dir, err = filepath.Abs(t.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if r.runDir, err = filepath.Abs(j.Dir); err != nil || j.Dir == "" {
		return nil, fmt.Errorf("%s: the job has no run directory", name)
	}
	env, err := r.environment()
	if err != nil {
		return nil, err
	}
	execPath := bin
	if launcher, err := r.writeLauncher(); err == nil {
		execPath = launcher
		for i, k := range sortedKeys(r.carried) {
			env[carrierName(i)] = r.carried[k]
		}
	} else if len(t.Exec.Wrapper) > 0 {
		return nil, fmt.Errorf("%s: Exec.Wrapper needs a launcher script: %w", name, err)
	} else if len(r.carried) > 0 {
		j.Printf("%v: %s from the environment will not reach %s", err, strings.Join(sortedKeys(r.carried), ", "), name)
	}
	tf, err := tfexec.NewTerraform(r.dir, execPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// A backstop: the launcher's process group is killed at r.grace.
	_ = tf.SetWaitDelay(r.grace + time.Second)
	if err := tf.SetEnv(env); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.tf = tf
	if !applied || !r.loadApplied() {
		if r.vars, err = t.inputVars(j); err != nil {
			return nil, err
		}
	}
	if err := r.version(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// toolName is the tool a binary is: "tofu" for OpenTofu, else "terraform".
func toolName(binary string) string {
	if strings.HasPrefix(filepath.Base(binary), "tofu") {
		return "tofu"
	}
	return "terraform"
}

// version asks for Terraform's version before anything else, quietly:
// terraform-exec caches it for the checks it makes before some commands,
// which would otherwise print it into their output.
func (r *terraformRun) version(ctx context.Context) error {
	var v string
	err := r.run(ctx, call{stream: "version", args: []string{"version", "-json"}, quiet: true, hidden: true}, func(ctx context.Context) error {
		tv, _, err := r.tf.Version(ctx, false)
		if err == nil {
			v = tv.String()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%s version: %w", r.name, err)
	}
	r.j.Printf("%s %s at %s", r.name, v, r.bin)
	return nil
}

// call is one Terraform command as the stage shows and reports it;
// terraform-exec builds the real arguments from the options.
type call struct {
	stream string   // "plan" streams plan.stdout and plan.stderr
	args   []string // shown after "$ terraform" and kept in a *ToolError
	quiet  bool     // stdout is not shown: it is JSON, and may hold secrets
	hidden bool     // not announced with a "$ " line
	lines  func(line string)
}

// run runs one command through fn, with its output streamed, the whole
// process group killed when it outlives the grace period after ctx ends,
// and a failure turned into a *ToolError.
func (r *terraformRun) run(ctx context.Context, c call, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.hidden {
		r.j.Printf("$ %s", r.j.Redact(shellQuote(append([]string{r.name}, c.args...))))
	}
	stdout := io.WriteCloser(nopWriteCloser{io.Discard})
	if !c.quiet {
		stdout = r.j.Output(c.stream + ".stdout")
	}
	var w io.Writer = stdout
	lines := &lineFunc{fn: func(string) {}}
	if c.lines != nil {
		lines.fn = c.lines
		w = io.MultiWriter(stdout, lines)
	}
	stderr := r.j.Output(c.stream + ".stderr")
	tail := &tailBuffer{max: stderrTail}
	r.tf.SetStdout(w)
	r.tf.SetStderr(io.MultiWriter(stderr, tail))
	stop := r.watch(ctx)
	err := fn(ctx)
	stop()
	r.tf.SetStdout(io.Discard)
	r.tf.SetStderr(io.Discard)
	lines.flush()
	stdout.Close()
	stderr.Close()
	if err == nil {
		return nil
	}
	return r.toolError(ctx, c.args, tail.String(), err)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func (r *terraformRun) toolError(ctx context.Context, args []string, stderr string, err error) error {
	te := &ToolError{Tool: r.name, Args: redactAll(r.j, args), ExitCode: -1, Stderr: r.j.Redact(stderr), Err: err}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		te.ExitCode = exitErr.ExitCode()
	}
	if ctx.Err() != nil {
		// Stopped because we asked: keep errors.Is(err, context.Canceled).
		// Never call err.Error() here: terraform-exec's error for a command
		// that exited 0 just as ctx ended wraps nil, and its Error panics.
		te.Err = ctx.Err()
		return te
	}
	if strings.TrimSpace(te.Stderr) == "" {
		te.Stderr = r.j.Redact(err.Error())
	}
	return te
}

// watch kills the command's process group if it is still there r.grace
// after ctx ends (terraform-exec has sent SIGINT by then), and once the
// command returns after ctx ended, whatever it left running. The returned
// func stops the watch when the command returns.
func (r *terraformRun) watch(ctx context.Context) (stop func()) {
	if r.pidFile == "" {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		r.j.Printf("asked %s to stop (SIGINT); killing it in %s if it does not", r.name, r.grace)
		t := time.NewTimer(r.grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			if r.killGroup() {
				r.j.Printf("%s did not stop within %s: killed", r.name, r.grace)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if ctx.Err() != nil && r.killGroup() {
			r.j.Printf("killed what %s left running", r.name)
		}
		os.Remove(r.pidFile)
	}
}

// killGroup sends SIGKILL to the process group the launcher recorded, and
// reports whether any process was there.
func (r *terraformRun) killGroup() bool {
	data, err := os.ReadFile(r.pidFile)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return false
	}
	return syscall.Kill(-pid, syscall.SIGKILL) == nil
}
