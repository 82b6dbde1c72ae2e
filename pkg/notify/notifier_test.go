package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestCloseAbandonsHangingDelivery(t *testing.T) {
	ep := newEndpoint(t, hang)
	var log errorLog
	opts := fastOptions(&Slack{URL: ep.secretURL(t)})
	opts.Timeout = time.Minute
	opts.OnError = log.onError
	n := New(opts)
	n.Send(testEvent())

	err := closeWithin(t, n, 100*time.Millisecond) // the attempt's own limit is a minute
	if !errors.Is(err, ErrAbandoned) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want ErrAbandoned for the deadline", err)
	}
	n.wg.Wait() // the abandoned delivery ends, cancelled, and must not report again
	if _, errs := log.get(); len(errs) != 1 || !errors.Is(errs[0], ErrAbandoned) {
		t.Errorf("OnError got %v, want ErrAbandoned once", errs)
	}
}

func TestSendToEveryChannelConcurrently(t *testing.T) {
	release := make(chan struct{})
	slow := newEndpoint(t, func(int, http.ResponseWriter, *http.Request) { <-release })
	fast := newEndpoint(t, nil)
	n := New(fastOptions(&Webhook{URL: slow.secretURL(t)}, &Discord{URL: fast.secretURL(t)}))
	n.Send(testEvent())
	for i := 0; fast.requests() == 0 && i < 6000; i++ { // 6000 × 10ms: only a hang takes this long
		time.Sleep(10 * time.Millisecond)
	}
	if fast.requests() == 0 {
		t.Error("the second channel waited for the first")
	}
	close(release)
	if err := closeWithin(t, n, time.Minute); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestWebhookURLIsNeverRevealed(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String() + "/hooks/" + fakeToken + "?token=" + fakeToken
	refused.Close()

	for name, respond := range map[string]func(int, http.ResponseWriter, *http.Request){
		"500": status(500, 500, 500, 500),
		"404 quoting the path": func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Cannot POST "+r.URL.Path+"?"+r.URL.RawQuery, http.StatusNotFound)
		},
		"redirect": func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://example.com/moved/"+fakeToken, http.StatusFound)
		},
		"429 for an hour": func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		},
		"hang":    hang,
		"refused": nil,
	} {
		t.Run(name, func(t *testing.T) {
			raw := refusedURL
			if respond != nil {
				raw = newEndpoint(t, respond).rawURL() + "?token=" + fakeToken
			}
			u, err := ParseSecretURL(raw, false)
			if err != nil {
				t.Fatal(err)
			}
			var log errorLog
			var logged syncBuffer
			logger := zerolog.New(&logged).Level(zerolog.DebugLevel)
			opts := fastOptions(&Discord{URL: u}, &Slack{URL: u}, &Webhook{URL: u})
			opts.Attempts, opts.Timeout = 2, 200*time.Millisecond
			opts.OnError, opts.Logger = log.onError, &logger
			n := New(opts)
			n.Send(testEvent())
			closeErr := closeWithin(t, n, time.Minute)
			if closeErr == nil {
				t.Fatal("Close: no error, want every delivery to fail")
			}
			_, errs := log.get()
			texts := []string{closeErr.Error(), logged.String()}
			for _, err := range errs {
				texts = append(texts, err.Error())
			}
			for _, text := range texts {
				if strings.Contains(text, fakeToken) || strings.Contains(text, "/hooks/") || strings.Contains(text, "/api/webhooks") {
					t.Errorf("the URL leaked: %s", text)
				}
			}
			if !strings.Contains(closeErr.Error(), redacted) {
				t.Errorf("got %q, want the URL shown as %s", closeErr, redacted)
			}
		})
	}
}

func TestSendFiltersByKind(t *testing.T) {
	ep := newEndpoint(t, nil)
	opts := fastOptions(&Webhook{URL: ep.secretURL(t)})
	opts.On = []Kind{Failure}
	n := New(opts)
	ok := testEvent()
	failed := testEvent()
	failed.Kind = Failure
	n.Send(ok)
	n.Send(Event{}) // the zero Event, as FromRecord(nil) gives
	n.Send(failed)
	if err := closeWithin(t, n, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, want := ep.requests(), 1; got != want {
		t.Fatalf("got %d requests, want %d (the failure only)", got, want)
	}
	if got := string(ep.body(t, 1)); !strings.Contains(got, `"event":"failure"`) {
		t.Errorf("got %s, want the failure", got)
	}
}

func TestSendAfterCloseReportsErrClosed(t *testing.T) {
	var log errorLog
	opts := fastOptions(&Webhook{URL: newEndpoint(t, nil).secretURL(t)})
	opts.OnError = log.onError
	n := New(opts)
	if err := closeWithin(t, n, time.Second); err != nil {
		t.Fatal(err)
	}
	n.Send(testEvent())
	if _, errs := log.get(); len(errs) != 1 || !errors.Is(errs[0], ErrClosed) {
		t.Errorf("OnError got %v, want ErrClosed", errs)
	}
	if err := closeWithin(t, n, time.Second); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

func TestNilNotifierDoesNothing(t *testing.T) {
	var n *Notifier
	n.Send(testEvent())
	if err := n.Close(context.Background()); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

func TestCloseKeepsBoundedFailures(t *testing.T) {
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
	n := New(fastOptions(&Webhook{URL: ep.secretURL(t)}))
	for range maxFailures + 3 {
		n.Send(Event{Kind: Failure, RunID: "r"})
	}
	err := closeWithin(t, n, time.Minute)
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("got %v, want joined errors", err)
	}
	errs := joined.Unwrap()
	if got, want := len(errs), maxFailures+1; got != want {
		t.Fatalf("got %d errors, want %d", got, want)
	}
	if got, want := errs[maxFailures].Error(), "and 3 more failed deliveries"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
