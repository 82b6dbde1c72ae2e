package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Packer builds an image with ONE `packer build -machine-readable` and gives
// its artifact ID — for the proxmox builders, the template's VMID — as a
// handoff. The zero value is not usable: Dir must be set.
type Packer struct {
	// StageName names the stage; "" means "packer".
	StageName string
	// Dir is the directory Packer runs in; Template, relative to it, is the
	// template file or directory ("" means ".", every *.pkr.hcl there).
	Dir      string
	Template string
	// Binary is the packer executable, a name on PATH or a path; "" means
	// "packer".
	Binary string
	// Set are static values, passed as -var name=value; VarFiles as
	// -var-file. (A build needs no handoff, so Packer has no Vars.)
	Set      map[string]string
	VarFiles []string
	// Manifest, when set, is the file the template's manifest
	// post-processor writes (relative to Dir, or absolute). The ID is then
	// read from the builds of the last run recorded there: from
	// custom_data[IDKey] when IDKey is set, else from artifact_id. Builders
	// whose artifact ID is not the template's number need this route.
	Manifest string
	IDKey    string
	// Artifact is the handoff the ID is given as; nil means
	// handoff.TemplateID. With several builds, Builds maps each build's
	// name ("proxmox-iso.ubuntu", or just "ubuntu") to its own handoff
	// instead.
	Artifact handoff.Def
	Builds   map[string]handoff.Def
	// Exists, when set, tells whether a template still exists; Check uses
	// it, and a skipped build is only trusted while it holds.
	Exists func(ctx context.Context, id string) error
	// RunAfter names stages the build must follow without needing their
	// handoffs.
	RunAfter []string
	// Exec is how packer is started.
	Exec Exec
}

// After implements pipeline.Sequencer.
func (p *Packer) After() []string { return p.RunAfter }

var (
	_ pipeline.Stage         = (*Packer)(nil)
	_ pipeline.Planner       = (*Packer)(nil)
	_ pipeline.Checker       = (*Packer)(nil)
	_ pipeline.Fingerprinter = (*Packer)(nil)
)

// Name implements pipeline.Stage.
func (p *Packer) Name() string {
	if p.StageName == "" {
		return "packer"
	}
	return p.StageName
}

// Needs implements pipeline.Stage: a build needs no handoff.
func (p *Packer) Needs() []handoff.Def { return nil }

// Gives implements pipeline.Stage.
func (p *Packer) Gives() []handoff.Def {
	if len(p.Builds) > 0 {
		names := make([]string, 0, len(p.Builds))
		for n := range p.Builds {
			names = append(names, n)
		}
		sort.Strings(names)
		defs := make([]handoff.Def, len(names))
		for i, n := range names {
			defs[i] = p.Builds[n]
		}
		return defs
	}
	return []handoff.Def{p.artifact()}
}

func (p *Packer) artifact() handoff.Def {
	if p.Artifact == nil {
		return handoff.TemplateID
	}
	return p.Artifact
}

func (p *Packer) template() string {
	if p.Template == "" {
		return "."
	}
	return p.Template
}

func (p *Packer) varArgs() []string {
	names := make([]string, 0, len(p.Set))
	for n := range p.Set {
		names = append(names, n)
	}
	sort.Strings(names)
	var args []string
	for _, n := range names {
		args = append(args, "-var", n+"="+p.Set[n])
	}
	for _, f := range p.VarFiles {
		args = append(args, "-var-file="+f)
	}
	return args
}

// buildArgs are the arguments of the one build.
func (p *Packer) buildArgs() []string {
	args := append([]string{"build", "-machine-readable", "-color=false"}, p.varArgs()...)
	return append(args, p.template())
}

func (p *Packer) validateArgs() []string {
	args := append([]string{"validate"}, p.varArgs()...)
	return append(args, p.template())
}

// Run implements pipeline.Stage: init when needed, one build, then the
// artifact IDs as handoffs.
func (p *Packer) Run(ctx context.Context, j *pipeline.Job) error {
	bin, err := p.prepare(ctx, j)
	if err != nil {
		return err
	}
	manifest := p.manifestPath()
	before := ""
	if manifest != "" {
		if m, err := readManifest(manifest); err == nil {
			before = m.LastRunUUID
		}
	}
	var out proc.Buffer
	err = p.Exec.run(ctx, j, command{tool: "packer", path: bin, dir: p.Dir, args: p.buildArgs(), stream: "build", stdout: &out, show: humanLine})
	mo, perr := parseMachineReadable(out.Bytes())
	if err != nil {
		if te, ok := errors.AsType[*ToolError](err); ok && mo != nil && len(mo.Errors) > 0 && strings.TrimSpace(te.Stderr) == "" {
			te.Stderr = j.Redact(strings.Join(mo.Errors, "\n"))
		}
		return fmt.Errorf("packer build: %w", err)
	}
	if perr != nil {
		return perr
	}
	ids, err := p.artifactIDs(mo, manifest, before)
	if err != nil {
		return err
	}
	var notes []string
	for _, b := range ids {
		raw, _ := json.Marshal(b.id)
		if err := j.Out.PutRaw(b.def, raw); err != nil {
			if manifest == "" {
				return fmt.Errorf("build %s gave artifact ID %q, which is not a valid %s (%v): builders whose artifact ID is not the template's number need the manifest route — add a manifest post-processor with custom_data { %s = ... } and set Manifest and IDKey", b.build, b.id, b.def.Name(), err, b.def.Name())
			}
			return fmt.Errorf("build %s: %s %q from %s is not valid: %w", b.build, b.def.Name(), b.id, manifest, err)
		}
		notes = append(notes, fmt.Sprintf("%s=%s", b.def.Name(), b.id))
	}
	j.SetNote("built %s", strings.Join(notes, ", "))
	return nil
}

type builtID struct {
	build, id string
	def       handoff.Def
}

// artifactIDs picks each wanted handoff's ID from the manifest's last run
// or from the machine-readable artifact lines.
func (p *Packer) artifactIDs(mo *machineOutput, manifest, before string) ([]builtID, error) {
	type found struct{ build, short, id string }
	var builds []found
	if manifest != "" {
		m, err := readManifest(manifest)
		if err != nil {
			return nil, fmt.Errorf("packer build succeeded but its manifest %s cannot be read (is the manifest post-processor's output this path?): %w", manifest, err)
		}
		if m.LastRunUUID == "" || m.LastRunUUID == before {
			return nil, fmt.Errorf("packer build succeeded but did not record a new run in %s: check that the template's manifest post-processor writes to this path", manifest)
		}
		for _, b := range m.LastRun() {
			id := b.ArtifactID
			if p.IDKey != "" {
				v, ok := b.CustomData[p.IDKey]
				if !ok {
					return nil, fmt.Errorf("manifest %s: build %s has no custom_data key %q: add it to the manifest post-processor", manifest, b.FullName(), p.IDKey)
				}
				id = v
			}
			builds = append(builds, found{b.FullName(), b.Name, id})
		}
	} else {
		seen := map[string]bool{}
		for _, a := range mo.Artifacts {
			// A build's first artifact is its builder's; later ones come
			// from post-processors.
			if seen[a.Build] {
				continue
			}
			seen[a.Build] = true
			short := a.Build
			if i := strings.IndexByte(short, '.'); i >= 0 {
				short = short[i+1:]
			}
			builds = append(builds, found{a.Build, short, a.ID})
		}
	}
	var names []string
	for _, b := range builds {
		names = append(names, b.build)
	}
	if len(builds) == 0 {
		return nil, errors.New("packer build succeeded but reported no artifact")
	}
	if len(p.Builds) == 0 {
		if len(builds) > 1 {
			return nil, fmt.Errorf("packer built %d artifacts (%s): set Builds to say which handoff each one gives", len(builds), strings.Join(names, ", "))
		}
		return []builtID{{builds[0].build, builds[0].id, p.artifact()}}, nil
	}
	var out []builtID
	for name, def := range p.Builds {
		var hit *found
		for i := range builds {
			if builds[i].build == name || builds[i].short == name {
				hit = &builds[i]
				break
			}
		}
		if hit == nil {
			return nil, fmt.Errorf("packer built %s but no build named %q, which should give %s", strings.Join(names, ", "), name, def.Name())
		}
		out = append(out, builtID{hit.build, hit.id, def})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].def.Name() < out[j].def.Name() })
	return out, nil
}

func (p *Packer) manifestPath() string {
	if p.Manifest == "" || filepath.IsAbs(p.Manifest) {
		return p.Manifest
	}
	return filepath.Join(p.Dir, p.Manifest)
}

func readManifest(path string) (*packerManifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Plan implements pipeline.Planner with `packer validate`.
func (p *Packer) Plan(ctx context.Context, j *pipeline.Job) error {
	bin, err := p.prepare(ctx, j)
	if err != nil {
		return err
	}
	if err := p.Exec.run(ctx, j, command{tool: "packer", path: bin, dir: p.Dir, args: p.validateArgs(), stream: "validate"}); err != nil {
		return fmt.Errorf("packer validate: %w", err)
	}
	j.SetNote("template is valid")
	return nil
}

// Check implements pipeline.Checker: the template the last build gave
// still exists, when Exists can tell.
func (p *Packer) Check(ctx context.Context, j *pipeline.Job) error {
	if p.Exists == nil {
		j.SetNote("no way to check templates is configured")
		return nil
	}
	for _, d := range p.Gives() {
		v, ok := j.In.Lookup(d.Name())
		if !ok {
			return fmt.Errorf("no %s has been built yet: run the packer stage", d.Name())
		}
		id := strings.Trim(string(v.Raw), `"`)
		if err := p.Exists(ctx, id); err != nil {
			return fmt.Errorf("template %s (%s): %w", id, d.Name(), err)
		}
		j.SetNote("template %s exists", id)
	}
	return nil
}

// prepare finds packer and runs `packer init` when the template declares
// required plugins and this Packer has init (1.7 and later).
func (p *Packer) prepare(ctx context.Context, j *pipeline.Job) (string, error) {
	if p.Dir == "" {
		return "", errors.New("packer: Dir is not set")
	}
	bin, err := lookTool("packer", p.Binary)
	if err != nil {
		return "", err
	}
	plugins, err := declaresPlugins(filepath.Join(p.Dir, p.template()))
	if err != nil {
		return "", err
	}
	if !plugins {
		return bin, nil
	}
	v, err := packerVersion(ctx, bin)
	if err != nil {
		return "", err
	}
	if !v.atLeast(1, 7) {
		return "", fmt.Errorf("the template declares required_plugins, which Packer %s cannot install: use Packer 1.7 or later, or remove the packer { required_plugins } block", v)
	}
	if err := p.Exec.run(ctx, j, command{tool: "packer", path: bin, dir: p.Dir, args: []string{"init", p.template()}, stream: "init"}); err != nil {
		return "", fmt.Errorf("packer init: %w", err)
	}
	return bin, nil
}

var requiredPluginsRE = regexp.MustCompile(`(?m)^\s*required_plugins\s*\{`)

// declaresPlugins reports whether a template file, or any *.pkr.hcl file in
// a template directory, has a required_plugins block.
func declaresPlugins(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("packer template: %w", err)
	}
	files := []string{path}
	if fi.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.pkr.hcl"))
		if len(files) == 0 {
			return false, fmt.Errorf("packer template: %s has no *.pkr.hcl file", path)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		if requiredPluginsRE.Match(data) {
			return true, nil
		}
	}
	return false, nil
}

type version [3]int

func (v version) atLeast(major, minor int) bool {
	return v[0] > major || v[0] == major && v[1] >= minor
}

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

var versionRE = regexp.MustCompile(`v?(\d+)\.(\d+)\.(\d+)`)

func parseVersion(s string) (version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return version{}, fmt.Errorf("no version number in %q", truncateLine(s))
	}
	var v version
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, nil
}

func packerVersion(ctx context.Context, bin string) (version, error) {
	out, err := toolOutput(ctx, bin, "version")
	if err != nil {
		return version{}, fmt.Errorf("packer version: %w", err)
	}
	return parseVersion(string(out))
}

func truncateLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// Fingerprint implements pipeline.Fingerprinter: the template's files, the
// variables and Packer's version. A build whose fingerprint is unchanged
// is only skipped while its template still exists (see Exists).
func (p *Packer) Fingerprint(ctx context.Context, j *pipeline.Job) (string, error) {
	bin, err := lookTool("packer", p.Binary)
	if err != nil {
		return "", err
	}
	v, err := packerVersion(ctx, bin)
	if err != nil {
		return "", err
	}
	f := newFingerprint("packer")
	f.add("version", v.String())
	f.add("template", p.template())
	f.addMap("var", p.Set)
	for _, vf := range p.VarFiles {
		f.add("var-file", vf)
	}
	skip := withSkip("packer_cache", "packer-manifest.json", "*.tfstate*")
	if m := p.manifestPath(); m != "" {
		skip = append(skip, filepath.Base(m))
	}
	if err := f.addTree(filepath.Join(p.Dir, p.template()), skip...); err != nil {
		return "", fmt.Errorf("packer fingerprint: %w", err)
	}
	return f.sum(), nil
}
