package targets

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/baton-deploy/baton/pkg/notify"
)

// Notifications of deploys, rollbacks and destroys go where the
// BATON_NOTIFY_* settings say (see pkg/notify): Discord, Slack, a JSON
// webhook, a command. They are sent in the background once the run is
// recorded; a failed one is a warning, never a failed run.

// How long a target waits, once its run is over, for notifications still
// being delivered: longer than a few retries, shorter than patience. After
// Ctrl-C, it waits only for what is left of the 5 s Mage allows.
const (
	notifyWait = 15 * time.Second
	mageGrace  = 4800 * time.Millisecond
)

// openNotifier returns the Notifier the settings configure (nil when none
// are set) and the func that closes it, waiting within the bounds above.
// A bad setting is an error before anything runs.
func openNotifier(ctx context.Context) (*notify.Notifier, func(), error) {
	opts, err := notify.OptionsFromEnv(os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("notifications: %w", err)
	}
	if len(opts.Channels) == 0 {
		return nil, func() {}, nil
	}
	opts.OnError = func(_ string, err error) {
		fmt.Fprintf(stdout, "warning: %v\n", err)
	}
	n := notify.New(opts)
	var (
		mu          sync.Mutex
		interrupted time.Time
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		interrupted = time.Now()
		mu.Unlock()
	})
	return n, func() {
		stop()
		wait := notifyWait
		mu.Lock()
		if !interrupted.IsZero() {
			wait = max(0, mageGrace-time.Since(interrupted))
		}
		mu.Unlock()
		c, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = n.Close(c) // failures were reported by OnError
	}, nil
}
