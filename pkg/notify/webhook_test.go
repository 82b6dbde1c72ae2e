package notify

import (
	"encoding/json"
	"testing"
	"time"
)

func TestWebhookPayload(t *testing.T) {
	ep := newEndpoint(t, nil)
	n := New(fastOptions(&Webhook{URL: ep.secretURL(t)}))
	ev := testEvent()
	n.Send(ev)
	if err := closeWithin(t, n, time.Minute); err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := ep.body(t, 1); string(got) != string(want) {
		t.Errorf("got body\n%s\nwant\n%s", got, want)
	}
	ep.mu.Lock()
	h := ep.headers[0]
	ep.mu.Unlock()
	for k, v := range map[string]string{"Content-Type": "application/json", "User-Agent": userAgent, "X-Baton-Event": "success"} {
		if got := h.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
}
