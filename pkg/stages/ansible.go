package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// maxForks caps the forks Ansible is given by default, one per host.
const maxForks = 50

// Ansible runs `ansible-playbook -i <inventory> <playbook>` in Dir, after
// a syntax check, so that the user's ansible.cfg, roles and collections
// apply. Where that ansible.cfg does not say otherwise it uses fast
// defaults: SSH pipelining, ControlPersist with a control path per run,
// and a fork per host. The zero value is not usable: Dir must be set.
type Ansible struct {
	// StageName names the stage; "" means "ansible".
	StageName string
	// Dir is the directory ansible-playbook runs in; Playbook, relative to
	// it, is the playbook ("" means "site.yml").
	Dir      string
	Playbook string
	// Binary is ansible-playbook, a name on PATH or a path; "" means
	// "ansible-playbook".
	Binary string
	// Inventory is the handoff that holds the inventory; nil means
	// handoff.Inventory.
	Inventory handoff.Key[*handoff.AnsibleInventory]
	// Vars pass handoffs as --extra-vars; Set are static --extra-vars
	// (a handoff of the same name wins).
	Vars []Var
	Set  map[string]string
	// Limit and Tags narrow the run (--limit, --tags).
	Limit string
	Tags  []string
	// Forks is Ansible's parallelism; 0 means one per host, up to maxForks.
	Forks int
	// KnownHosts, when set, is the known_hosts file hosts are checked
	// against: the one the wait for SSH wrote.
	KnownHosts string
	// Plain turns off the fast defaults (pipelining, ControlPersist) to
	// run with Ansible's own, e.g. for a benchmark.
	Plain bool
	// Mitogen runs the play with Mitogen's mitogen_linear strategy (see
	// ansible_mitogen.go); it refuses an ansible-core Mitogen does not support.
	Mitogen bool
	// RunAfter names stages this one must follow, such as the wait for SSH.
	RunAfter []string
	// CacheDir, when set, remembers playbooks that passed the syntax check,
	// so that the check (a second ansible-playbook start, over a second of
	// Python) runs only when the playbooks change.
	CacheDir string
	// FactCache, when set, is a directory where the facts plays gather are
	// kept (Ansible's jsonfile cache, gathering "smart"), so that a host's
	// facts are gathered once, not on every run: seconds per run for plays
	// that gather them, nothing for those that do not. Facts are kept per
	// inventory value: a new inventory from Terraform (hosts made or
	// remade) starts afresh, and none is kept longer than FactCacheTTL.
	FactCache string
	// FactCacheTTL bounds the age of cached facts; 0 means 24 hours.
	FactCacheTTL time.Duration
	// InventoryPath, when set, is the user's own inventory, relative to
	// Dir (or absolute), in any form Ansible reads: INI, YAML, JSON, a
	// script or a directory. ansible-playbook gets it as -i, so the
	// group_vars and host_vars beside it apply, and the stage needs no
	// inventory handoff.
	InventoryPath string
	// Settings are ANSIBLE_* variables set whatever the user's ansible.cfg
	// or environment says. Baton's own defaults (forks, pipelining,
	// ControlPersist, …) give way to the ansible.cfg Ansible finds from
	// Dir; each run logs which settings baton set and which it left.
	Settings map[string]string
	// Exec is how ansible-playbook is started.
	Exec Exec
}

var (
	_ pipeline.Stage         = (*Ansible)(nil)
	_ pipeline.Planner       = (*Ansible)(nil)
	_ pipeline.Checker       = (*Ansible)(nil)
	_ pipeline.Sequencer     = (*Ansible)(nil)
	_ pipeline.Fingerprinter = (*Ansible)(nil)
	_ pipeline.Reuser        = (*Ansible)(nil)
)

// Name implements pipeline.Stage.
func (a *Ansible) Name() string {
	if a.StageName == "" {
		return "ansible"
	}
	return a.StageName
}

func (a *Ansible) inventoryKey() handoff.Key[*handoff.AnsibleInventory] {
	if a.Inventory.Name() == "" {
		return handoff.Inventory
	}
	return a.Inventory
}

// Needs implements pipeline.Stage: the inventory (unless InventoryPath
// gives it) and the handoffs in Vars.
func (a *Ansible) Needs() []handoff.Def {
	if a.InventoryPath != "" {
		return varDefs(a.Vars)
	}
	return append([]handoff.Def{a.inventoryKey()}, varDefs(a.Vars)...)
}

// Gives implements pipeline.Stage: a playbook gives no handoff; its recap
// is the stage's result.
func (a *Ansible) Gives() []handoff.Def { return nil }

// After implements pipeline.Sequencer.
func (a *Ansible) After() []string { return a.RunAfter }

func (a *Ansible) playbook() string {
	if a.Playbook == "" {
		return "site.yml"
	}
	return a.Playbook
}

// Run implements pipeline.Stage: a syntax check, then the playbook.
func (a *Ansible) Run(ctx context.Context, j *pipeline.Job) error {
	return a.play(ctx, j, "playbook")
}

// Plan implements pipeline.Planner: the playbook with --check --diff.
func (a *Ansible) Plan(ctx context.Context, j *pipeline.Job) error {
	return a.play(ctx, j, "check", "--check", "--diff")
}

func (a *Ansible) play(ctx context.Context, j *pipeline.Job, stream string, extra ...string) error {
	r, err := a.prepare(ctx, j)
	if err != nil {
		return err
	}
	defer r.close(ctx)
	if err := a.syntaxCheck(ctx, j, r); err != nil {
		return err
	}
	var out proc.Buffer
	err = a.Exec.run(ctx, j, command{tool: "ansible-playbook", path: r.bin, dir: a.Dir, args: append(r.args(), extra...), env: r.env, stream: stream, stdout: &out})
	recap := parseRecap(out.Bytes())
	if recap != nil {
		if derr := j.SetDetail(map[string]any{"recap": recap}); derr != nil {
			j.Log.Warn().Err(derr).Msg("cannot record the recap")
		}
		j.SetNote("%s", recap)
	}
	if err != nil {
		return a.explain(err, recap)
	}
	return nil
}

// syntaxCheck runs --syntax-check unless these very playbooks passed it
// before (see CacheDir).
func (a *Ansible) syntaxCheck(ctx context.Context, j *pipeline.Job, r *ansibleRun) error {
	var stamp string
	if a.CacheDir != "" {
		f := newFingerprint("ansible-syntax")
		f.add("playbook", a.playbook())
		if err := f.addTree(a.Dir, withSkip("*.retry", "fact_cache")...); err == nil {
			stamp = filepath.Join(a.CacheDir, strings.TrimPrefix(f.sum(), "sha256:"))
			if _, err := os.Stat(stamp); err == nil {
				j.Printf("syntax check skipped: these playbooks passed it before")
				return nil
			}
		}
	}
	syntax := append(r.args(), "--syntax-check")
	if err := a.Exec.run(ctx, j, command{tool: "ansible-playbook", path: r.bin, dir: a.Dir, args: syntax, env: r.env, stream: "syntax"}); err != nil {
		return fmt.Errorf("ansible-playbook --syntax-check: %w", err)
	}
	if stamp != "" && os.MkdirAll(a.CacheDir, 0o700) == nil {
		_ = os.WriteFile(stamp, nil, 0o600)
	}
	return nil
}

// explain turns ansible-playbook's exit status into an error that names
// the hosts: 2 is failed hosts, 4 unreachable hosts or, with no recap, an
// inventory or playbook that did not parse.
func (a *Ansible) explain(err error, recap playRecap) error {
	te, ok := errors.AsType[*ToolError](err)
	if !ok || errors.Is(err, context.Canceled) {
		return fmt.Errorf("ansible-playbook: %w", err)
	}
	failed, unreachable := recap.Failed(), recap.Unreachable()
	var parts []string
	if len(failed) > 0 {
		parts = append(parts, "failed on "+strings.Join(failed, ", "))
	}
	if len(unreachable) > 0 {
		parts = append(parts, "could not reach "+strings.Join(unreachable, ", "))
	}
	switch {
	case len(parts) > 0:
		return fmt.Errorf("ansible-playbook %s: %w", strings.Join(parts, "; "), err)
	case te.ExitCode == 4:
		return fmt.Errorf("ansible-playbook could not parse the inventory or playbook: %w", err)
	}
	return fmt.Errorf("ansible-playbook: %w", err)
}

// Check implements pipeline.Checker: every host answers Ansible's ping.
func (a *Ansible) Check(ctx context.Context, j *pipeline.Job) error {
	r, err := a.prepare(ctx, j)
	if err != nil {
		return err
	}
	defer r.close(ctx)
	adhoc := filepath.Join(filepath.Dir(r.bin), "ansible")
	if _, err := os.Stat(adhoc); err != nil {
		adhoc, err = lookTool("ansible", "")
		if err != nil {
			return err
		}
	}
	pattern := a.Limit
	if pattern == "" {
		pattern = "all"
	}
	var out proc.Buffer
	args := []string{"-i", r.inventory, pattern, "-m", "ansible.builtin.ping", "--one-line"}
	err = a.Exec.run(ctx, j, command{tool: "ansible", path: adhoc, dir: a.Dir, args: args, env: r.env, stream: "ping", stdout: &out})
	var bad []string
	answered := 0
	for _, line := range strings.Split(string(out.Bytes()), "\n") {
		host, rest, ok := strings.Cut(line, " | ")
		switch {
		case ok && strings.HasPrefix(rest, "SUCCESS"):
			answered++
		case ok:
			bad = append(bad, host)
		}
	}
	if err != nil {
		if len(bad) > 0 {
			sort.Strings(bad)
			return fmt.Errorf("ansible cannot reach %s: %w", strings.Join(bad, ", "), err)
		}
		return fmt.Errorf("ansible ping: %w", err)
	}
	j.SetNote("%d hosts answer", answered)
	return nil
}

// CheckReuse implements pipeline.Reuser: with the same playbooks, inventory
// and variables as the last successful run, the stage that waits for the
// hosts has already shown they answer, and a ping would prove no more.
func (a *Ansible) CheckReuse(ctx context.Context, j *pipeline.Job) error { return nil }

// Fingerprint implements pipeline.Fingerprinter: the playbook directory,
// the inventory, the variables and Ansible's version.
func (a *Ansible) Fingerprint(ctx context.Context, j *pipeline.Job) (string, error) {
	bin, err := lookTool("ansible-playbook", a.Binary)
	if err != nil {
		return "", err
	}
	out, err := toolOutput(ctx, bin, "--version")
	if err != nil {
		return "", fmt.Errorf("ansible-playbook --version: %w", err)
	}
	f := newFingerprint("ansible")
	f.add("version", truncateLine(string(out)))
	f.add("playbook", a.playbook())
	if a.InventoryPath != "" {
		f.add("inventory-path", a.InventoryPath)
		if err := f.addTree(a.inventoryFile(), withSkip()...); err != nil {
			return "", fmt.Errorf("ansible fingerprint: inventory: %w", err)
		}
	} else if v, ok := j.In.Lookup(a.inventoryKey().Name()); ok {
		f.add("inventory", v.SHA256())
	}
	f.addMap("setting", a.Settings)
	vals, err := varValues(j.In, a.Vars)
	if err != nil {
		return "", err
	}
	f.addMap("var", vals)
	f.addMap("extra", a.Set)
	f.add("limit", a.Limit)
	f.add("tags", strings.Join(a.Tags, ","))
	if err := f.addTree(a.Dir, withSkip("*.retry", "fact_cache")...); err != nil {
		return "", fmt.Errorf("ansible fingerprint: %w", err)
	}
	return f.sum(), nil
}

// ansibleRun is what one use of ansible-playbook needs.
type ansibleRun struct {
	a         *Ansible
	bin       string
	inventory string
	hosts     int
	extra     map[string]string
	env       []string
	control   string
}

func (a *Ansible) prepare(ctx context.Context, j *pipeline.Job) (*ansibleRun, error) {
	if a.Dir == "" {
		return nil, errors.New("ansible: Dir is not set")
	}
	bin, err := lookTool("ansible-playbook", a.Binary)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(a.Dir, a.playbook())); err != nil {
		return nil, fmt.Errorf("ansible: playbook: %w", err)
	}
	inv, err := a.inventorySource(j)
	if err != nil {
		return nil, err
	}
	vals, err := toolVars(j.In, a.Vars, a.Set)
	if err != nil {
		return nil, err
	}
	r := &ansibleRun{a: a, bin: bin, inventory: inv.path, hosts: inv.hosts, extra: vals}
	env, err := a.environment(j, r, inv)
	if err != nil {
		r.close(ctx)
		return nil, err
	}
	// Mitogen's strategy, when asked for, over whatever else says.
	mitogen := map[string]string{}
	if err := a.mitogenEnv(ctx, bin, mitogen); err != nil {
		r.close(ctx)
		return nil, err
	}
	for _, k := range sortedKeys(mitogen) {
		env = append(env, k+"="+mitogen[k])
	}
	r.env = env
	return r, nil
}

func (r *ansibleRun) args() []string {
	args := []string{"-i", r.inventory}
	if len(r.extra) > 0 {
		data, _ := json.Marshal(r.extra)
		args = append(args, "--extra-vars", string(data))
	}
	if r.a.Limit != "" {
		args = append(args, "--limit", r.a.Limit)
	}
	if len(r.a.Tags) > 0 {
		args = append(args, "--tags", strings.Join(r.a.Tags, ","))
	}
	return append(args, r.a.playbook())
}

// close ends the SSH control masters of the run and removes their
// directory, so no ssh process outlives the stage.
func (r *ansibleRun) close(ctx context.Context) {
	if r.control == "" {
		return
	}
	socks, _ := os.ReadDir(r.control)
	for _, s := range socks {
		sock := filepath.Join(r.control, s.Name())
		// Not ctx: the masters must be ended also when the run was cancelled.
		cmd := exec.Command("ssh", "-o", "ControlPath="+sock, "-O", "exit", "baton-control-master")
		_ = proc.Run(context.WithoutCancel(ctx), cmd, proc.Options{})
	}
	_ = os.RemoveAll(r.control)
}
