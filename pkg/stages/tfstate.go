package stages

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/baton-deploy/baton/internal/regularfile"
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

// clearStaleLock removes the lock file a killed Terraform left beside a
// local state (.terraform.tfstate.lock.info: kill -9 skips the unlock
// that deletes it). Terraform's local lock is an fcntl lock on the state
// file, which the kernel drops with the process, so the file is stale
// exactly when that lock can be taken. It is taken, the file removed and
// the lock dropped, so no Terraform that locks meanwhile loses its file.
// It returns what it removed, for the log; a state that cannot be opened
// or is locked by a live Terraform is left alone.
func clearStaleLock(state string) (removed string) {
	info := filepath.Join(filepath.Dir(state), "."+filepath.Base(state)+".lock.info")
	if _, err := os.Lstat(info); err != nil {
		return ""
	}
	f, err := os.OpenFile(state, os.O_RDWR, 0)
	if err != nil {
		return ""
	}
	defer f.Close() // drops the lock
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk) != nil {
		return ""
	}
	data, _ := regularfile.Read(info, 64<<10)
	if os.Remove(info) != nil {
		return ""
	}
	var held struct{ Operation, Who, Created string }
	if json.Unmarshal(data, &held) != nil || held.Who == "" {
		return info
	}
	return fmt.Sprintf("%s (%s by %s at %s)", info, strings.TrimPrefix(held.Operation, "OperationType"), held.Who, held.Created)
}
