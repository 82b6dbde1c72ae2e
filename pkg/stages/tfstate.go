package stages

import (
	"os"
	"path/filepath"
	"strings"
)

// Terraform writes its plan and a local backend's state with the user's
// umask (0644, usually), though both hold every variable's value and the
// outputs, secrets included. baton makes them 0600 once they are written.

// localStateFiles are the files of the local state the configuration's
// backend settings point at: path=… from BackendConfig, else
// terraform.tfstate in Dir, each with its backup. A remote backend has
// none here, and missing files are skipped when protected.
func (r *tfRun) localStateFiles() []string {
	state := filepath.Join(r.t.Dir, "terraform.tfstate")
	for _, b := range r.t.BackendConfig {
		if p, ok := strings.CutPrefix(b, "path="); ok {
			state = p
			if !filepath.IsAbs(state) {
				state = filepath.Join(r.t.Dir, state)
			}
		}
	}
	return []string{state, state + ".backup", filepath.Join(r.dataDir(), "terraform.tfstate")}
}

// protect makes each existing regular file of paths 0600 (not a symlink's
// target: a state path is the user's to point where they like).
func protect(paths ...string) {
	for _, p := range paths {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(p, fi.Mode().Perm()&0o700)
		}
	}
}
