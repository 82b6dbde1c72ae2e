//go:build baton_tf_v2

package stages

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Fingerprint implements pipeline.Fingerprinter: Terraform's version and
// provider selections, the -var values, the variables the launcher passes
// from the environment (TF_VAR_* and the like), the backend settings, the
// outputs given, and every file of the configuration and of the local
// modules it calls, except .terraform, state and plan files.
func (t *Terraform) Fingerprint(ctx context.Context, j *pipeline.Job) (string, error) {
	r, err := t.start(ctx, j, false)
	if err != nil {
		return "", err
	}
	// Cached by start: no second process.
	v, providers, err := r.tf.Version(ctx, false)
	if err != nil {
		return "", fmt.Errorf("%s fingerprint: %w", r.name, err)
	}
	f := newFingerprint("terraform")
	f.add("tool", r.name)
	f.add("version", v.String())
	names := make([]string, 0, len(providers))
	for p := range providers {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		f.add("provider", p+"="+providers[p].String())
	}
	for _, v := range r.vars {
		f.add("var", v)
	}
	f.addMap("env", r.carried)
	for _, b := range t.BackendConfig {
		f.add("backend-config", b)
	}
	for _, o := range t.Outputs {
		f.add("output", o.Name+"="+o.As.Name())
	}
	skip := withSkip(".terraform", "*.tfstate*", "*.tfplan", "tfplan", "terraform.tfstate.d")
	if within(r.dir, r.dataDir) {
		skip = append(skip, filepath.Base(r.dataDir))
	}
	mods, err := walkModules(r.dir)
	if err != nil {
		return "", fmt.Errorf("%s fingerprint: %w", r.name, err)
	}
	for _, m := range mods {
		if m.dir != r.dir && within(r.dir, m.dir) {
			continue // already in the tree
		}
		f.add("module", m.rel)
		if err := f.addTree(m.dir, skip...); err != nil {
			return "", fmt.Errorf("%s fingerprint: %w", r.name, err)
		}
	}
	return f.sum(), nil
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
