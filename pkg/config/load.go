package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// FileName is the pipeline file's name at the root of a repository.
const FileName = "baton.hcl"

// maxFile bounds a pipeline file; real ones are a few kilobytes.
const maxFile = 1 << 20

// Options says which environment a pipeline file is read for.
type Options struct {
	// Env is the environment; "" means the file's default_environment, else
	// "default".
	Env string
	// StateRoot is the directory whose .baton/<env> holds the environment's
	// state; "" means the file's directory.
	StateRoot string
	// Getenv reads the environment for env(); nil means os.Getenv.
	Getenv func(string) string
}

var labelRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,30}$`)

// ValidEnv reports whether name can name an environment: its state
// directory and lock are named after it. It is handoff.ValidEnvName, the
// one rule, here beside the environment blocks it checks.
func ValidEnv(name string) error { return handoff.ValidEnvName(name) }

// Load reads and checks the pipeline file at path. Its error, when the
// file has problems, is a Problems listing each with its line.
func Load(path string, opts Options) (*Pipeline, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	src, err := readFile(abs)
	if err != nil {
		return nil, err
	}
	return Parse(abs, src, opts)
}

func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("pipeline file %s is not a regular file", path)
	}
	if fi.Size() > maxFile {
		return nil, fmt.Errorf("pipeline file %s is %d bytes; a pipeline file is at most %d", path, fi.Size(), maxFile)
	}
	return os.ReadFile(path)
}

// Parse checks src as the pipeline file at path (absolute); the paths in
// it are relative to path's directory.
func Parse(path string, src []byte, opts Options) (*Pipeline, error) {
	if len(src) > maxFile {
		return nil, fmt.Errorf("pipeline file %s is %d bytes; a pipeline file is at most %d", path, len(src), maxFile)
	}
	ps := newProblems(path)
	f, ds := hclsyntax.ParseConfig(src, filepath.Base(path), hcl.InitialPos)
	if ds.HasErrors() {
		ps.diags(ds, "")
		return nil, ps.err()
	}
	content, ds := f.Body.Content(fileSchema)
	ps.diags(ds, allowedTop)

	p := &Pipeline{Path: path, Dir: filepath.Dir(path)}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	root := opts.StateRoot
	if root == "" {
		root = p.Dir
	}
	d := &decoder{ps: ps, p: p, root: root, getenv: getenv}
	declared := envLabels(content.Blocks)
	if err := d.chooseEnv(content.Attributes["default_environment"], opts.Env, declared); err != nil {
		return nil, err
	}
	p.State = filepath.Join(root, ".baton", p.Env)
	d.ctx = evalContext(p, root, getenv)

	if a, ok := content.Attributes["wrapper"]; ok {
		p.Wrapper, p.WrapperSet = d.strs(a), true
	}
	byAddr := map[string]*Stage{}
	for _, b := range content.Blocks {
		if b.Type == "environment" {
			continue // once every stage is known
		}
		nrefs := len(d.refs)
		s := d.stage(b)
		if s == nil {
			continue
		}
		if other, dup := byAddr[s.Address()]; dup {
			ps.add(b.DefRange, "%s is declared twice (first at line %d): give each block its own name", s.Address(), other.Line)
			d.refs = d.refs[:nrefs] // the second block's references mean nothing
			continue
		}
		byAddr[s.Address()] = s
		p.Stages = append(p.Stages, s)
	}
	if len(p.Stages) == 0 && len(ps.list) == 0 {
		ps.add(hcl.Range{}, "no stages: add a packer, terraform, ansible or command block")
	}
	d.environments(content.Blocks, byAddr)
	d.resolve(byAddr)
	if err := ps.err(); err != nil {
		return nil, err
	}
	if len(declared) > 0 && !declared[p.Env] {
		how := "set BATON_ENV to one of them"
		if opts.Env == "" {
			how += ", or default_environment to the one plain runs use"
		}
		return nil, fmt.Errorf("%s declares no environment %q (environments: %s): %s, or add environment %q { } to the file", filepath.Base(path), p.Env, strings.Join(p.EnvNames(), ", "), how, p.Env)
	}
	return p, nil
}

// chooseEnv sets the environment the file is read for: env (BATON_ENV),
// else the file's default_environment, else "default". When the file
// declares environments, default_environment must be one of them.
func (d *decoder) chooseEnv(a *hcl.Attribute, env string, declared map[string]bool) error {
	p := d.p
	p.Env = env
	if a != nil {
		// baton.env and baton.state are not known yet: they depend on it.
		d.ctx = evalContext(p, "", d.getenv)
		if s, ok := d.str(a); ok {
			switch err := ValidEnv(s); {
			case err != nil:
				d.ps.add(a.Range, "default_environment: %v", err)
			case len(declared) > 0 && !declared[s]:
				d.ps.add(a.Range, "default_environment = %q: no environment %q in this file (environments: %s)", s, s, list(declared))
			case p.Env == "":
				p.Env = s
			}
		}
	}
	if p.Env == "" {
		p.Env = "default"
	}
	if err := ValidEnv(p.Env); err != nil {
		return fmt.Errorf("BATON_ENV: %w", err)
	}
	return nil
}

// errNoFile is returned by Find when no pipeline file is there.
var errNoFile = errors.New("no " + FileName)

// Find returns the pipeline file that BATON_PIPELINE-like spec names: a
// file, a directory holding baton.hcl, or "" for dir's own baton.hcl.
func Find(dir, spec string) (string, error) {
	path := filepath.Join(dir, FileName)
	if spec != "" {
		path = spec
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, spec)
		}
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			path = filepath.Join(path, FileName)
		}
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w at %s", errNoFile, path)
	}
	return path, nil
}

// IsNotFound reports whether err is Find's "no baton.hcl".
func IsNotFound(err error) bool { return errors.Is(err, errNoFile) }
