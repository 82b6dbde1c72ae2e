package config

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// checkStage checks what a stage names on disk and the variables it sets
// against what its configuration declares.
func (d *decoder) checkStage(s *Stage, b *hcl.Block, at hcl.Attributes) {
	rng := func(name string) hcl.Range {
		if a, ok := at[name]; ok {
			return a.Expr.Range()
		}
		return b.DefRange
	}
	if !dirExists(s.Dir) {
		return // said already
	}
	for _, f := range s.VarFiles {
		d.fileExists(rng("var_files"), s.Address(), "var file", filepath.Join(s.Dir, f))
	}
	switch s.Kind {
	case Packer:
		tmpl := filepath.Join(s.Dir, orDot(s.Template))
		if !d.pathExists(rng("template"), s.Address(), "template", tmpl) {
			return
		}
		decl, err := packerDeclared(tmpl)
		if err != nil {
			d.ps.add(rng("template"), "%s: cannot read the template's variables: %v", s.Address(), err)
			return
		}
		d.declaredVars(s.Address(), s.Vars, rng("vars"), decl, "the template "+rel(d.p.Dir, tmpl))
	case Terraform:
		decl, err := terraformDeclared(s.Dir)
		if err != nil {
			d.ps.add(rng("dir"), "%s: cannot read the configuration's variables: %v", s.Address(), err)
			return
		}
		d.declaredVars(s.Address(), s.Vars, rng("vars"), decl, "the configuration in "+rel(d.p.Dir, s.Dir))
	case Ansible:
		d.fileExists(rng("playbook"), s.Address(), "playbook", filepath.Join(s.Dir, s.Playbook))
		if !s.Inventory.IsRef() {
			if s.Inventory.Text == "" {
				d.ps.add(b.DefRange, "%s has no inventory: set inventory = terraform.<name>.<output>, or a path such as \"inventory/hosts.ini\"", s.Address())
			} else if len(s.After) == 0 {
				d.pathExists(rng("inventory"), s.Address(), "inventory (when a stage writes it, add after = [that stage])", filepath.Join(s.Dir, s.Inventory.Text))
			}
		}
	case Command:
		if len(s.Argv) == 0 {
			d.ps.add(rng("argv"), "%s needs argv, the program and its arguments: argv = [\"./scripts/smoke.sh\"]", s.Address())
		} else if strings.Contains(s.Argv[0], "/") {
			d.fileExists(rng("argv"), s.Address(), "program", d.path(s.Dir, s.Argv[0]))
		}
		for _, o := range s.Outputs {
			if !labelRE.MatchString(o) {
				d.ps.add(rng("outputs"), "%s: output %q: an output name is lowercase letters, digits, '-' or '_', starting with a letter", s.Address(), o)
			}
		}
	}
}

// declaredVars refuses variables the configuration does not declare; who
// names the block that sets them.
func (d *decoder) declaredVars(who string, vars map[string]Value, r hcl.Range, decl *declared, what string) {
	for name, v := range vars {
		if decl.vars[name] {
			continue
		}
		vr := r
		if v.Line > 0 {
			vr = hcl.Range{Start: hcl.Pos{Line: v.Line}}
		}
		d.ps.add(vr, "%s: vars sets %q, which %s does not declare (it declares: %s)", who, name, what, list(decl.vars))
	}
}

func (d *decoder) dirExists(r hcl.Range, addr, what, dir string) bool {
	if !dirExists(dir) {
		d.ps.add(r, "%s: %s %s is not a directory", addr, what, rel(d.p.Dir, dir))
		return false
	}
	return true
}

func (d *decoder) fileExists(r hcl.Range, addr, what, path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		d.ps.add(r, "%s: %s %s does not exist", addr, what, rel(d.p.Dir, path))
		return false
	}
	return true
}

func (d *decoder) pathExists(r hcl.Range, addr, what, path string) bool {
	if _, err := os.Stat(path); err != nil {
		d.ps.add(r, "%s: %s %s does not exist", addr, what, rel(d.p.Dir, path))
		return false
	}
	return true
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}
