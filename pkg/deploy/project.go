package deploy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// Options say which pipeline file a Project runs and how it reaches the
// world. The zero value runs ./baton.hcl in the working directory, with
// the process's environment, printing nothing.
type Options struct {
	// Root is the directory whose .baton/<env> holds the environment's
	// state (default: the working directory).
	Root string
	// File is the pipeline file, or a directory holding one (default:
	// Root's baton.hcl).
	File string
	// Env is the environment (default: the file's default_environment,
	// else "default").
	Env string
	// Stdout receives the console of each run and the warnings of
	// notifications and records (default: nothing is printed).
	Stdout io.Writer
	// Getenv reads baton's settings and Environ lists the environment the
	// tools start from (default: the process's, os.Getenv and
	// os.Environ). They are read when used, not when the project opens.
	Getenv  func(string) string
	Environ func() []string
	// Grace is how long a tool has after SIGINT before it is killed
	// (default 4.5 s: Mage exits 5 s after Ctrl-C).
	Grace time.Duration
	// NotifyWait bounds how long a run waits, once over, for its
	// notifications (default 15 s); after a cancellation it waits only
	// NotifyCancelWait from the cancel (default 4.8 s).
	NotifyWait       time.Duration
	NotifyCancelWait time.Duration
}

// Project is a checked pipeline file and where its environment's state
// lives. Its methods are safe to call from one goroutine at a time, and
// Run from several at once on projects of different environments.
type Project struct {
	// Root holds .baton/; File is the pipeline file.
	Root string
	File string
	// Env is the environment; State is .baton/<env> under Root: handoffs,
	// runs, the ledger, caches.
	Env   string
	State string
	// Config is the checked pipeline file.
	Config *config.Pipeline

	opts    Options
	ledgers *ledgers // shared with the projects made from this one
	// storeWritable checks the handoff store before a run that changes
	// things; a test stands a read-only disk in with it.
	storeWritable func(dir string) error
}

// Open reads the pipeline file and checks it. Close releases what the
// project and those made from it (ForEnv, a rollback's checkout) hold.
func Open(opts Options) (*Project, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Grace == 0 {
		opts.Grace = 4500 * time.Millisecond
	}
	if opts.NotifyWait == 0 {
		opts.NotifyWait = 15 * time.Second
	}
	if opts.NotifyCancelWait == 0 {
		opts.NotifyCancelWait = 4800 * time.Millisecond
	}
	root := opts.Root
	if root == "" {
		root = "."
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	opts.Root = root
	file, err := config.Find(root, opts.File)
	if err != nil {
		return nil, err
	}
	if opts.Env != "" {
		if err := config.ValidEnv(opts.Env); err != nil {
			return nil, err
		}
	}
	return open(opts, file, opts.Env, newLedgers())
}

func open(opts Options, file, env string, l *ledgers) (*Project, error) {
	cfg, err := config.Load(file, config.Options{Env: env, StateRoot: opts.Root})
	if err != nil {
		return nil, err
	}
	// BATON_ANSIBLE_MITOGEN=1 runs every Ansible stage with Mitogen.
	mitogen, err := stages.MitogenFromEnv(opts.Getenv)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Stages {
		if s.Kind == config.Ansible && mitogen {
			s.Mitogen = true
		}
	}
	return &Project{Root: opts.Root, File: file, Env: cfg.Env, State: cfg.State, Config: cfg,
		opts: opts, ledgers: l, storeWritable: writable}, nil
}

// Close closes the shared ledgers' connections of p and of the projects
// made from it. Call it once, on the project Open returned.
func (p *Project) Close() error { return p.ledgers.close() }

// ForEnv is p for another environment of the same pipeline file.
func (p *Project) ForEnv(env string) (*Project, error) {
	if env == p.Env {
		return p, nil
	}
	if err := config.ValidEnv(env); err != nil {
		return nil, err
	}
	return open(p.opts, p.File, env, p.ledgers)
}

// Reload reads the pipeline file again, as it is now (after a webhook's
// update command pulled a new commit, say).
func (p *Project) Reload() error {
	q, err := open(p.opts, p.File, p.Env, p.ledgers)
	if err != nil {
		return err
	}
	p.Config = q.Config
	return nil
}

// Store opens the environment's handoff store.
func (p *Project) Store() (*handoff.Store, error) {
	return handoff.OpenStore(filepath.Join(p.State, "handoffs"))
}

// RunDir is where a run keeps its log, its tools' output and its summary.
func (p *Project) RunDir(runID string) string { return filepath.Join(p.State, "runs", runID) }

// Pipeline builds the project's pipeline. Its tools run under
// BATON_WRAPPER when it is set and the file names no wrapper of its own.
func (p *Project) Pipeline() (*pipeline.Pipeline, error) {
	x, err := p.Exec()
	if err != nil {
		return nil, err
	}
	return p.Config.Build(x)
}

// Stages lists the file's stages of kind k, in the file's order.
func (p *Project) Stages(k config.Kind) []*config.Stage {
	var out []*config.Stage
	for _, s := range p.Config.Stages {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

// StageNames lists the pipeline stage names the file stages run as: an
// Ansible block runs as its wait for SSH and the playbook.
func StageNames(ss ...*config.Stage) []string {
	var out []string
	for _, s := range ss {
		if s.Kind == config.Ansible && s.Wait.Enabled {
			out = append(out, s.Address()+config.WaitSuffix)
		}
		out = append(out, s.Address())
	}
	return out
}

// skipUnchanged names the stages skipped when their inputs are unchanged:
// Packer and Terraform; Ansible too with BATON_SKIP_UNCHANGED_ANSIBLE=1
// (by default it runs, to correct drift on the hosts).
func (p *Project) skipUnchanged() map[string]bool {
	m := map[string]bool{}
	for _, s := range p.Config.Stages {
		switch s.Kind {
		case config.Packer, config.Terraform:
			m[s.Address()] = true
		case config.Ansible:
			if p.opts.Getenv("BATON_SKIP_UNCHANGED_ANSIBLE") == "1" {
				m[s.Address()] = true
			}
		}
	}
	return m
}

// writable checks that a file can be made in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		return errors.Join(err, os.Remove(name))
	}
	return os.Remove(name)
}

// rel shows path relative to root when it is under it.
func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return r
	}
	return path
}

// ShortCommit is a commit as people read it: its first 12 characters,
// or "(unknown)".
func ShortCommit(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	if commit == "" {
		return "(unknown)"
	}
	return commit
}

// printf writes to the project's console.
func (p *Project) printf(format string, args ...any) {
	fmt.Fprintf(p.opts.Stdout, format, args...)
}
