package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDiscordPayload(t *testing.T) {
	ep := newEndpoint(t, status()) // 204, as Discord answers
	ev := testEvent()
	ev.Kind, ev.Status, ev.Error = Failure, "failed", "terraform apply: @everyone look"
	n := New(fastOptions(&Discord{URL: ep.secretURL(t)}))
	n.Send(ev)
	if err := closeWithin(t, n, time.Minute); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Content string `json:"content"`
		Embeds  []struct {
			Title     string `json:"title"`
			Color     int    `json:"color"`
			Timestamp string `json:"timestamp"`
			Fields    []struct {
				Name, Value string
				Inline      bool
			} `json:"fields"`
		} `json:"embeds"`
		AllowedMentions *struct {
			Parse []string `json:"parse"`
		} `json:"allowed_mentions"`
	}
	if err := json.Unmarshal(ep.body(t, 1), &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Content != ev.Text() {
		t.Errorf("content: got %q, want %q", msg.Content, ev.Text())
	}
	if msg.AllowedMentions == nil || msg.AllowedMentions.Parse == nil || len(msg.AllowedMentions.Parse) != 0 {
		t.Errorf("allowed_mentions: got %+v, want parse: [] so that nobody is pinged", msg.AllowedMentions)
	}
	if len(msg.Embeds) != 1 {
		t.Fatalf("got %d embeds, want 1", len(msg.Embeds))
	}
	e := msg.Embeds[0]
	if e.Title != "failure" || e.Color != 0xe74c3c || e.Timestamp != "2025-03-01T12:04:12Z" {
		t.Errorf("embed: got %+v", e)
	}
	fields := map[string]string{}
	for _, f := range e.Fields {
		fields[f.Name] = f.Value
	}
	want := map[string]string{"Environment": "production", "Target": "deploy", "Run": "r-42",
		"Template": "8025", "Commit": "1a2b3c4d5e6f", "Duration": "4m12s"}
	if fmt.Sprint(fields) != fmt.Sprint(want) {
		t.Errorf("fields: got %v, want %v (empty ones left out)", fields, want)
	}
}

func TestDiscordTruncatesLongContent(t *testing.T) {
	ev := testEvent()
	ev.Kind, ev.Error = Failure, strings.Repeat("é", 3000)
	content := discordPayload(ev).Content
	if n := len([]rune(content)); n != discordContentMax || !strings.HasSuffix(content, "…") {
		t.Errorf("got %d characters ending %q, want %d ending in …", n, content[len(content)-4:], discordContentMax)
	}
}
