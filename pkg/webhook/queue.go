package webhook

import (
	"context"
	"sync"
	"time"
)

// Outcome says what became of a verified delivery.
type Outcome string

// The outcomes of a delivery.
const (
	// Accepted: it started a deploy at once.
	Accepted Outcome = "accepted"
	// Queued: it made the pending deploy, which starts when the running
	// one ends.
	Queued Outcome = "queued"
	// Coalesced: it joined the pending deploy, which will deploy what is
	// current when it starts, so one more deploy would add nothing.
	Coalesced Outcome = "coalesced"
	// Ignored: its event or branch is not one the hook deploys.
	Ignored Outcome = "ignored"
	// Dropped: the server stopped before its deploy started; the
	// delivery may be sent again.
	Dropped Outcome = "dropped"
)

// Run is a deploy started by deliveries: the first started or queued it,
// the others coalesced into it while it waited.
type Run struct {
	ID         string
	Env        string
	Hook       string
	Deliveries []Delivery
	Queued     time.Time
}

// DeployFunc runs the deploy of r. Its context ends at the hook's timeout,
// or when the server stops and its grace period is over.
type DeployFunc func(ctx context.Context, r *Run) error

// queue runs one environment's deploys: one at a time, at most one
// pending, later triggers coalescing into the pending one.
type queue struct {
	env     string
	deploy  DeployFunc
	timeout time.Duration
	newID   func() string
	ended   func(r *Run, err error)
	ctx     context.Context // cancelled when the grace is over
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	running *Run
	pending *Run
	closed  bool
}

func newQueue(env string, deploy DeployFunc, timeout time.Duration, newID func() string, ended func(*Run, error)) *queue {
	ctx, cancel := context.WithCancel(context.Background())
	return &queue{env: env, deploy: deploy, timeout: timeout, newID: newID, ended: ended, ctx: ctx, cancel: cancel}
}

// submit adds a delivery and says what became of it and which run it
// belongs to; ok is false once the queue is closed.
func (q *queue) submit(d Delivery) (out Outcome, runID string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return "", "", false
	case q.running == nil:
		q.running = q.newRun(d)
		q.wg.Add(1)
		go q.loop(q.running)
		return Accepted, q.running.ID, true
	case q.pending == nil:
		q.pending = q.newRun(d)
		return Queued, q.pending.ID, true
	default:
		q.pending.Deliveries = append(q.pending.Deliveries, d)
		return Coalesced, q.pending.ID, true
	}
}

func (q *queue) newRun(d Delivery) *Run {
	return &Run{ID: q.newID(), Env: q.env, Hook: d.Hook, Deliveries: []Delivery{d}, Queued: time.Now()}
}

// loop runs r, then the pending run, until there is none.
func (q *queue) loop(r *Run) {
	defer q.wg.Done()
	for r != nil {
		ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
		err := q.deploy(ctx, r)
		cancel()
		if q.ended != nil {
			q.ended(r, err)
		}
		q.mu.Lock()
		r, q.pending = q.pending, nil
		q.running = r
		q.mu.Unlock()
	}
}

// state is the running and pending runs' IDs and how many deliveries
// wait in the pending one.
func (q *queue) state() (running, pending string, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running != nil {
		running = q.running.ID
	}
	if q.pending != nil {
		pending, waiting = q.pending.ID, len(q.pending.Deliveries)
	}
	return running, pending, waiting
}

// close stops taking deliveries and returns the pending run, which will
// not start.
func (q *queue) close() *Run {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	r := q.pending
	q.pending = nil
	return r
}

// wait waits for the running deploy; when ctx ends first it cancels the
// deploy and waits for it to return (the deploy stops its tools within
// their own grace).
func (q *queue) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		q.cancel()
		<-done
	}
	q.cancel()
}
