package stages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// pluginCacheLockFile is the file in a plugin cache directory whose lock
// one terraform init at a time holds. Terraform ignores files at the top of
// the cache, which holds only <host>/<namespace>/<type>/… directories.
const pluginCacheLockFile = ".baton-init.lock"

// pluginCachePoll bounds how long a waiting init sleeps between attempts.
const pluginCachePoll = 100 * time.Millisecond

// lockPluginCache takes an exclusive lock on the Terraform plugin cache in
// dir, so that one terraform init at a time installs into it: Terraform
// documents the cache as unsafe for concurrent inits, and two of them
// installing the same provider fail ("failed to create directory …: file
// exists") or leave a half-written one. The lock is an flock(2) on
// dir/.baton-init.lock, so it also holds between baton processes, and the
// kernel releases it when its holder dies however it dies.
//
// It waits for the lock until ctx is done, then returns an error wrapping
// ctx's error; waiting, when not nil, is called once if the lock is held by
// another init. unlock releases the lock; it must be called exactly once.
func lockPluginCache(ctx context.Context, dir string, waiting func()) (unlock func(), err error) {
	path := filepath.Join(dir, pluginCacheLockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("plugin cache lock: %w", err)
	}
	unlock = func() {
		// Closing the file releases the lock.
		_ = f.Close()
	}
	delay := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("plugin cache lock %s: %w", path, err)
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("waiting for another terraform init to release the plugin cache %s: %w", dir, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, pluginCachePoll)
	}
}
