package notify

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
)

func TestFromRecord(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	record := func(status, rollbackOf string) *ledger.Record {
		return &ledger.Record{
			RunID: "r-42", Env: "production", Target: "deploy", User: "alice", Host: "build1",
			Trigger: "webhook", Sender: "bob", DeliveryID: "d-1", GitCommit: "1a2b3c",
			Start: start, End: start.Add(90 * time.Second), Status: status, RollbackOf: rollbackOf,
			Handoffs: map[string]ledger.Handoff{"template_id": {Text: "8025"}},
		}
	}
	for _, tc := range []struct {
		name string
		rec  *ledger.Record
		want Kind
		text string
	}{
		{"success", record("succeeded", ""), Success,
			"✅ production: deploy succeeded in 1m30s (run r-42, pushed by bob, template 8025, commit 1a2b3c)"},
		{"failure", record("failed", ""), Failure,
			"❌ production: deploy failed after 1m30s (run r-42, pushed by bob, template 8025, commit 1a2b3c): boom"},
		{"cancelled", record("cancelled", ""), Failure,
			"❌ production: deploy was cancelled after 1m30s (run r-42, pushed by bob, template 8025, commit 1a2b3c): boom"},
		{"rollback", record("succeeded", "r-40"), Rollback,
			"↩️ production: rolled back to run r-40 in 1m30s (run r-42, pushed by bob, template 8025, commit 1a2b3c)"},
		{"failed rollback", record("failed", "r-40"), Failure,
			"❌ production: rollback to run r-40 failed after 1m30s (run r-42, pushed by bob, template 8025, commit 1a2b3c): boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rec.Status != "succeeded" {
				tc.rec.Error = "boom"
			}
			ev := FromRecord(tc.rec)
			if ev.Kind != tc.want {
				t.Errorf("got kind %s, want %s", ev.Kind, tc.want)
			}
			if ev.RollbackOf != tc.rec.RollbackOf || ev.TemplateID != "8025" || ev.Duration != 90*time.Second || ev.DeliveryID != "d-1" {
				t.Errorf("got %+v, want the record's details", ev)
			}
			if got := ev.Text(); got != tc.text {
				t.Errorf("got text\n%s\nwant\n%s", got, tc.text)
			}
		})
	}
	if got := FromRecord(nil); got != (Event{}) {
		t.Errorf("FromRecord(nil) = %+v, want the zero Event", got)
	}
}

func TestTextOfASparseEvent(t *testing.T) {
	ev := Event{Kind: Failure, User: "alice", Duration: 1234 * time.Millisecond}
	if got, want := ev.Text(), "❌ deploy failed after 1.2s (by alice)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDocumentFields(t *testing.T) {
	data, err := json.Marshal(testEvent())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	// The documented fields, all present even when empty: receivers rely on them.
	want := []string{"event", "env", "run_id", "target", "status", "user", "host", "trigger", "sender",
		"delivery_id", "git_commit", "start", "end", "duration_ms", "error", "template_id", "rollback_of", "text"}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range doc {
			if !yield(k) {
				return
			}
		}
	})
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got fields %v, want %v", got, want)
	}
	for k, v := range map[string]any{
		"event": "success", "env": "production", "run_id": "r-42", "start": "2025-03-01T12:00:00Z",
		"end": "2025-03-01T12:04:12Z", "duration_ms": 252000.0, "template_id": "8025", "error": "", "sender": "",
	} {
		if doc[k] != v {
			t.Errorf("%s: got %#v, want %#v", k, doc[k], v)
		}
	}
	if text, _ := doc["text"].(string); !strings.HasPrefix(text, "✅ production: deploy succeeded") {
		t.Errorf("text: got %q", text)
	}

	data, err = json.Marshal(Event{Kind: Failure})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"start":null,"end":null`) {
		t.Errorf("got %s, want unknown times as null", data)
	}
}

func TestEnvHasEveryField(t *testing.T) {
	env := testEvent().environ()
	for _, want := range []string{"BATON_NOTIFY_EVENT=success", "BATON_NOTIFY_RUN_ID=r-42", "BATON_NOTIFY_TEMPLATE_ID=8025",
		"BATON_NOTIFY_START=2025-03-01T12:00:00Z", "BATON_NOTIFY_DURATION_MS=252000", "BATON_NOTIFY_ERROR="} {
		if !slices.Contains(env, want) {
			t.Errorf("got %v, want %s in it", env, want)
		}
	}
	if got, want := len(env), 18; got != want {
		t.Errorf("got %d variables, want one per JSON field, %d", got, want)
	}
}
