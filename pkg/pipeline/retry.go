package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sethvargo/go-retry"
)

// RetryPolicy says how to retry an operation: exponential backoff with
// jitter, a cap on each wait, a maximum number of attempts and a maximum
// total time. The zero RetryPolicy makes one attempt and never retries.
// Only errors marked with [Retryable] are retried.
type RetryPolicy struct {
	// Attempts is the most attempts to make, the first included; 0 and 1
	// both mean one.
	Attempts int
	// Base is the wait before the second attempt; later waits double.
	// 0 means one second.
	Base time.Duration
	// MaxWait caps each wait; 0 means 30 seconds.
	MaxWait time.Duration
	// MaxTotal caps the time from the first attempt after which no new
	// attempt starts; 0 means no cap.
	MaxTotal time.Duration
	// JitterPercent varies each wait by up to ± this percentage so that many
	// clients do not retry in step; 0 means 20, and a negative value none.
	JitterPercent int
	// OnRetry, when set, is called after a failed attempt that will be
	// retried, with the attempt's number, its error and the wait ahead.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Retryable marks err as worth retrying: a transient failure such as a
// network error or a lock held by someone else. Errors not marked are
// final. Retryable(nil) is nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryableError{err: err}
}

// IsRetryable reports whether err, or an error it wraps, was marked with
// Retryable.
func IsRetryable(err error) bool {
	var r *retryableError
	return errors.As(err, &r)
}

type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// backoff builds a fresh go-retry Backoff from the policy; each call gets
// its own, since backoffs carry state.
func (p RetryPolicy) backoff() retry.Backoff {
	base, maxWait := p.Base, p.MaxWait
	if base <= 0 {
		base = time.Second
	}
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	attempts := max(p.Attempts, 1)
	b := retry.NewExponential(base)
	switch {
	case p.JitterPercent == 0:
		b = retry.WithJitterPercent(20, b)
	case p.JitterPercent > 0:
		b = retry.WithJitterPercent(uint64(min(p.JitterPercent, 100)), b)
	}
	b = retry.WithCappedDuration(maxWait, b)
	b = retry.WithMaxRetries(uint64(attempts-1), b)
	if p.MaxTotal > 0 {
		b = retry.WithMaxDuration(p.MaxTotal, b)
	}
	return b
}

// Do calls fn until it succeeds, returns an error not marked Retryable, or
// the policy allows no more attempts, and returns the number of attempts
// made with the last error. fn receives the attempt's number, counting from
// 1. When ctx ends during a wait, the error wraps both ctx's error and the
// last attempt's error.
func (p RetryPolicy) Do(ctx context.Context, fn func(ctx context.Context, attempt int) error) (int, error) {
	var (
		attempts int
		last     error
	)
	next := p.backoff()
	b := retry.BackoffFunc(func() (time.Duration, bool) {
		wait, stop := next.Next()
		if !stop && p.OnRetry != nil {
			p.OnRetry(attempts, last, wait)
		}
		return wait, stop
	})
	err := retry.Do(ctx, b, func(ctx context.Context) error {
		attempts++
		last = fn(ctx, attempts)
		if last != nil && IsRetryable(last) {
			return retry.RetryableError(last)
		}
		return last
	})
	switch {
	case err == nil:
		return attempts, nil
	case last != nil && !errors.Is(err, last) && ctx.Err() != nil:
		// Cancelled while waiting for the next attempt: keep both causes.
		return attempts, fmt.Errorf("%w; last attempt: %w", err, last)
	case last == nil:
		return attempts, err // cancelled before the first attempt
	default:
		return attempts, last
	}
}
