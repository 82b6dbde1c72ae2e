package config

import (
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder turns blocks into stages, collecting problems as it goes.
type decoder struct {
	ps   *problems
	p    *Pipeline
	ctx  *hcl.EvalContext
	refs []*ref // every reference to another stage, checked by resolve
	cur  *Stage // the stage being decoded
	// root and getenv make environment blocks' evaluation contexts.
	root   string
	getenv func(string) string
}

func (d *decoder) stage(b *hcl.Block) *Stage {
	k := Kind(b.Type)
	name := b.Labels[0]
	if !labelRE.MatchString(name) {
		d.ps.add(b.LabelRanges[0], "%s %q: a stage name is 1-31 lowercase letters, digits, '-' or '_', starting with a letter", k, name)
		return nil
	}
	s := &Stage{Kind: k, Name: name, Line: b.DefRange.Start.Line, Dir: d.p.Dir, Wait: Wait{Enabled: true, HostKeys: "accept-new"}}
	d.cur = s
	content, ds := b.Body.Content(stageSchema(k))
	d.ps.diags(ds, allowed(k))
	at := content.Attributes
	if a, ok := at["dir"]; ok {
		if v, ok := d.str(a); ok {
			s.Dir = d.path(d.p.Dir, v)
			d.dirExists(a.Range, s.Address(), "dir", s.Dir)
		}
	}
	if a, ok := at["after"]; ok {
		d.after(s, a)
	}
	if a, ok := at["wrapper"]; ok {
		s.Wrapper, s.WrapperSet = d.strs(a), true
	}
	if a, ok := at["timeout"]; ok {
		s.Timeout = d.duration(a)
	}
	if a, ok := at["attempts"]; ok {
		s.Attempts = d.int(a, 1, 20)
	}
	d.setStr(at, "binary", &s.Binary)
	switch k {
	case Packer:
		d.packerAttrs(s, at)
	case Terraform:
		d.terraformAttrs(s, at)
	case Ansible:
		d.ansibleAttrs(s, at, content.Blocks)
	case Command:
		d.commandAttrs(s, at)
	}
	if a, ok := at["var_files"]; ok {
		s.VarFiles = d.strs(a)
	}
	if a, ok := at["vars"]; ok {
		s.Vars = d.values(a)
	}
	d.checkStage(s, b, at)
	return s
}

// setStr sets *dst to the string attribute name, when the block has it.
func (d *decoder) setStr(at hcl.Attributes, name string, dst *string) {
	if a, ok := at[name]; ok {
		if v, ok := d.str(a); ok {
			*dst = v
		}
	}
}

func (d *decoder) packerAttrs(s *Stage, at hcl.Attributes) {
	d.setStr(at, "template", &s.Template)
	d.setStr(at, "manifest", &s.Manifest)
	d.setStr(at, "id_key", &s.IDKey)
	s.ArtifactType = "template_id"
	if a, ok := at["artifact_type"]; ok {
		s.ArtifactType = d.oneOf(a, "template_id", "string")
	}
	if a, ok := at["exists"]; ok {
		s.Exists = d.strs(a)
	}
}

func (d *decoder) terraformAttrs(s *Stage, at hcl.Attributes) {
	s.Lint = "off"
	if a, ok := at["lint"]; ok {
		s.Lint = d.oneOf(a, "off", "auto", "required")
	}
	if a, ok := at["backend_config"]; ok {
		s.BackendConfig = d.strMap(a)
	}
	if a, ok := at["replace_unreachable"]; ok {
		s.ReplaceUnreachable = d.bool(a)
	}
}

func (d *decoder) ansibleAttrs(s *Stage, at hcl.Attributes, blocks hcl.Blocks) {
	s.Playbook = "site.yml"
	d.setStr(at, "playbook", &s.Playbook)
	d.setStr(at, "limit", &s.Limit)
	if a, ok := at["inventory"]; ok {
		s.Inventory = d.value(a.Expr)
		if s.Inventory.IsRef() {
			d.refs[len(d.refs)-1].asInventory = true
		}
	}
	if a, ok := at["settings"]; ok {
		s.Settings = d.strMap(a)
	}
	if a, ok := at["tags"]; ok {
		s.Tags = d.strs(a)
	}
	if a, ok := at["forks"]; ok {
		s.Forks = d.int(a, 1, 500)
	}
	if a, ok := at["mitogen"]; ok {
		s.Mitogen = d.bool(a)
	}
	for _, wb := range blocks {
		d.wait(s, wb)
	}
}

func (d *decoder) commandAttrs(s *Stage, at hcl.Attributes) {
	if a, ok := at["argv"]; ok {
		s.Argv = d.strs(a)
	}
	if a, ok := at["env"]; ok {
		s.Env = d.values(a)
	}
	if a, ok := at["outputs"]; ok {
		s.Outputs = d.strs(a)
	}
}

func (d *decoder) wait(s *Stage, b *hcl.Block) {
	content, ds := b.Body.Content(waitSchema)
	d.ps.diags(ds, "enabled, host_keys, pinned_keys, known_hosts, key_file, user, ready_command, timeout")
	at := content.Attributes
	w := &s.Wait
	if a, ok := at["enabled"]; ok {
		w.Enabled = d.bool(a)
	}
	if a, ok := at["host_keys"]; ok {
		w.HostKeys = d.oneOf(a, "known_hosts", "accept-new", "pinned")
	}
	for name, dst := range map[string]*string{"known_hosts": &w.KnownHosts, "key_file": &w.KeyFile, "user": &w.User, "ready_command": &w.ReadyCommand} {
		if a, ok := at[name]; ok {
			if v, ok := d.str(a); ok {
				*dst = v
			}
		}
	}
	if a, ok := at["timeout"]; ok {
		w.Timeout = d.duration(a)
	}
	if a, ok := at["pinned_keys"]; ok {
		w.PinnedKeys = d.strs(a)
	}
	if w.HostKeys == "pinned" && len(w.PinnedKeys) == 0 {
		d.ps.add(b.DefRange, "%s: host_keys = \"pinned\" needs pinned_keys, the hosts' public keys as in authorized_keys", s.Address())
	}
}

// eval evaluates a fixed expression; a reference to a stage is an error.
func (d *decoder) eval(expr hcl.Expression) (cty.Value, bool) {
	for _, t := range expr.Variables() {
		if isStageRoot(t.RootName()) {
			d.ps.add(t.SourceRange(), "%s: another stage's product cannot be used here, only in vars, env, inventory and after", traversalText(t))
			return cty.NilVal, false
		}
	}
	v, ds := expr.Value(d.ctx)
	if ds.HasErrors() {
		d.ps.diags(ds, "")
		return cty.NilVal, false
	}
	return v, true
}

func (d *decoder) str(a *hcl.Attribute) (string, bool) {
	v, ok := d.eval(a.Expr)
	if !ok {
		return "", false
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		d.ps.add(a.Expr.Range(), "%s must be a string, not %s", a.Name, describe(v.Type()))
		return "", false
	}
	return s.AsString(), true
}

func (d *decoder) strs(a *hcl.Attribute) []string {
	v, ok := d.eval(a.Expr)
	if !ok {
		return nil
	}
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || l.IsNull() {
		d.ps.add(a.Expr.Range(), "%s must be a list of strings, like [\"a\", \"b\"], not %s", a.Name, describe(v.Type()))
		return nil
	}
	out := []string{}
	for _, e := range l.AsValueSlice() {
		if e.IsNull() {
			d.ps.add(a.Expr.Range(), "%s holds a null", a.Name)
			return nil
		}
		out = append(out, e.AsString())
	}
	return out
}

func (d *decoder) strMap(a *hcl.Attribute) map[string]string {
	v, ok := d.eval(a.Expr)
	if !ok {
		return nil
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		d.ps.add(a.Expr.Range(), "%s must be a map, like { name = \"value\" }, not %s", a.Name, describe(v.Type()))
		return nil
	}
	out := map[string]string{}
	for k, e := range v.AsValueMap() {
		t, err := text(e)
		if err != nil {
			d.ps.add(a.Expr.Range(), "%s.%s: %v", a.Name, k, err)
			continue
		}
		out[k] = t
	}
	return out
}

func (d *decoder) bool(a *hcl.Attribute) bool {
	v, ok := d.eval(a.Expr)
	if !ok {
		return false
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil || b.IsNull() {
		d.ps.add(a.Expr.Range(), "%s must be true or false", a.Name)
		return false
	}
	return b.True()
}

func (d *decoder) int(a *hcl.Attribute, lo, hi int) int {
	s, ok := d.str(a)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		d.ps.add(a.Expr.Range(), "%s must be a whole number from %d to %d, not %q", a.Name, lo, hi, s)
		return 0
	}
	return n
}

func (d *decoder) duration(a *hcl.Attribute) time.Duration {
	s, ok := d.str(a)
	if !ok {
		return 0
	}
	t, err := time.ParseDuration(s)
	if err != nil || t <= 0 {
		d.ps.add(a.Expr.Range(), "%s must be a duration such as \"90s\" or \"30m\", not %q", a.Name, s)
		return 0
	}
	return t
}

func (d *decoder) oneOf(a *hcl.Attribute, choices ...string) string {
	s, ok := d.str(a)
	if !ok {
		return choices[0]
	}
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	d.ps.add(a.Expr.Range(), "%s = %q: want one of %q", a.Name, s, choices)
	return choices[0]
}

// values reads a map whose values are fixed or another stage's product.
func (d *decoder) values(a *hcl.Attribute) map[string]Value {
	pairs, ds := hcl.ExprMap(a.Expr)
	if ds.HasErrors() {
		d.ps.add(a.Expr.Range(), "%s must be a map, like { name = \"value\" } or { name = terraform.infra.output }", a.Name)
		return nil
	}
	out := map[string]Value{}
	for _, kv := range pairs {
		kval, ok := d.key(kv.Key)
		if !ok {
			continue
		}
		if _, dup := out[kval]; dup {
			d.ps.add(kv.Key.Range(), "%s sets %q twice", a.Name, kval)
			continue
		}
		out[kval] = d.value(kv.Value)
	}
	return out
}

// key reads a map key: a bare name or a string.
func (d *decoder) key(expr hcl.Expression) (string, bool) {
	if name := hcl.ExprAsKeyword(expr); name != "" {
		return name, true
	}
	v, ok := d.eval(expr)
	if !ok {
		return "", false
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		d.ps.add(expr.Range(), "a key must be a name or a string")
		return "", false
	}
	return s.AsString(), true
}

// value reads one value: a reference to another stage's product, alone,
// or a fixed value.
func (d *decoder) value(expr hcl.Expression) Value {
	line := expr.Range().Start.Line
	vars := expr.Variables()
	for _, t := range vars {
		if !isStageRoot(t.RootName()) {
			continue
		}
		abs, ds := hcl.AbsTraversalForExpr(expr)
		if ds.HasErrors() || len(vars) != 1 {
			d.ps.add(expr.Range(), "%s can only be used alone, not inside a larger expression: pass it as a variable of its own", traversalText(t))
			return Value{Line: line}
		}
		r := d.ref(abs)
		if r == nil {
			return Value{Line: line}
		}
		return Value{Ref: r.handoff(), Line: line}
	}
	v, ok := d.eval(expr)
	if !ok {
		return Value{Line: line}
	}
	t, err := text(v)
	if err != nil {
		d.ps.add(expr.Range(), "%v", err)
	}
	return Value{Text: t, Line: line}
}

// after reads after = [kind.name, …].
func (d *decoder) after(s *Stage, a *hcl.Attribute) {
	exprs, ds := hcl.ExprList(a.Expr)
	if ds.HasErrors() {
		d.ps.add(a.Expr.Range(), "after must be a list of stages, like [ansible.configure]")
		return
	}
	for _, e := range exprs {
		t, ds := hcl.AbsTraversalForExpr(e)
		if ds.HasErrors() || len(t) != 2 || !isStageRoot(t.RootName()) {
			d.ps.add(e.Range(), "after takes stage addresses such as terraform.infra or ansible.configure (no quotes)")
			continue
		}
		name := t[1].(hcl.TraverseAttr).Name
		d.refs = append(d.refs, &ref{kind: Kind(t.RootName()), stage: name, rng: e.Range(), from: s, after: true})
		s.After = append(s.After, t.RootName()+"."+name)
	}
	sort.Strings(s.After)
}

func (d *decoder) path(base, p string) string {
	if p == "" {
		return base
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}
