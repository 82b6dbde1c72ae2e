package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// initIfNeeded runs init when the data directory is missing or the lock
// file, module sources or backend settings changed since the last init.
// With a plugin cache, init holds the cache's lock (lockPluginCache).
func (r *tfRun) initIfNeeded(ctx context.Context) error {
	want, err := r.initKey()
	if err != nil {
		return err
	}
	stamp := filepath.Join(r.dataDir(), "baton-init")
	if have, err := os.ReadFile(stamp); err == nil && string(have) == want {
		r.j.Printf("terraform init skipped: nothing it depends on changed")
		return nil
	}
	// No -reconfigure: with a changed backend it would silently start from
	// an empty state; Terraform's own error (migrate or reconfigure) is
	// the user's decision to make.
	opts := []tfexec.InitOption{tfexec.Upgrade(false)}
	args := []string{"init", "-input=false"}
	// -backend-config only when given: otherwise the configuration's own
	// backend, untouched, decides where the state lives.
	for _, b := range r.t.BackendConfig {
		opts = append(opts, tfexec.BackendConfig(b))
		args = append(args, "-backend-config="+b)
	}
	if dir := r.t.PluginCacheDir; dir != "" {
		unlock, err := lockPluginCache(ctx, dir, func() { r.j.Printf("waiting for another terraform init to finish with the plugin cache %s", dir) })
		if err != nil {
			return fmt.Errorf("terraform init: %w", err)
		}
		defer unlock()
	}
	if err := r.cmd("init", args, func() error { return r.tf.Init(ctx, opts...) }); err != nil {
		return fmt.Errorf("terraform init: %w", err)
	}
	if err := os.MkdirAll(r.dataDir(), 0o700); err != nil {
		return err
	}
	return os.WriteFile(stamp, []byte(want), 0o600)
}

func (r *tfRun) dataDir() string {
	if r.t.DataDir != "" {
		return r.t.DataDir
	}
	return filepath.Join(r.t.Dir, ".terraform")
}

// initKey summarises what init depends on: the lock file, every module and
// terraform block (module sources, required providers, backend), and the
// backend configuration.
func (r *tfRun) initKey() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "binary=%s\n", r.bin)
	for _, b := range r.t.BackendConfig {
		fmt.Fprintf(h, "backend-config=%s\n", b)
	}
	files, _ := filepath.Glob(filepath.Join(r.t.Dir, "*.tf"))
	jsonFiles, _ := filepath.Glob(filepath.Join(r.t.Dir, "*.tf.json"))
	files = append(append(files, jsonFiles...), filepath.Join(r.t.Dir, ".terraform.lock.hcl"))
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		// Any change to a file that declares modules, providers or the
		// backend re-inits; other files do not.
		s := string(data)
		if filepath.Base(f) == ".terraform.lock.hcl" || strings.Contains(s, "module ") || strings.Contains(s, "terraform {") || strings.Contains(s, "\"module\"") || strings.Contains(s, "\"terraform\"") {
			fmt.Fprintf(h, "%s=%x\n", filepath.Base(f), sha256.Sum256(data))
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
