package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/notify"
)

// A deploy configured by the environment announces its finished run to a
// JSON webhook, here a local stand-in, and waits for the delivery before
// it exits.
func Example() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var doc struct {
			Event string `json:"event"`
			Text  string `json:"text"`
		}
		if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Println(doc.Event)
		fmt.Println(doc.Text)
	}))
	defer receiver.Close()
	env := map[string]string{"BATON_NOTIFY_WEBHOOK_URL": receiver.URL + "/hooks/baton"}

	n, err := notify.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := &ledger.Record{
		RunID: "r-42", Env: "production", Target: "deploy", User: "alice", Host: "build1", Trigger: "cli",
		Start: start, End: start.Add(4*time.Minute + 12*time.Second), Status: "succeeded",
		Handoffs: map[string]ledger.Handoff{"template_id": {Text: "8025"}},
	}
	n.Send(notify.FromRecord(rec)) // returns at once

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fmt.Println("failed:", n.Close(ctx))
	// Output:
	// success
	// ✅ production: deploy succeeded in 4m12s (run r-42, by alice@build1, template 8025)
	// failed: <nil>
}

// A SecretURL never shows the token a webhook URL holds.
func ExampleSecretURL() {
	u, err := notify.ParseSecretURL("https://discord.com/api/webhooks/1234/s3cr3t-t0k3n", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u)
	fmt.Printf("%+v\n", notify.Discord{URL: u})

	_, err = notify.ParseSecretURL("http://example.com/s3cr3t-t0k3n", false)
	fmt.Println(err)
	// Output:
	// <redacted>
	// {URL:<redacted> Client:<nil>}
	// the URL must start with https:// (plain http:// is accepted only to a loopback address such as 127.0.0.1, or when explicitly allowed)
}
