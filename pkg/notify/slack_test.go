package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSlackPayload(t *testing.T) {
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	ev := testEvent()
	ev.Kind, ev.Error = Failure, "POST <redacted>: 500 & more"
	n := New(fastOptions(&Slack{URL: ep.secretURL(t)}))
	n.Send(ev)
	if err := closeWithin(t, n, time.Minute); err != nil {
		t.Fatal(err)
	}
	var msg map[string]any
	if err := json.Unmarshal(ep.body(t, 1), &msg); err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(ev.Text())
	if len(msg) != 1 || msg["text"] != want {
		t.Errorf("got %v, want only text %q", msg, want)
	}
	if !strings.Contains(want, "POST &lt;redacted&gt;: 500 &amp; more") {
		t.Errorf("got %q, want mrkdwn's special characters escaped", want)
	}
}
