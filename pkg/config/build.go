package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// WaitSuffix ends the name of an Ansible block's wait for SSH: the block
// ansible.configure runs as the stages ansible.configure.wait and
// ansible.configure.
const WaitSuffix = ".wait"

// Build makes the pipeline's stages, their tools started by x (whose
// Wrapper is the default wrapper, e.g. BATON_WRAPPER's, for stages whose
// file sets none).
func (p *Pipeline) Build(x stages.Exec) (*pipeline.Pipeline, error) {
	defs := p.Defs()
	var out []pipeline.Stage
	for _, s := range p.Stages {
		sx := x
		sx.Wrapper = p.wrapper(s, x.Wrapper)
		switch s.Kind {
		case Packer:
			out = append(out, p.packer(s, sx, defs))
		case Terraform:
			out = append(out, p.terraform(s, sx, defs))
		case Ansible:
			out = append(out, p.ansible(s, sx, defs)...)
		case Command:
			out = append(out, p.command(s, sx, defs))
		}
	}
	return pipeline.New(out...)
}

// Wrappers lists the distinct wrappers the pipeline's tools run under,
// given the default one; a tool with none is not listed.
func (p *Pipeline) Wrappers(def []string) [][]string {
	seen := map[string]bool{}
	var out [][]string
	for _, s := range p.Stages {
		w := p.wrapper(s, def)
		k := strings.Join(w, "\x00")
		if len(w) == 0 || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, w)
	}
	return out
}

func (p *Pipeline) wrapper(s *Stage, def []string) []string {
	switch {
	case s.WrapperSet:
		return s.Wrapper
	case p.WrapperSet:
		return p.Wrapper
	}
	return def
}

// Policies gives each stage that sets timeout or attempts its policy.
func (p *Pipeline) Policies() map[string]pipeline.Policy {
	out := map[string]pipeline.Policy{}
	for _, s := range p.Stages {
		if s.Timeout == 0 && s.Attempts == 0 {
			continue
		}
		out[s.Address()] = pipeline.Policy{Timeout: s.Timeout, Retry: pipeline.RetryPolicy{Attempts: s.Attempts}}
	}
	return out
}

// Defs gives every handoff the pipeline passes its type: a Packer
// artifact is a template ID (or a string, by artifact_type), an output used
// as an inventory is an inventory, any other output any JSON value.
func (p *Pipeline) Defs() map[string]handoff.Def {
	defs := map[string]handoff.Def{}
	for _, s := range p.Stages {
		if s.Kind == Packer {
			name := s.Address() + ".artifact_id"
			if s.ArtifactType == "string" {
				defs[name] = handoff.NewString(name)
			} else {
				defs[name] = handoff.NewTemplateID(name)
			}
		}
	}
	for _, s := range p.Stages {
		if s.Inventory.IsRef() {
			defs[s.Inventory.Ref] = handoff.NewInventory(s.Inventory.Ref)
			if r := replacedName(s); r != "" {
				defs[r] = handoff.NewJSON[[]string](r, nil)
			}
		}
	}
	for _, s := range p.Stages {
		for _, v := range s.uses() {
			if _, ok := defs[v.Ref]; !ok {
				defs[v.Ref] = handoff.NewValue(v.Ref)
			}
		}
		// Every output a Terraform configuration declares is kept, taken
		// or not: the next stage run alone, status and rollback read them.
		if s.Kind == Terraform {
			outs, _ := terraformOutputs(s.Dir)
			for o := range outs {
				name := s.Address() + "." + o
				if _, ok := defs[name]; !ok && handoff.ValidName(name) == nil {
					defs[name] = handoff.NewValue(name)
				}
			}
		}
	}
	return defs
}

// replacedName is the handoff through which the Terraform stage that gives
// an Ansible block's inventory says which resources it replaced, so that
// accept-new forgets those hosts' old keys; "" when the block does not use
// accept-new on a Terraform inventory.
func replacedName(s *Stage) string {
	if !s.Wait.Enabled || s.Wait.HostKeys != "accept-new" || !strings.HasPrefix(s.Inventory.Ref, string(Terraform)+".") {
		return ""
	}
	parts := strings.SplitN(s.Inventory.Ref, ".", 3)
	return parts[0] + "." + parts[1] + ".-replaced"
}

// uses lists the references a stage's values hold.
func (s *Stage) uses() []Value {
	var out []Value
	for _, m := range []map[string]Value{s.Vars, s.Env} {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if m[n].IsRef() {
				out = append(out, m[n])
			}
		}
	}
	if s.Inventory.IsRef() {
		out = append(out, s.Inventory)
	}
	return out
}

// outputs lists the handoffs a stage gives: every name under its address.
func (p *Pipeline) outputs(s *Stage, defs map[string]handoff.Def) []handoff.Def {
	prefix := s.Address() + "."
	var out []handoff.Def
	for name, d := range defs {
		if strings.HasPrefix(name, prefix) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// split separates a stage's values into handoffs and fixed texts.
func split(m map[string]Value, defs map[string]handoff.Def) ([]stages.Var, map[string]string) {
	var vars []stages.Var
	set := map[string]string{}
	for name, v := range m {
		if v.IsRef() {
			vars = append(vars, stages.Var{Name: name, From: defs[v.Ref]})
		} else {
			set[name] = v.Text
		}
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	return vars, set
}

func (p *Pipeline) packer(s *Stage, x stages.Exec, defs map[string]handoff.Def) *stages.Packer {
	_, set := split(s.Vars, defs)
	st := &stages.Packer{
		StageName: s.Address(),
		Dir:       s.Dir,
		Template:  s.Template,
		Binary:    s.Binary,
		Set:       set,
		VarFiles:  s.VarFiles,
		Manifest:  s.Manifest,
		IDKey:     s.IDKey,
		Artifact:  defs[s.Address()+".artifact_id"],
		RunAfter:  s.After,
		Exec:      x,
	}
	if len(s.Exists) > 0 {
		st.Exists = existsCheck(s.Dir, s.Exists, x)
	}
	return st
}

// existsCheck runs argv to tell whether an artifact still exists: with
// BATON_ARTIFACT_ID set to its ID, exit 0 means it does.
func existsCheck(dir string, argv []string, x stages.Exec) func(ctx context.Context, id string) error {
	return func(ctx context.Context, id string) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = append(append(cmd.Environ(), x.Env...), "BATON_ARTIFACT_ID="+id)
		// Its stdout and stderr, together, are the tail.
		cmd.Stdout = io.Discard
		cmd.Stderr = cmd.Stdout
		if err := proc.Run(ctx, cmd, proc.Options{Grace: x.Grace, Tail: 300}); err != nil {
			var msg string
			if pe, ok := errors.AsType[*proc.Error](err); ok {
				msg = strings.TrimSpace(pe.Stderr)
			}
			return fmt.Errorf("the exists check %q says artifact %s is gone (%v)%s", strings.Join(argv, " "), id, err, prefixed(msg))
		}
		return nil
	}
}

func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func (p *Pipeline) terraform(s *Stage, x stages.Exec, defs map[string]handoff.Def) *stages.Terraform {
	vars, set := split(s.Vars, defs)
	var outs []stages.Output
	for _, d := range p.outputs(s, defs) {
		if strings.HasSuffix(d.Name(), ".-replaced") {
			continue
		}
		outs = append(outs, stages.Output{Name: strings.TrimPrefix(d.Name(), s.Address()+"."), As: d})
	}
	var backend []string
	for _, k := range sortedKeys(s.BackendConfig) {
		backend = append(backend, k+"="+s.BackendConfig[k])
	}
	lint := stages.LintOff
	switch s.Lint {
	case "auto":
		lint = stages.LintIfPresent
	case "required":
		lint = stages.LintRequired
	}
	var replaced handoff.Def
	if d, ok := defs[s.Address()+".-replaced"]; ok {
		replaced = d
	}
	return &stages.Terraform{
		StageName:     s.Address(),
		Dir:           s.Dir,
		Binary:        s.Binary,
		Vars:          vars,
		Set:           set,
		VarFiles:      s.VarFiles,
		Replaced:      replaced,
		Outputs:       outs,
		BackendConfig: backend,
		DataDir:       filepath.Join(p.State, "terraform", s.Name),
		Lint:          lint,
		RunAfter:      s.After,
		Exec:          x,

		ReplaceUnreachable: s.ReplaceUnreachable,
		CheckHosts:         s.ReplaceUnreachable || p.waitedOn(s),
	}
}

// waitedOn reports whether an Ansible stage waits for SSH on the hosts of
// an inventory that s gives: only then does a dead host of s's state
// stop the pipeline, and so only then does s dial them.
func (p *Pipeline) waitedOn(s *Stage) bool {
	for _, a := range p.Stages {
		if a.Kind == Ansible && a.Wait.Enabled && strings.HasPrefix(a.Inventory.Ref, s.Address()+".") {
			return true
		}
	}
	return false
}

func (p *Pipeline) ansible(s *Stage, x stages.Exec, defs map[string]handoff.Def) []pipeline.Stage {
	vars, set := split(s.Vars, defs)
	a := &stages.Ansible{
		StageName: s.Address(),
		Dir:       s.Dir,
		Playbook:  s.Playbook,
		Binary:    s.Binary,
		Vars:      vars,
		Set:       set,
		Limit:     s.Limit,
		Tags:      s.Tags,
		Forks:     s.Forks,
		Settings:  s.Settings,
		Mitogen:   s.Mitogen,
		RunAfter:  s.After,
		CacheDir:  filepath.Join(p.State, "cache", "ansible-syntax", s.Name),
		FactCache: filepath.Join(p.State, "cache", "ansible-facts", s.Name),
		Exec:      x,
	}
	if s.Inventory.IsRef() {
		a.Inventory = defs[s.Inventory.Ref].(handoff.Key[*handoff.AnsibleInventory])
	} else {
		a.InventoryPath = s.Inventory.Text
	}
	if !s.Wait.Enabled {
		return []pipeline.Stage{a}
	}
	w := &stages.SSHWait{
		StageName:     s.Address() + WaitSuffix,
		Inventory:     a.Inventory,
		InventoryPath: a.InventoryPath,
		Dir:           s.Dir,
		Exec:          x,
		KnownHosts:    p.KnownHosts(s),
		HostKeys:      s.Wait.HostKeys,
		PinnedKeys:    s.Wait.PinnedKeys,
		KeyFile:       s.KeyFile(),
		User:          s.Wait.User,
		ReadyCommand:  s.Wait.ReadyCommand,
		Timeout:       s.Wait.Timeout,
		// An inventory read by path is no handoff: the stage that writes
		// it is only in after.
		RunAfter: s.After,
	}
	if r := replacedName(s); r != "" {
		w.Replaced = defs[r]
	}
	a.KnownHosts = w.KnownHosts
	a.RunAfter = append(append([]string(nil), a.RunAfter...), w.StageName)
	return []pipeline.Stage{w, a}
}

// KnownHosts is the known_hosts file an Ansible block's hosts are checked
// against: the block's own, or the environment's.
func (p *Pipeline) KnownHosts(s *Stage) string {
	if s.Wait.KnownHosts != "" {
		return expandHome(s.Wait.KnownHosts, s.Dir)
	}
	return filepath.Join(p.State, "known_hosts")
}

func (p *Pipeline) command(s *Stage, x stages.Exec, defs map[string]handoff.Def) *stages.Command {
	vars, set := split(s.Env, defs)
	c := &stages.Command{
		StageName: s.Address(),
		Argv:      s.Argv,
		Dir:       s.Dir,
		EnvVars:   vars,
		RunAfter:  s.After,
		Exec:      x,
	}
	for _, k := range sortedKeys(set) {
		c.Env = append(c.Env, k+"="+set[k])
	}
	for _, o := range s.Outputs {
		name := s.Address() + "." + o
		d, ok := defs[name]
		if !ok {
			d = handoff.NewValue(name)
		}
		c.Stdout = append(c.Stdout, d)
	}
	return c
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// KeyFile is the client key an Ansible block's wait for SSH uses, with ~
// expanded; "" means each host's own or the user's default key.
func (s *Stage) KeyFile() string {
	if s.Wait.KeyFile == "" {
		return ""
	}
	return expandHome(s.Wait.KeyFile, s.Dir)
}
