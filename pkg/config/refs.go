package config

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ref is a reference to another stage: to its product (kind.name.attr),
// or, in after, to the stage itself.
type ref struct {
	kind  Kind
	stage string
	attr  string
	rng   hcl.Range
	from  *Stage
	after bool
	// asInventory is set where the product is used as an inventory.
	asInventory bool
}

func (r *ref) address() string { return string(r.kind) + "." + r.stage }

// handoff is the name of the handoff that carries the product.
func (r *ref) handoff() string { return r.address() + "." + r.attr }

func isStageRoot(name string) bool {
	for _, k := range kinds {
		if name == string(k) {
			return true
		}
	}
	return false
}

func traversalText(t hcl.Traversal) string {
	var b strings.Builder
	b.WriteString(t.RootName())
	for _, step := range t[1:] {
		switch s := step.(type) {
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		default:
			b.WriteString("[…]")
		}
	}
	return b.String()
}

// ref reads kind.name.attr.
func (d *decoder) ref(t hcl.Traversal) *ref {
	parts := make([]string, 0, len(t))
	parts = append(parts, t.RootName())
	for _, step := range t[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			d.ps.add(t.SourceRange(), "%s: a reference is kind.name.output, without indexes", traversalText(t))
			return nil
		}
		parts = append(parts, a.Name)
	}
	if len(parts) != 3 {
		d.ps.add(t.SourceRange(), "%s: a reference to another stage's product is <kind>.<name>.<output>, such as packer.image.artifact_id or terraform.infra.ansible_inventory", traversalText(t))
		return nil
	}
	r := &ref{kind: Kind(parts[0]), stage: parts[1], attr: parts[2], rng: t.SourceRange(), from: d.cur}
	d.refs = append(d.refs, r)
	return r
}

// resolve checks every reference against the stages and their products,
// marks the uses that fix a handoff's type, and looks for cycles.
func (d *decoder) resolve(byAddr map[string]*Stage) {
	deps := map[string][]string{}
	for _, r := range d.refs {
		target, ok := byAddr[r.address()]
		if !ok {
			d.ps.add(r.rng, "%s: there is no stage %s in this file (stages: %s)", r.text(), r.address(), addresses(byAddr))
			continue
		}
		if r.from != nil && r.from == target {
			d.ps.add(r.rng, "%s refers to itself", r.from.Address())
			continue
		}
		if r.from != nil {
			deps[r.from.Address()] = append(deps[r.from.Address()], target.Address())
		}
		if r.after {
			continue
		}
		switch target.Kind {
		case Packer:
			if r.attr != "artifact_id" {
				d.ps.add(r.rng, "%s: a packer stage gives artifact_id only", r.text())
			} else if r.asInventory {
				d.ps.add(r.rng, "%s is an image, not an inventory: use a terraform output or a path", r.text())
			}
		case Terraform:
			outs, err := terraformOutputs(target.Dir)
			if err == nil && !outs[r.attr] {
				d.ps.add(r.rng, "%s: the configuration in %s declares no output %q (it declares: %s)", r.text(), rel(d.p.Dir, target.Dir), r.attr, list(outs))
			}
		case Command:
			if !contains(target.Outputs, r.attr) {
				d.ps.add(r.rng, "%s: command %s declares no output %q: add it to its outputs (now %q)", r.text(), target.Name, r.attr, target.Outputs)
			}
		case Ansible:
			d.ps.add(r.rng, "%s: an ansible stage gives no outputs; to run after it, use after = [%s]", r.text(), target.Address())
		}
	}
	d.cycles(byAddr, deps)
}

func (r *ref) text() string {
	if r.after {
		return r.address()
	}
	return r.handoff()
}

func (d *decoder) cycles(byAddr map[string]*Stage, deps map[string][]string) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var path []string
	var visit func(a string) bool
	visit = func(a string) bool {
		switch state[a] {
		case visiting:
			i := 0
			for path[i] != a {
				i++
			}
			cycle := append(append([]string(nil), path[i:]...), a)
			d.ps.add(hcl.Range{Start: hcl.Pos{Line: byAddr[a].Line}}, "a cycle: %s; a stage cannot depend, through references or after, on a stage that depends on it", strings.Join(cycle, " → "))
			return true
		case done:
			return false
		}
		state[a] = visiting
		path = append(path, a)
		for _, dep := range deps[a] {
			if visit(dep) {
				return true
			}
		}
		path = path[:len(path)-1]
		state[a] = done
		return false
	}
	for _, s := range d.p.Stages {
		if visit(s.Address()) {
			return
		}
	}
}

// addresses lists a file's stage addresses for messages.
func addresses(byAddr map[string]*Stage) string { return list(byAddr) }

// list is a set's keys, sorted and joined for messages; "none" when empty.
func list[V any](set map[string]V) string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
