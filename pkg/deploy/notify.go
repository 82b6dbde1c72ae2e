package deploy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/baton-deploy/baton/pkg/notify"
)

// Notifier returns the Notifier of deploys, rollbacks and destroys that
// the BATON_NOTIFY_* settings configure (see pkg/notify: Discord, Slack,
// a JSON webhook, a command), nil when none are set, and the func that
// closes it. Notifications are sent in the background once a run is
// recorded; a failed one is a warning on Stdout, never a failed run.
// Closing waits for what is still being delivered, within
// Options.NotifyWait, or NotifyCancelWait from ctx's cancellation. A bad
// setting is an error before anything runs.
func (p *Project) Notifier(ctx context.Context) (*notify.Notifier, func(), error) {
	opts, err := notify.OptionsFromEnv(p.opts.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("notifications: %w", err)
	}
	if len(opts.Channels) == 0 {
		return nil, func() {}, nil
	}
	opts.OnError = func(_ string, err error) {
		p.printf("warning: %v\n", err)
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
		wait := p.opts.NotifyWait
		mu.Lock()
		if !interrupted.IsZero() {
			wait = max(0, p.opts.NotifyCancelWait-time.Since(interrupted))
		}
		mu.Unlock()
		c, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = n.Close(c) // failures were reported by OnError
	}, nil
}
