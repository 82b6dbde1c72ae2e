package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockedError reports an environment that another run holds.
type LockedError struct {
	Env    string
	Holder Holder
	// Clear, for the shared ledger, is the SQL that ends a holder which
	// hangs; the embedded lock needs none (the kernel frees it).
	Clear string
}

func (e *LockedError) Error() string {
	h := e.Holder
	msg := fmt.Sprintf("environment %s is locked by run %s (%s by %s@%s, pid %d) since %s: wait for it to finish",
		e.Env, h.RunID, h.Target, h.User, h.Host, h.PID, h.Since.Format(time.RFC3339))
	if e.Clear != "" {
		msg += "; if that run is gone but its session hangs, clear it with: " + e.Clear
	}
	return msg
}

// Lock implements Ledger: it takes the environment's lock for holder,
// failing at once with a *LockedError when another process holds it. The lock is an flock(2) on
// a file: when its holder dies, however it dies, the kernel releases it,
// so a dead holder never blocks the next run. Unlock releases it.
func (f *File) Lock(ctx context.Context, env string, holder Holder) (unlock func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	path := filepath.Join(f.Dir, env+".lock")
	file, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer file.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var h Holder
			data, _ := os.ReadFile(path)
			_ = json.Unmarshal(data, &h)
			return nil, &LockedError{Env: env, Holder: h}
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	data, _ := json.Marshal(holder)
	if err := file.Truncate(0); err == nil {
		_, _ = file.WriteAt(data, 0)
		_ = file.Sync()
	}
	return func() error {
		_ = file.Truncate(0)
		err := syscall.Flock(int(file.Fd()), syscall.LOCK_UN)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		return err
	}, nil
}
