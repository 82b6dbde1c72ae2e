package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// deliveryError returns err's only *DeliveryError.
func deliveryError(t *testing.T, err error) *DeliveryError {
	t.Helper()
	var d *DeliveryError
	if !errors.As(err, &d) {
		t.Fatalf("got %v, want a *DeliveryError", err)
	}
	return d
}

func TestRetriesServerErrorsUntilAccepted(t *testing.T) {
	ep := newEndpoint(t, status(http.StatusInternalServerError, http.StatusServiceUnavailable))
	var log errorLog
	opts := fastOptions(&Webhook{URL: ep.secretURL(t)})
	opts.OnError = log.onError
	n := New(opts)
	n.Send(testEvent())
	if err := closeWithin(t, n, time.Minute); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := ep.requests(), 3; got != want {
		t.Errorf("got %d requests, want %d (two refused, one accepted)", got, want)
	}
	if _, errs := log.get(); len(errs) != 0 {
		t.Errorf("OnError got %v, want nothing", errs)
	}
}

func TestClientErrorIsNotRetried(t *testing.T) {
	ep := newEndpoint(t, status(http.StatusBadRequest))
	n := New(fastOptions(&Slack{URL: ep.secretURL(t)}))
	n.Send(testEvent())
	err := closeWithin(t, n, time.Minute)
	if got, want := ep.requests(), 1; got != want {
		t.Errorf("got %d requests, want %d", got, want)
	}
	var serr *StatusError
	if !errors.As(err, &serr) || serr.StatusCode != http.StatusBadRequest {
		t.Fatalf("got %v, want a 400 StatusError", err)
	}
	if d := deliveryError(t, err); d.Attempts != 1 || d.Channel != "slack" || d.Kind != Success || d.RunID != "r-42" {
		t.Errorf("got %+v, want 1 attempt to slack for success of r-42", d)
	}
}

func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	ep := newEndpoint(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	n := New(fastOptions(&Discord{URL: ep.secretURL(t)}))
	n.Send(testEvent())
	if err := closeWithin(t, n, time.Minute); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := ep.requests(), 2; got != want {
		t.Fatalf("got %d requests, want %d", got, want)
	}
	// The backoff alone would wait about a millisecond.
	if gap := ep.arrival(2).Sub(ep.arrival(1)); gap < 900*time.Millisecond {
		t.Errorf("second attempt came %s after the first, want at least the 1s Retry-After asked", gap)
	}
}

func TestRetryAfterAboveMaxWaitIsNotAwaited(t *testing.T) {
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	n := New(fastOptions(&Webhook{URL: ep.secretURL(t)}))
	n.Send(testEvent())
	err := closeWithin(t, n, time.Minute)
	if got, want := ep.requests(), 1; got != want {
		t.Errorf("got %d requests, want %d", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "asked to wait 1h0m0s") {
		t.Errorf("got %v, want it to say the wait asked for was too long", err)
	}
}

func TestNetworkErrorIsRetriedThenReported(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := ParseSecretURL("http://"+l.Addr().String()+"/api/webhooks/1/"+fakeToken, false)
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // nothing listens: every connection is refused
	var log errorLog
	opts := fastOptions(&Discord{URL: u})
	opts.Attempts = 3
	opts.OnError = log.onError
	n := New(opts)
	n.Send(testEvent())
	err = closeWithin(t, n, time.Minute)
	d := deliveryError(t, err)
	if d.Attempts != 3 || !strings.Contains(err.Error(), "POST <redacted>") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("got %q after %d attempts, want 3 attempts and a refused POST <redacted>", err, d.Attempts)
	}
	channels, errs := log.get()
	if len(errs) != 1 || channels[0] != "discord" || !errors.Is(err, errs[0]) {
		t.Errorf("OnError got %v %v, want the one failure Close returned", channels, errs)
	}
}

func TestHangingEndpointTimesOutWithoutBlockingSend(t *testing.T) {
	ep := newEndpoint(t, hang)
	opts := fastOptions(&Webhook{URL: ep.secretURL(t)})
	opts.Timeout = 100 * time.Millisecond
	opts.Attempts = 2
	n := New(opts)

	// That Send does not wait for a delivery is TestSendToEveryChannelConcurrently's.
	n.Send(testEvent())
	err := closeWithin(t, n, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 100ms") {
		t.Errorf("got %v, want attempts that timed out", err)
	}
	// Counted by the client: under load an attempt's 100ms can end before
	// its request has reached the endpoint.
	if got, want := deliveryError(t, err).Attempts, 2; got != want {
		t.Errorf("got %d attempts, want %d", got, want)
	}
}

// panicky is a user's channel with a bug.
type panicky struct{ calls atomic.Int32 }

func (p *panicky) Name() string { return "panicky" }
func (p *panicky) Deliver(context.Context, Event) error {
	p.calls.Add(1)
	panic("oh no")
}

func TestChannelPanicIsAFailedDelivery(t *testing.T) {
	ch := &panicky{}
	n := New(fastOptions(ch))
	n.Send(testEvent())
	err := closeWithin(t, n, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "channel panicky panicked: oh no") {
		t.Errorf("got %v, want the panic as an error", err)
	}
	if got := ch.calls.Load(); got != 1 {
		t.Errorf("got %d calls, want 1: a panic is not retried", got)
	}
}
