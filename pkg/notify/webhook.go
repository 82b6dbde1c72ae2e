package notify

import (
	"context"
	"net/http"
)

// Webhook posts each event as a JSON document (see the package
// documentation) to any URL, with the event's kind in the X-Baton-Event
// header. Any 2xx answer is success.
type Webhook struct {
	// URL is where to post; it may hold a token, so it is kept secret.
	URL SecretURL
	// Client sends the requests; nil means a plain http.Client. Redirects
	// are never followed.
	Client *http.Client
}

var _ Channel = (*Webhook)(nil)

// Name implements Channel.
func (w *Webhook) Name() string { return "webhook" }

// Deliver implements Channel.
func (w *Webhook) Deliver(ctx context.Context, ev Event) error {
	return postJSON(ctx, w.Client, w.URL, http.Header{"X-Baton-Event": {string(ev.Kind)}}, ev)
}
