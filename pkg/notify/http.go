package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// userAgent names the sender to webhook receivers.
const userAgent = "baton-notify"

// maxErrorBody is how much of a refusal's body an error quotes.
const maxErrorBody = 256

// StatusError is a webhook's answer outside 2xx. One for 429 or 5xx is
// returned wrapped with pipeline.Retryable; a Notifier waits at least
// RetryAfter before the next attempt.
type StatusError struct {
	StatusCode int
	// RetryAfter is the wait the Retry-After header asked for; 0 when none.
	RetryAfter time.Duration
	// Body is the start of the response body, with the URL's secret parts
	// masked, for diagnosis: chat services say there what they disliked.
	Body string
}

// Error gives the status and the start of the body, never the URL.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("POST %s: %d %s", redacted, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// postJSON posts v as JSON to u. Transport failures are retryable, as are
// 429 and 5xx answers; no error ever holds the URL. Redirects are not
// followed: a webhook has no reason to move, and following one would send
// the body, and the token in the Location, elsewhere.
func postJSON(ctx context.Context, client *http.Client, u SecretURL, header http.Header, v any) error {
	if u.IsZero() {
		return errors.New("no URL")
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.reveal(), bytes.NewReader(body))
	if err != nil {
		// Cannot happen for a parsed SecretURL; the error would quote it.
		return fmt.Errorf("POST %s: cannot build the request", redacted)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return pipeline.Retryable(stripURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Drain a little, so that the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	serr := &StatusError{
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Body:       u.mask(strings.TrimSpace(strings.ToValidUTF8(string(head), "�"))),
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return pipeline.Retryable(serr)
	}
	return serr
}

// stripURL replaces the URL that net/http puts in a *url.Error's text,
// keeping the cause (a *net.OpError, context.DeadlineExceeded, …), which
// names at most the host.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("POST %s: %w", redacted, ue.Err)
	}
	return fmt.Errorf("POST %s: request failed", redacted)
}

// parseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date, as a wait from now; 0 when absent, invalid or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
