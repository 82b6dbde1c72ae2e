package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/internal/regularfile"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Command runs any program as a stage — `task`, `docker`, a script — and
// gives handoffs from what it prints or writes. Its needs reach it as
// environment variables (each handoff's EnvVar, e.g. BATON_TEMPLATE_ID, in
// its text form: a number, a string, or JSON).
type Command struct {
	// StageName names the stage; it is required.
	StageName string
	// Argv is the program and its arguments; Dir its working directory.
	Argv []string
	Dir  string
	// Env is added to the program's environment.
	Env []string
	// Uses are the handoffs the program needs, each in its own EnvVar;
	// EnvVars pass handoffs under names of one's own (HOST from
	// terraform.infra.vm_ip).
	Uses    []handoff.Def
	EnvVars []Var
	// Stdout, when set, is given the program's standard output, which must
	// then be one JSON value: for a single handoff, its value; for several,
	// an object with a member per handoff, named as the handoff or as the
	// last part of its name (url for command.smoke.url).
	Stdout []handoff.Def
	// Files gives handoffs from files the program writes, by path
	// (relative to Dir): each file holds the handoff's JSON value.
	Files map[string]handoff.Def
	// RunAfter names stages this one must follow.
	RunAfter []string
	// Exec is how the program is started.
	Exec Exec
}

var (
	_ pipeline.Stage     = (*Command)(nil)
	_ pipeline.Sequencer = (*Command)(nil)
)

// Name implements pipeline.Stage.
func (c *Command) Name() string { return c.StageName }

// Needs implements pipeline.Stage.
func (c *Command) Needs() []handoff.Def {
	return append(append([]handoff.Def(nil), c.Uses...), varDefs(c.EnvVars)...)
}

// Gives implements pipeline.Stage.
func (c *Command) Gives() []handoff.Def {
	defs := append([]handoff.Def(nil), c.Stdout...)
	paths := make([]string, 0, len(c.Files))
	for p := range c.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		defs = append(defs, c.Files[p])
	}
	return defs
}

// After implements pipeline.Sequencer.
func (c *Command) After() []string { return c.RunAfter }

// Run implements pipeline.Stage.
func (c *Command) Run(ctx context.Context, j *pipeline.Job) error {
	if len(c.Argv) == 0 {
		return errors.New("command: Argv is empty")
	}
	bin, err := lookTool(c.Argv[0], "")
	if err != nil {
		return err
	}
	env := append([]string(nil), c.Env...)
	for _, d := range c.Uses {
		v, ok := j.In.Lookup(d.Name())
		if !ok {
			return fmt.Errorf("command: handoff %s is not available", d.Name())
		}
		text := string(v.Raw)
		var s string
		if json.Unmarshal(v.Raw, &s) == nil {
			text = s
		}
		env = append(env, d.EnvVar()+"="+text)
	}
	named, err := varValues(j.In, c.EnvVars)
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	for _, v := range c.EnvVars {
		env = append(env, v.Name+"="+named[v.Name])
	}
	var out proc.Buffer
	cmd := command{tool: filepath.Base(c.Argv[0]), path: bin, dir: c.Dir, args: c.Argv[1:], env: env, stream: "command"}
	if len(c.Stdout) > 0 {
		cmd.stdout = &out
	}
	if err := c.Exec.run(ctx, j, cmd); err != nil {
		return err
	}
	if err := c.giveStdout(j, out.Bytes()); err != nil {
		return err
	}
	for path, d := range c.Files {
		full := path
		if !filepath.IsAbs(full) {
			full = filepath.Join(c.Dir, path)
		}
		data, err := regularfile.Read(full, handoff.MaxValueFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("command %s: %s, which gives %s: %w", c.Argv[0], path, d.Name(), err)
		}
		if err != nil {
			return fmt.Errorf("command %s did not write %s, which gives %s: %w", c.Argv[0], path, d.Name(), err)
		}
		if err := j.Out.PutRaw(d, data); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

func (c *Command) giveStdout(j *pipeline.Job, out []byte) error {
	switch len(c.Stdout) {
	case 0:
		return nil
	case 1:
		if err := j.Out.PutRaw(c.Stdout[0], out); err != nil {
			return fmt.Errorf("command output is not a valid %s: %w", c.Stdout[0].Name(), err)
		}
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(out, &obj); err != nil {
		return fmt.Errorf("command output must be a JSON object with %s: %w", names(c.Stdout), err)
	}
	for _, d := range c.Stdout {
		raw, ok := obj[d.Name()]
		if !ok {
			raw, ok = obj[d.Name()[strings.LastIndex(d.Name(), ".")+1:]]
		}
		if !ok {
			return fmt.Errorf("command output has no %q (it must have %s)", d.Name(), names(c.Stdout))
		}
		if err := j.Out.PutRaw(d, raw); err != nil {
			return fmt.Errorf("command output %s: %w", d.Name(), err)
		}
	}
	return nil
}

func names(defs []handoff.Def) string {
	s := make([]string, len(defs))
	for i, d := range defs {
		s[i] = d.Name()
	}
	return strings.Join(s, ", ")
}
