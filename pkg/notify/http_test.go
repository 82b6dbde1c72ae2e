package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestPostJSONClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		code       int
		wantErr    bool
		retryable  bool
		retryAfter string
	}{
		{code: 200},
		{code: 204},
		{code: 302, wantErr: true},
		{code: 400, wantErr: true},
		{code: 404, wantErr: true},
		{code: 429, wantErr: true, retryable: true, retryAfter: "7"},
		{code: 500, wantErr: true, retryable: true},
		{code: 503, wantErr: true, retryable: true, retryAfter: "2"},
	} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			ep := newEndpoint(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				if tc.code == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.code)
			})
			err := postJSON(context.Background(), nil, ep.secretURL(t), nil, map[string]string{"a": "b"})
			if (err != nil) != tc.wantErr || pipeline.IsRetryable(err) != tc.retryable {
				t.Fatalf("got %v (retryable %t), want error %t, retryable %t", err, pipeline.IsRetryable(err), tc.wantErr, tc.retryable)
			}
			var serr *StatusError
			if tc.wantErr && (!errors.As(err, &serr) || serr.StatusCode != tc.code) {
				t.Fatalf("got %v, want a StatusError %d", err, tc.code)
			}
			if tc.retryAfter != "" && serr.RetryAfter.String() != tc.retryAfter+"s" {
				t.Errorf("RetryAfter: got %s, want %ss", serr.RetryAfter, tc.retryAfter)
			}
			if got := ep.requests(); got != 1 {
				t.Errorf("got %d requests, want 1: redirects are not followed", got)
			}
		})
	}
}

func TestStatusErrorMasksURLInBody(t *testing.T) {
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no route for "+r.URL.Path, http.StatusNotFound)
	})
	err := postJSON(context.Background(), nil, ep.secretURL(t), nil, "x")
	if got, want := err.Error(), "POST <redacted>: 404 Not Found: no route for ***"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"5", 5 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-1", 0},
		{"1.5", 0},
		{"99999999999999", 0},
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second},
		{"Sat, 01 Mar 2025 11:00:00 GMT", 0},
		{"soon", 0},
	} {
		if got := parseRetryAfter(tc.header, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

// FuzzParseRetryAfter checks that no header, which a remote server
// controls, gives a negative wait or a panic.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "5", "Sat, 01 Mar 2025 12:00:30 GMT", "-3", "4294967295"} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, header string) {
		if got := parseRetryAfter(header, now); got < 0 {
			t.Errorf("parseRetryAfter(%q) = %s, want no negative wait", header, got)
		}
	})
}

func TestPostJSONWithoutURL(t *testing.T) {
	err := (&Slack{}).Deliver(context.Background(), testEvent())
	if err == nil || !strings.Contains(err.Error(), "no URL") {
		t.Errorf("got %v, want an error for the zero SecretURL", err)
	}
}
