//go:build baton_tf_v2

package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// initStamp holds, in the data directory, the init key of the last
// successful init.
const initStamp = "baton-init"

// ensureInit runs init unless the data directory holds the stamp of an
// init with the same key: the same binary, backend settings, lock file,
// module calls, terraform blocks and providers.
func (r *terraformRun) ensureInit(ctx context.Context) error {
	key, err := initKey(r.dir, r.bin, r.t.BackendConfig)
	if err != nil {
		return fmt.Errorf("%s init: %w", r.name, err)
	}
	if have, err := os.ReadFile(filepath.Join(r.dataDir, initStamp)); err == nil && string(have) == key {
		r.j.Printf("%s init skipped: nothing it depends on changed", r.name)
		return nil
	}
	return r.init(ctx, key)
}

// init runs init and stamps the data directory with key.
func (r *terraformRun) init(ctx context.Context, key string) error {
	var opts []tfexec.InitOption
	args := []string{"init", "-input=false"}
	for _, b := range r.t.BackendConfig {
		opts = append(opts, tfexec.BackendConfig(b))
		args = append(args, "-backend-config="+b)
	}
	// No -reconfigure: a changed backend fails loudly instead of starting
	// from an empty state.
	if err := r.run(ctx, call{stream: "init", args: args}, func(ctx context.Context) error { return r.tf.Init(ctx, opts...) }); err != nil {
		return fmt.Errorf("%s init: %w", r.name, err)
	}
	r.inited = true
	err := os.MkdirAll(r.dataDir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(r.dataDir, initStamp), []byte(key), 0o644)
	}
	if err != nil {
		return fmt.Errorf("%s init: %w", r.name, err)
	}
	return nil
}

// retryInit runs fn and, when it fails saying init is needed (a module or
// provider the init key could not see, a data directory changed behind
// baton's back) and init has not run in this attempt, runs init and fn
// once more.
func (r *terraformRun) retryInit(ctx context.Context, fn func() error) error {
	err := fn()
	var te *ToolError
	if err == nil || r.inited || ctx.Err() != nil || !errors.As(err, &te) || !strings.Contains(te.Stderr, r.name+" init") {
		return err
	}
	r.j.Printf("%s says init is needed: running it", r.name)
	key, kerr := initKey(r.dir, r.bin, r.t.BackendConfig)
	if kerr != nil {
		return err
	}
	if ierr := r.init(ctx, key); ierr != nil {
		return ierr
	}
	return fn()
}

// initKey summarises what init acts on: the binary, the backend settings,
// the lock file and, in the root module and every local module it calls,
// the terraform and module blocks and the providers used. Other edits (a
// resource's arguments, say) leave it unchanged.
func initKey(dir, bin string, backendConfig []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "binary=%q\n", bin)
	for _, b := range backendConfig {
		fmt.Fprintf(h, "backend-config=%q\n", b)
	}
	lock, err := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	fmt.Fprintf(h, "lock=%x\n", sha256.Sum256(lock))
	mods, err := walkModules(dir)
	if err != nil {
		return "", err
	}
	for _, m := range mods {
		for _, p := range m.text {
			fmt.Fprintf(h, "%s: %d:%s\n", m.rel, len(p), p)
		}
		fmt.Fprintf(h, "%s: providers=%s\n", m.rel, strings.Join(m.providers, ","))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// maxModules bounds how many local modules walkModules follows.
const maxModules = 100

// module is one module of a configuration: its directory, its path from
// the root as written in the module calls, and what init acts on in it.
type module struct {
	dir, rel string
	initParts
}

// walkModules reads the root module in dir and every local module it
// calls, directly or not, depth first in source order.
func walkModules(dir string) ([]module, error) {
	var mods []module
	seen := map[string]bool{}
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		dir = filepath.Clean(dir)
		if seen[dir] || len(seen) >= maxModules {
			return nil
		}
		seen[dir] = true
		parts, err := moduleInitParts(dir)
		if err != nil {
			return err
		}
		mods = append(mods, module{dir: dir, rel: rel, initParts: parts})
		for _, src := range parts.localSources {
			if err := walk(filepath.Join(dir, src), path.Join(rel, src)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(dir, "."); err != nil {
		return nil, err
	}
	return mods, nil
}

// initParts are what init acts on in one module.
type initParts struct {
	text         []string // terraform, module and provider blocks, in file order
	providers    []string // provider names used by resources and data sources, sorted
	localSources []string // sources of module calls that are directories: ./x, ../x
}

var (
	moduleSourceRE = regexp.MustCompile(`(?m)^\s*source\s*=\s*"((?:\./|\.\./)[^"]*)"`)
	providerArgRE  = regexp.MustCompile(`(?m)^\s*provider\s*=\s*([A-Za-z0-9_-]+)`)
)

// moduleInitParts reads a module's .tf and .tf.json files.
func moduleInitParts(dir string) (initParts, error) {
	var p initParts
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	jsonFiles, _ := filepath.Glob(filepath.Join(dir, "*.tf.json"))
	providers := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return p, err
		}
		for _, b := range hclBlocks(src) {
			switch b.Type {
			case "terraform", "module", "provider":
				p.text = append(p.text, b.Type+" "+strings.Join(b.Labels, " ")+" "+b.Body)
				if b.Type == "module" {
					for _, m := range moduleSourceRE.FindAllStringSubmatch(b.Body, -1) {
						p.localSources = append(p.localSources, m[1])
					}
				}
			case "resource", "data", "ephemeral":
				if len(b.Labels) > 0 {
					providers[providerOf(b.Labels[0])] = true
				}
				for _, m := range providerArgRE.FindAllStringSubmatch(b.Body, -1) {
					providers[m[1]] = true
				}
			}
		}
	}
	for _, f := range jsonFiles {
		if err := jsonInitParts(f, &p, providers); err != nil {
			return p, err
		}
	}
	for n := range providers {
		p.providers = append(p.providers, n)
	}
	sort.Strings(p.providers)
	sort.Strings(p.localSources)
	return p, nil
}

// providerOf is the provider a resource type belongs to by Terraform's
// convention: the part before the first underscore.
func providerOf(resourceType string) string {
	name, _, _ := strings.Cut(resourceType, "_")
	return name
}

func jsonInitParts(file string, p *initParts, providers map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		// Terraform reports the syntax error; the file still counts.
		p.text = append(p.text, string(data))
		return nil
	}
	for _, k := range []string{"terraform", "module", "provider"} {
		if raw, ok := doc[k]; ok {
			p.text = append(p.text, k+" "+string(raw))
		}
	}
	var modules map[string]struct {
		Source string `json:"source"`
	}
	if json.Unmarshal(doc["module"], &modules) == nil {
		for _, m := range modules {
			if strings.HasPrefix(m.Source, "./") || strings.HasPrefix(m.Source, "../") {
				p.localSources = append(p.localSources, m.Source)
			}
		}
	}
	for _, k := range []string{"resource", "data", "ephemeral"} {
		var types map[string]json.RawMessage
		if json.Unmarshal(doc[k], &types) == nil {
			for t := range types {
				providers[providerOf(t)] = true
			}
		}
	}
	return nil
}
