package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Log keys, constant so that log queries keep working.
const (
	keyChannel  = "channel"
	keyEvent    = "event"
	keyRun      = "run_id"
	keyAttempt  = "attempt"
	keyAttempts = "attempts"
	keyWait     = "wait"
	keyErr      = "error"
)

// deliver sends ev to ch, retrying as the options say, and records the
// outcome as delivery id.
func (n *Notifier) deliver(id int, ch Channel, ev Event) {
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.MaxTotal)
	defer cancel()
	go func() {
		select {
		case <-n.abandon:
			cancel()
		case <-ctx.Done():
		}
	}()
	attempts, err := n.retry(ctx, ch, ev)
	n.finish(id, attempts, err)
}

// retry makes attempts until one succeeds, one fails for good, or the
// options allow no more, and returns how many it made and the last error.
func (n *Notifier) retry(ctx context.Context, ch Channel, ev Event) (int, error) {
	log := n.opts.Logger.With().Str(keyChannel, ch.Name()).Str(keyEvent, string(ev.Kind)).Str(keyRun, ev.RunID).Logger()
	backoff := retry.WithCappedDuration(n.opts.MaxWait,
		retry.WithJitterPercent(20, retry.NewExponential(n.opts.Backoff)))
	for attempt := 1; ; attempt++ {
		err := n.attempt(ctx, ch, ev)
		if err == nil {
			log.Debug().Int(keyAttempt, attempt).Msg("notification sent")
			return attempt, nil
		}
		if !pipeline.IsRetryable(err) || attempt >= n.opts.Attempts || ctx.Err() != nil {
			return attempt, err
		}
		wait, _ := backoff.Next()
		var status *StatusError
		if errors.As(err, &status) && status.RetryAfter > 0 {
			if status.RetryAfter > n.opts.MaxWait {
				return attempt, fmt.Errorf("%w (not retried: asked to wait %s, more than the %s allowed)", err, status.RetryAfter, n.opts.MaxWait)
			}
			wait = max(wait, status.RetryAfter)
		}
		if deadline, _ := ctx.Deadline(); time.Until(deadline) < wait {
			return attempt, fmt.Errorf("%w (not retried: the next attempt would come after the %s limit)", err, n.opts.MaxTotal)
		}
		log.Debug().Int(keyAttempt, attempt).Dur(keyWait, wait).Str(keyErr, err.Error()).Msg("notification attempt failed; retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt, err
		case <-t.C:
		}
	}
}

// attempt makes one attempt within the per-attempt timeout. A panic in a
// user's channel is turned into an error: a notification must never bring
// the deploy down.
func (n *Notifier) attempt(ctx context.Context, ch Channel, ev Event) (err error) {
	actx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("channel %s panicked: %v", ch.Name(), r)
		}
	}()
	err = ch.Deliver(actx, ev)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("attempt timed out after %s: %w", n.opts.Timeout, err)
	}
	return err
}
