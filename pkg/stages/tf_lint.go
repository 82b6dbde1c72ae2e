package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// gate runs validate, and tflint per Lint: `tflint --init` first when its
// configuration or plugins changed (lintInitIfNeeded), then `tflint`, both
// in Dir so that the user's .tflint.hcl applies.
func (r *tfRun) gate(ctx context.Context) error {
	var vout []byte
	err := r.cmd("validate", []string{"validate", "-json"}, func() error {
		v, err := r.tf.Validate(ctx)
		if err == nil && v != nil && !v.Valid {
			vout, _ = json.Marshal(v.Diagnostics)
			return fmt.Errorf("%d errors", v.ErrorCount)
		}
		return err
	})
	if err != nil {
		if te, ok := errors.AsType[*ToolError](err); ok && len(vout) > 0 {
			te.Stderr = string(vout)
		}
		return fmt.Errorf("terraform validate: %w", err)
	}
	if r.t.Lint == LintOff {
		return nil
	}
	tflint, err := lookTool("tflint", "")
	if err != nil {
		if r.t.Lint == LintIfPresent {
			r.j.Printf("tflint is not installed: lint skipped")
			return nil
		}
		return err
	}
	if err := r.lintInitIfNeeded(ctx, tflint); err != nil {
		return err
	}
	if err := r.t.Exec.run(ctx, r.j, command{tool: "tflint", path: tflint, dir: r.t.Dir, args: []string{"--no-color"}, stream: "tflint"}); err != nil {
		return fmt.Errorf("tflint: %w", err)
	}
	return nil
}

// lintInitIfNeeded runs `tflint --init`, which installs the plugins the
// configuration names (none for the bundled terraform ruleset), unless it
// ran for this very configuration and these plugins before; like init's,
// its stamp lives in the data directory.
func (r *tfRun) lintInitIfNeeded(ctx context.Context, tflint string) error {
	want := r.lintInitKey(tflint)
	stamp := filepath.Join(r.dataDir(), "baton-tflint-init")
	if have, err := os.ReadFile(stamp); err == nil && string(have) == want {
		r.j.Printf("tflint --init skipped: its configuration and plugins did not change")
		return nil
	}
	if err := r.t.Exec.run(ctx, r.j, command{tool: "tflint", path: tflint, dir: r.t.Dir, args: []string{"--init", "--no-color"}, stream: "tflint-init"}); err != nil {
		return fmt.Errorf("tflint --init (plugins of %s): %w", r.lintConfig(), err)
	}
	if err := os.MkdirAll(r.dataDir(), 0o700); err != nil {
		return err
	}
	// After the init: the key covers the plugins it installed.
	return os.WriteFile(stamp, []byte(r.lintInitKey(tflint)), 0o644)
}

// lintEnv is a tflint setting from the stage's environment or baton's.
func (r *tfRun) lintEnv(key string) string {
	for _, kv := range r.t.Exec.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return os.Getenv(key)
}

// lintConfig is the configuration tflint reads, as it looks for one:
// TFLINT_CONFIG_FILE, else .tflint.hcl in Dir, else ~/.tflint.hcl.
func (r *tfRun) lintConfig() string {
	if c := r.lintEnv("TFLINT_CONFIG_FILE"); c != "" {
		if !filepath.IsAbs(c) {
			c = filepath.Join(r.t.Dir, c)
		}
		return c
	}
	if c := filepath.Join(r.t.Dir, ".tflint.hcl"); fileExists(c) {
		return c
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".tflint.hcl")
}

// lintInitKey summarises what `tflint --init` depends on and what it
// makes: tflint itself, its configuration, and the files in the plugin
// directories it may use.
func (r *tfRun) lintInitKey(tflint string) string {
	h := sha256.New()
	fmt.Fprintf(h, "tflint=%s\n", tflint)
	cfg := r.lintConfig()
	data, err := os.ReadFile(cfg)
	fmt.Fprintf(h, "config=%s %x %v\n", cfg, sha256.Sum256(data), err == nil)
	home, _ := os.UserHomeDir()
	dirs := []string{filepath.Join(r.t.Dir, ".tflint.d", "plugins"), filepath.Join(home, ".tflint.d", "plugins")}
	if d := r.lintEnv("TFLINT_PLUGIN_DIR"); d != "" {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				if fi, err := e.Info(); err == nil {
					fmt.Fprintf(h, "plugin=%s %d %d\n", path, fi.Size(), fi.ModTime().UnixNano())
				}
			}
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}
