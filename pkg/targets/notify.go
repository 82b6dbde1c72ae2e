package targets

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/baton-deploy/baton/pkg/notify"
)

// Notifications of deploys, rollbacks and destroys go where the
// BATON_NOTIFY_* settings say (see pkg/notify): Discord, Slack, a JSON
// webhook, a command. They are sent in the background once the run is
// recorded; a failed one is a warning, never a failed run.

// How long a target waits, once its run is over, for notifications still
// being delivered: longer than a few retries, shorter than patience; and
// after Ctrl-C, less than the 5 s Mage allows.
const (
	notifyWait            = 15 * time.Second
	notifyWaitInterrupted = 3 * time.Second
)

// newNotifier returns the Notifier the settings configure, or nil when
// none are set. A bad setting is an error before anything runs.
func newNotifier() (*notify.Notifier, error) {
	opts, err := notify.OptionsFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	if len(opts.Channels) == 0 {
		return nil, nil
	}
	opts.OnError = func(_ string, err error) {
		fmt.Fprintf(stdout, "warning: %v\n", err)
	}
	return notify.New(opts), nil
}

// closeNotifier waits, within a bound, for n's deliveries; failures were
// reported as they happened.
func closeNotifier(ctx context.Context, n *notify.Notifier) {
	wait := notifyWait
	if ctx.Err() != nil {
		wait = notifyWaitInterrupted
	}
	c, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_ = n.Close(c)
}
