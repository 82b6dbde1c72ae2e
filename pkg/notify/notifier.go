package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultAttempts = 4
	DefaultMaxTotal = 30 * time.Second
	DefaultBackoff  = time.Second
	DefaultMaxWait  = 10 * time.Second
)

// maxFailures is how many failed deliveries a Notifier keeps for Close to
// return; a long-lived one with a broken channel would otherwise grow
// without end. Later failures are counted.
const maxFailures = 32

// Errors in a DeliveryError.
var (
	// ErrClosed is the cause of an event sent after Close.
	ErrClosed = errors.New("the notifier is closed")
	// ErrAbandoned is the cause of a delivery still under way when Close's
	// context ended.
	ErrAbandoned = errors.New("abandoned: still being delivered when Close gave up")
)

// Options configure a Notifier. The zero Options send nothing; with
// Channels, they send every kind of event with the defaults above.
type Options struct {
	// Channels receive every event; nil entries are ignored.
	Channels []Channel
	// On lists the kinds of event to send; empty means all.
	On []Kind
	// Timeout bounds each attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Attempts is the most attempts for one event on one channel;
	// 0 means DefaultAttempts.
	Attempts int
	// MaxTotal bounds one event's delivery to one channel, attempts and
	// waits included; 0 means DefaultMaxTotal.
	MaxTotal time.Duration
	// Backoff is the wait before the second attempt; later waits double,
	// each varied by up to ±20% so that senders do not retry in step.
	// 0 means DefaultBackoff.
	Backoff time.Duration
	// MaxWait caps each wait. A server whose Retry-After asks for longer
	// is not retried. 0 means DefaultMaxWait.
	MaxWait time.Duration
	// OnError, when set, is called once for every delivery that failed,
	// with the channel's name and a *DeliveryError. It is called from the
	// delivering goroutine, or from Send or Close, and must be safe for
	// concurrent use.
	OnError func(channel string, err error)
	// Logger, when set, is told of every attempt, retry and failure;
	// nil means no logging.
	Logger *zerolog.Logger
}

// Notifier sends events to its channels in the background: Send never
// blocks and never fails, so notifications cannot hold up or break a
// deploy. Each event goes to every channel concurrently, each delivery
// with its own timeouts and retries. A nil *Notifier sends nothing. A
// Notifier is safe for concurrent use.
type Notifier struct {
	opts     Options
	channels []Channel
	on       map[Kind]bool
	abandon  chan struct{} // closed when Close gives up waiting
	wg       sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	nextID    int
	pending   map[int]*DeliveryError // deliveries under way, by ID
	failures  []error
	uncounted int // failures beyond maxFailures
}

// DeliveryError is one event that did not reach one channel.
type DeliveryError struct {
	Channel  string
	Kind     Kind
	RunID    string
	Attempts int // attempts made; 0 when none finished
	Err      error
}

// Error says which event failed to reach which channel, and why.
func (e *DeliveryError) Error() string {
	msg := fmt.Sprintf("%s: %s notification", e.Channel, e.Kind)
	if e.RunID != "" {
		msg += " for run " + e.RunID
	}
	switch e.Attempts {
	case 0:
		msg += " failed"
	case 1:
		msg += " failed after 1 attempt"
	default:
		msg += fmt.Sprintf(" failed after %d attempts", e.Attempts)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// New returns a Notifier for opts. Call Close when done with it.
func New(opts Options) *Notifier {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.MaxTotal <= 0 {
		opts.MaxTotal = DefaultMaxTotal
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.Logger == nil {
		nop := zerolog.Nop()
		opts.Logger = &nop
	}
	n := &Notifier{opts: opts, on: map[Kind]bool{}, abandon: make(chan struct{}), pending: map[int]*DeliveryError{}}
	for _, ch := range opts.Channels {
		if ch != nil {
			n.channels = append(n.channels, ch)
		}
	}
	on := opts.On
	if len(on) == 0 {
		on = allKinds
	}
	for _, k := range on {
		n.on[k] = true
	}
	return n
}

// Send starts delivering ev to every channel and returns at once. An event
// of a kind the Notifier is not configured for is ignored. Deliveries do
// not depend on any caller's context: a deploy cancelled by an interrupt
// still reports its failure. After Close, each channel reports ErrClosed
// to OnError instead.
func (n *Notifier) Send(ev Event) {
	if n == nil || !n.on[ev.Kind] {
		return
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		for _, ch := range n.channels {
			n.report(&DeliveryError{Channel: ch.Name(), Kind: ev.Kind, RunID: ev.RunID, Err: ErrClosed})
		}
		return
	}
	for _, ch := range n.channels {
		id := n.nextID
		n.nextID++
		n.pending[id] = &DeliveryError{Channel: ch.Name(), Kind: ev.Kind, RunID: ev.RunID}
		n.wg.Go(func() { n.deliver(id, ch, ev) })
	}
	n.mu.Unlock()
}

// Close stops taking events and waits for deliveries under way until ctx
// ends; then it abandons them, cancelling their attempts. It returns the
// failed and abandoned deliveries, each a *DeliveryError, joined with
// errors.Join; nil when all succeeded. Later calls return nil.
func (n *Notifier) Close(ctx context.Context) error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()

	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		n.giveUp(context.Cause(ctx))
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	errs := slices.Clone(n.failures)
	if n.uncounted > 0 {
		errs = append(errs, fmt.Errorf("and %d more failed deliveries", n.uncounted))
	}
	return errors.Join(errs...)
}

// giveUp abandons the deliveries under way and records each as failed.
func (n *Notifier) giveUp(cause error) {
	n.mu.Lock()
	close(n.abandon)
	var gone []*DeliveryError
	for _, id := range slices.Sorted(maps.Keys(n.pending)) {
		d := n.pending[id]
		d.Err = fmt.Errorf("%w: %w", ErrAbandoned, cause)
		gone = append(gone, d)
		n.record(d)
	}
	clear(n.pending)
	n.mu.Unlock()
	for _, d := range gone {
		n.report(d)
	}
}

// finish records the end of delivery id, unless Close has abandoned it and
// so reported it already.
func (n *Notifier) finish(id, attempts int, err error) {
	n.mu.Lock()
	d, ok := n.pending[id]
	delete(n.pending, id)
	if ok && err != nil {
		d.Attempts, d.Err = attempts, err
		n.record(d)
	}
	n.mu.Unlock()
	if ok && err != nil {
		n.report(d)
	}
}

// record keeps a failure for Close; n.mu must be held.
func (n *Notifier) record(d *DeliveryError) {
	if len(n.failures) < maxFailures {
		n.failures = append(n.failures, d)
	} else {
		n.uncounted++
	}
}

// report tells the logger and OnError of a failed delivery.
func (n *Notifier) report(d *DeliveryError) {
	n.opts.Logger.Warn().Str(keyChannel, d.Channel).Str(keyEvent, string(d.Kind)).Str(keyRun, d.RunID).
		Int(keyAttempts, d.Attempts).Str(keyErr, d.Err.Error()).Msg("notification failed")
	if n.opts.OnError != nil {
		n.opts.OnError(d.Channel, d)
	}
}
