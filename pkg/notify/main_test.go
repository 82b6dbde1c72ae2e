package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
)

// helperArg, as the first argument, makes the test binary act as a
// notification command (see helper) instead of running tests.
const helperArg = "notify-helper"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == helperArg {
		os.Exit(helper(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

// helper is a notification command. Every mode counts its runs in
// dir/count; then
//
//	record dir         writes its stdin to dir/stdin and environment to dir/env
//	fail dir code      says "oops" on stderr and exits with code
//	hang dir           writes its PID to dir/pid and sleeps
func helper(mode string, args []string) int {
	dir := args[0]
	f, err := os.OpenFile(filepath.Join(dir, "count"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 2
	}
	_, _ = f.WriteString("x")
	f.Close()
	switch mode {
	case "record":
		in, _ := io.ReadAll(os.Stdin)
		_ = os.WriteFile(filepath.Join(dir, "stdin"), in, 0o600)
		_ = os.WriteFile(filepath.Join(dir, "env"), []byte(strings.Join(os.Environ(), "\n")), 0o600)
		return 0
	case "fail":
		code, _ := strconv.Atoi(args[1])
		os.Stderr.WriteString("oops\n")
		return code
	case "hang":
		_ = os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
		time.Sleep(time.Minute)
		return 0
	}
	return 2
}

// helperCommand returns a Command that runs helper in mode, with a fresh
// directory for its files.
func helperCommand(t *testing.T, mode string, args ...string) (*Command, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &Command{Argv: append([]string{exe, helperArg, mode, dir}, args...)}, dir
}

// fakeToken stands for the token in a webhook URL: it must never appear in
// an error or a log line.
const fakeToken = "tok-FAKE-s3cr3t-0123456789abcdef"

// endpoint is a webhook receiver over loopback that records every request
// and answers with respond, given the request's number from 1.
type endpoint struct {
	*httptest.Server
	respond func(n int, w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	arrivals []time.Time
}

func newEndpoint(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *endpoint {
	t.Helper()
	e := &endpoint{respond: respond}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(func() {
		e.CloseClientConnections() // ends hanging handlers, which Close would wait for
		e.Close()
	})
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.bodies = append(e.bodies, body)
	e.headers = append(e.headers, r.Header.Clone())
	e.arrivals = append(e.arrivals, time.Now())
	n := len(e.bodies)
	e.mu.Unlock()
	if e.respond != nil {
		e.respond(n, w, r)
	}
}

// requests returns how many requests arrived.
func (e *endpoint) requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.bodies)
}

// body returns the nth request's body, from 1.
func (e *endpoint) body(t *testing.T, n int) []byte {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.bodies) < n {
		t.Fatalf("got %d requests, want at least %d", len(e.bodies), n)
	}
	return e.bodies[n-1]
}

// arrival returns when the nth request, from 1, arrived.
func (e *endpoint) arrival(n int) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.arrivals[n-1]
}

// rawURL is the endpoint's URL with a path that holds fakeToken.
func (e *endpoint) rawURL() string { return e.URL + "/api/webhooks/123/" + fakeToken }

// secretURL is rawURL, parsed.
func (e *endpoint) secretURL(t *testing.T) SecretURL {
	t.Helper()
	u, err := ParseSecretURL(e.rawURL(), false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// hang answers only when the client gives up, or the endpoint closes
// its connections at the end of the test.
func hang(_ int, _ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// status makes a respond function that answers with the codes in turn,
// and 204 after them.
func status(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= len(codes) {
			w.WriteHeader(codes[n-1])
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// fastOptions are Options for tests: tiny backoff, and limits that only a
// hang reaches (a test of a limit sets its own).
func fastOptions(channels ...Channel) Options {
	return Options{
		Channels: channels,
		Timeout:  30 * time.Second,
		Attempts: 4,
		MaxTotal: time.Minute,
		Backoff:  time.Millisecond,
		MaxWait:  5 * time.Second,
	}
}

// errorLog collects what a Notifier reports through OnError.
type errorLog struct {
	mu       sync.Mutex
	channels []string
	errs     []error
}

func (l *errorLog) onError(channel string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.channels = append(l.channels, channel)
	l.errs = append(l.errs, err)
}

func (l *errorLog) get() ([]string, []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.channels...), append([]error(nil), l.errs...)
}

// closeWithin closes n with a context that ends after limit and returns
// Close's error. A Close that does not return long after its context has
// ended is a hang, and fails the test instead of stalling it.
func closeWithin(t *testing.T, n *Notifier, limit time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Close(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit + time.Minute):
		t.Fatalf("Close has not returned a minute after its %s context ended", limit)
		return nil
	}
}

// syncBuffer is a logger's output, read while it writes.
type syncBuffer = testlab.Buffer

// testEvent is a finished, successful deploy.
func testEvent() Event {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return Event{
		Kind: Success, Env: "production", RunID: "r-42", Target: "deploy", Status: "succeeded",
		User: "alice", Host: "build1", Trigger: "cli", GitCommit: "1a2b3c4d5e6f7a8b9c0d",
		Start: start, End: start.Add(4*time.Minute + 12*time.Second), Duration: 4*time.Minute + 12*time.Second,
		TemplateID: "8025",
	}
}
