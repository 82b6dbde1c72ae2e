package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Environment is an environment block: what one environment changes in
// the stages, and where its releases must have succeeded first.
//
//	environment "production" {
//	  requires = ["staging"]
//	  terraform "infra" {
//	    var_files = ["production.tfvars"]
//	    vars      = { vm_count = 5 }
//	  }
//	}
type Environment struct {
	Name string
	Line int
	// Requires are the environments a release must have succeeded in
	// before it may be promoted to this one.
	Requires []string
}

// Environment returns the environment block named name, or nil.
func (p *Pipeline) Environment(name string) *Environment {
	for _, e := range p.Environments {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// EnvNames lists the declared environments in the order of the file.
func (p *Pipeline) EnvNames() []string {
	out := make([]string, len(p.Environments))
	for i, e := range p.Environments {
		out[i] = e.Name
	}
	return out
}

// overrideAttrs is what an environment may change in a stage of each kind.
var overrideAttrs = map[Kind][]string{
	Packer:    {"var_files", "vars", "exists"},
	Terraform: {"var_files", "vars"},
	Ansible:   {"vars"},
	Command:   {"env"},
}

var envSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "requires"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: string(Packer), LabelNames: []string{"name"}},
		{Type: string(Terraform), LabelNames: []string{"name"}},
		{Type: string(Ansible), LabelNames: []string{"name"}},
		{Type: string(Command), LabelNames: []string{"name"}},
	},
}

const allowedEnv = `requires, and blocks packer "<name>", terraform "<name>", ansible "<name>", command "<name>" naming stages of this file`

// envLabels collects the names of the file's environment blocks.
func envLabels(blocks hcl.Blocks) map[string]bool {
	out := map[string]bool{}
	for _, b := range blocks {
		if b.Type == "environment" {
			out[b.Labels[0]] = true
		}
	}
	return out
}

// environments reads the environment blocks, applying the one the file is
// read for to the stages; every block is checked whichever is chosen.
func (d *decoder) environments(blocks hcl.Blocks, byAddr map[string]*Stage) {
	byName := map[string]*Environment{}
	reqs := map[string]hcl.Range{}
	for _, b := range blocks {
		if b.Type != "environment" {
			continue
		}
		e, rng := d.environment(b, byAddr)
		if e == nil {
			continue
		}
		if other, dup := byName[e.Name]; dup {
			d.ps.add(b.DefRange, "environment %q is declared twice (first at line %d): give each its own name", e.Name, other.Line)
			continue
		}
		byName[e.Name], reqs[e.Name] = e, rng
		d.p.Environments = append(d.p.Environments, e)
	}
	for _, e := range d.p.Environments {
		for _, r := range e.Requires {
			switch {
			case r == e.Name:
				d.ps.add(reqs[e.Name], "environment %q requires itself: requires names the environments a release must succeed in first", e.Name)
			case byName[r] == nil:
				d.ps.add(reqs[e.Name], "environment %q requires %q, which this file does not declare (environments: %s)", e.Name, r, list(byName))
			}
		}
	}
	d.requireCycles(byName, reqs)
}

func (d *decoder) environment(b *hcl.Block, byAddr map[string]*Stage) (*Environment, hcl.Range) {
	name := b.Labels[0]
	if err := ValidEnv(name); err != nil {
		d.ps.add(b.LabelRanges[0], "environment: %v", err)
		return nil, hcl.Range{}
	}
	content, ds := b.Body.Content(envSchema)
	d.ps.diags(ds, allowedEnv)
	e := &Environment{Name: name, Line: b.DefRange.Start.Line}
	// Its values see its own baton.env and baton.state.
	saved := d.ctx
	defer func() { d.ctx = saved }()
	d.ctx = d.envContext(name)
	rng := b.DefRange
	if a, ok := content.Attributes["requires"]; ok {
		e.Requires, rng = d.strs(a), a.Expr.Range()
	}
	seen := map[string]int{}
	for _, sb := range content.Blocks {
		addr := sb.Type + "." + sb.Labels[0]
		if line, dup := seen[addr]; dup {
			d.ps.add(sb.DefRange, "environment %q: %s is set twice (first at line %d): put its settings in one block", name, addr, line)
			continue
		}
		seen[addr] = sb.DefRange.Start.Line
		d.override(e, sb, byAddr)
	}
	return e, rng
}

// override reads an environment's block for one stage of byAddr and
// applies it when e is the environment the file is read for: its var files
// come after the stage's own, so their values win, its variables replace
// the stage's of the same name, and a Packer stage's exists is replaced.
func (d *decoder) override(e *Environment, b *hcl.Block, byAddr map[string]*Stage) {
	k := Kind(b.Type)
	s := byAddr[b.Type+"."+b.Labels[0]]
	content, ds := b.Body.Content(&hcl.BodySchema{Attributes: attrSchemas(overrideAttrs[k])})
	d.ps.diags(ds, strings.Join(overrideAttrs[k], ", ")+" (the rest of a stage is the same in every environment)")
	if s == nil {
		d.ps.add(b.DefRange, "environment %q: %s %q is not a stage of this file (stages: %s)", e.Name, k, b.Labels[0], addresses(byAddr))
		return
	}
	chosen := e.Name == d.p.Env
	what := fmt.Sprintf("environment %q: %s", e.Name, s.Address())
	at := content.Attributes
	if a, ok := at["var_files"]; ok {
		files := d.strs(a)
		if dirExists(s.Dir) {
			for _, f := range files {
				d.fileExists(a.Expr.Range(), what, "var file", filepath.Join(s.Dir, f))
			}
		}
		if chosen {
			s.VarFiles = append(append([]string(nil), s.VarFiles...), files...)
		}
	}
	if a, ok := at["vars"]; ok {
		vars := d.fixed(a, s, chosen)
		d.overrideDeclared(s, what, a.Expr.Range(), vars)
		if chosen {
			s.Vars = merged(s.Vars, vars)
		}
	}
	if a, ok := at["exists"]; ok {
		// Where an environment's artifacts are registered is its own.
		if argv := d.strs(a); chosen {
			s.Exists = argv
		}
	}
	if a, ok := at["env"]; ok {
		vars := d.fixed(a, s, chosen)
		if chosen {
			s.Env = merged(s.Env, vars)
		}
	}
}

// overrideDeclared refuses variables s's configuration does not declare.
func (d *decoder) overrideDeclared(s *Stage, what string, r hcl.Range, vars map[string]Value) {
	var decl *declared
	var err error
	var where string
	switch s.Kind {
	case Packer:
		tmpl := filepath.Join(s.Dir, orDot(s.Template))
		where = "the template " + rel(d.p.Dir, tmpl)
		if _, serr := os.Stat(tmpl); serr == nil {
			decl, err = packerDeclared(tmpl)
		}
	case Terraform:
		where = "the configuration in " + rel(d.p.Dir, s.Dir)
		if dirExists(s.Dir) {
			decl, err = terraformDeclared(s.Dir)
		}
	}
	if decl == nil || err != nil {
		return // not a kind that declares, or said already
	}
	d.declaredVars(what, vars, r, decl, where)
}

// fixed reads an environment's map of fixed values. The handoffs between
// stages are the same in every environment, so a reference to another
// stage is refused. Values are evaluated only for the chosen environment:
// another's may use env() for secrets this shell does not have.
func (d *decoder) fixed(a *hcl.Attribute, s *Stage, eval bool) map[string]Value {
	pairs, ds := hcl.ExprMap(a.Expr)
	if ds.HasErrors() {
		d.ps.add(a.Expr.Range(), "%s must be a map, like { name = \"value\" }", a.Name)
		return nil
	}
	out := map[string]Value{}
	for _, kv := range pairs {
		key, ok := d.key(kv.Key)
		if !ok {
			continue
		}
		if _, dup := out[key]; dup {
			d.ps.add(kv.Key.Range(), "%s sets %q twice", a.Name, key)
			continue
		}
		line := kv.Value.Range().Start.Line
		if t := stageTraversal(kv.Value); t != nil {
			d.ps.add(kv.Value.Range(), "%s: an environment sets fixed values only; the handoffs between stages are the same in every environment, so set %s = %s in %s's own block", traversalText(t), key, traversalText(t), s.Address())
			continue
		}
		v := Value{Line: line}
		if eval {
			if cv, ok := d.eval(kv.Value); ok {
				t, err := text(cv)
				if err != nil {
					d.ps.add(kv.Value.Range(), "%s.%s: %v", a.Name, key, err)
				}
				v.Text = t
			}
		}
		out[key] = v
	}
	return out
}

// stageTraversal is the first reference to a stage in expr, or nil.
func stageTraversal(expr hcl.Expression) hcl.Traversal {
	for _, t := range expr.Variables() {
		if isStageRoot(t.RootName()) {
			return t
		}
	}
	return nil
}

func merged(base, over map[string]Value) map[string]Value {
	out := make(map[string]Value, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// requireCycles refuses environments that require each other.
func (d *decoder) requireCycles(byName map[string]*Environment, reqs map[string]hcl.Range) {
	state := map[string]int{} // 1 visiting, 2 done
	var path []string
	var visit func(n string) bool
	visit = func(n string) bool {
		switch state[n] {
		case 1:
			i := 0
			for path[i] != n {
				i++
			}
			cycle := append(append([]string(nil), path[i:]...), n)
			d.ps.add(reqs[n], "a cycle of requires: %s; a release must succeed in one environment before the next, so one of them must require nothing", strings.Join(cycle, " → "))
			return true
		case 2:
			return false
		}
		state[n] = 1
		path = append(path, n)
		for _, r := range byName[n].Requires {
			if r != n && byName[r] != nil && visit(r) {
				return true
			}
		}
		path = path[:len(path)-1]
		state[n] = 2
		return false
	}
	for _, e := range d.p.Environments {
		if visit(e.Name) {
			return
		}
	}
}

// envContext is the evaluation context of environment name's block.
func (d *decoder) envContext(name string) *hcl.EvalContext {
	if name == d.p.Env {
		return d.ctx
	}
	q := &Pipeline{Path: d.p.Path, Dir: d.p.Dir, Env: name, State: filepath.Join(d.root, ".baton", name)}
	return evalContext(q, d.root, d.getenv)
}
