//go:build baton_tf_v2

package stages

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// environment is the process environment with Exec.Env, TF_DATA_DIR and
// TF_PLUGIN_CACHE_DIR, less what terraform-exec refuses; it sets r.carried
// to the refused variables the launcher restores, and r.dataDir.
func (r *terraformRun) environment() (map[string]string, error) {
	env := envMapOf(os.Environ())
	for k, v := range envMapOf(r.t.Exec.Env) {
		env[k] = v
	}
	switch {
	case r.t.DataDir != "":
		d, err := filepath.Abs(r.t.DataDir)
		if err != nil {
			return nil, fmt.Errorf("%s: DataDir: %w", r.name, err)
		}
		env["TF_DATA_DIR"] = d
	case env["TF_DATA_DIR"] != "" && !filepath.IsAbs(env["TF_DATA_DIR"]):
		// Terraform takes it from the directory it runs in.
		env["TF_DATA_DIR"] = filepath.Join(r.dir, env["TF_DATA_DIR"])
	}
	r.dataDir = env["TF_DATA_DIR"]
	if r.dataDir == "" {
		r.dataDir = filepath.Join(r.dir, ".terraform")
	}
	if r.t.PluginCacheDir != "" {
		d, err := filepath.Abs(r.t.PluginCacheDir)
		if err == nil {
			err = os.MkdirAll(d, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: PluginCacheDir: %w", r.name, err)
		}
		env["TF_PLUGIN_CACHE_DIR"] = d
	}
	r.carried = map[string]string{}
	for _, k := range tfexec.ProhibitedEnv(env) {
		if carriedVar(k) {
			r.carried[k] = env[k]
		}
		delete(env, k)
	}
	return env, nil
}

// carriedVar reports whether the launcher passes a variable that
// terraform-exec refuses: the ones that say what to deploy. TF_LOG* stay
// out (trace logs can hold secrets); TF_IN_AUTOMATION, TF_INPUT and the
// user agent are set anyway.
func carriedVar(k string) bool {
	return strings.HasPrefix(k, "TF_VAR_") || k == "TF_CLI_ARGS" || strings.HasPrefix(k, "TF_CLI_ARGS_") || k == "TF_WORKSPACE"
}

func carrierName(i int) string { return "BATON_TF_ENV_" + strconv.Itoa(i) }

func envMapOf(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeLauncher writes the launcher script into the run directory and
// returns its path; an error when the directory cannot hold executables
// (mounted noexec, say).
func (r *terraformRun) writeLauncher() (string, error) {
	path := filepath.Join(r.runDir, r.name+"-launch.sh")
	pidFile := filepath.Join(r.runDir, r.name+".pid")
	argv := append(append([]string(nil), r.t.Exec.Wrapper...), r.bin)
	script := launcherScript(pidFile, sortedKeys(r.carried), argv)
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return "", fmt.Errorf("cannot write a launcher script: %w", err)
	}
	const xOK = 1
	if err := syscall.Access(path, xOK); err != nil {
		return "", fmt.Errorf("cannot run a launcher script in %s: %w", r.runDir, err)
	}
	r.pidFile = pidFile
	return path, nil
}

// launcherScript records the process ID in pidFile and execs argv with the
// carried variables restored from their carriers and TF_INPUT=0. It holds
// names, never values.
func launcherScript(pidFile string, carried, argv []string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by baton to start Terraform: see stages.Terraform.\n")
	fmt.Fprintf(&b, "echo $$ >%s\n", shellQuote([]string{pidFile}))
	b.WriteString("exec env")
	for i := range carried {
		b.WriteString(" -u " + carrierName(i))
	}
	b.WriteString(" TF_INPUT=0")
	for i, k := range carried {
		fmt.Fprintf(&b, " %s\"$%s\"", shellQuote([]string{k + "="}), carrierName(i))
	}
	b.WriteString(" " + shellQuote(argv) + " \"$@\"\n")
	return b.String()
}
