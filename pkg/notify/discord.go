package notify

import (
	"context"
	"net/http"
	"time"
)

// Discord posts events to a Discord channel through an incoming webhook
// (Server Settings → Integrations → Webhooks): the event's text as the
// message, and an embed coloured by kind with the run's details.
// Mentions in the text (an @everyone in an error) never ping anyone.
type Discord struct {
	// URL is the webhook's URL, https://discord.com/api/webhooks/ID/TOKEN.
	URL SecretURL
	// Client sends the requests; nil means a plain http.Client. Redirects
	// are never followed.
	Client *http.Client
}

var _ Channel = (*Discord)(nil)

// Discord's limits on a message's parts, in characters.
const (
	discordContentMax    = 2000
	discordFieldValueMax = 1024
)

// Embed colours, as Discord's 0xRRGGBB integers.
var kindColors = map[Kind]int{Success: 0x2ecc71, Rollback: 0xf1c40f, Failure: 0xe74c3c}

// discordMessage is the body of a Discord webhook execution.
type discordMessage struct {
	Content         string          `json:"content"`
	Embeds          []discordEmbed  `json:"embeds,omitempty"`
	AllowedMentions allowedMentions `json:"allowed_mentions"`
}

type discordEmbed struct {
	Title     string         `json:"title"`
	Color     int            `json:"color"`
	Fields    []discordField `json:"fields,omitempty"`
	Timestamp string         `json:"timestamp,omitempty"`
}

type discordField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

// allowedMentions with no Parse entries turns every mention off.
type allowedMentions struct {
	Parse []string `json:"parse"`
}

// Name implements Channel.
func (d *Discord) Name() string { return "discord" }

// Deliver implements Channel.
func (d *Discord) Deliver(ctx context.Context, ev Event) error {
	return postJSON(ctx, d.Client, d.URL, nil, discordPayload(ev))
}

func discordPayload(ev Event) discordMessage {
	embed := discordEmbed{Title: string(ev.Kind), Color: kindColors[ev.Kind]}
	if !ev.End.IsZero() {
		embed.Timestamp = ev.End.UTC().Format(time.RFC3339)
	}
	var took string
	if ev.Duration > 0 {
		took = roundDuration(ev.Duration).String()
	}
	for _, f := range [][2]string{
		{"Environment", ev.Env}, {"Target", ev.Target}, {"Run", ev.RunID},
		{"Template", ev.TemplateID}, {"Commit", shortCommit(ev.GitCommit)},
		{"Rollback of", ev.RollbackOf}, {"Duration", took},
	} {
		if f[1] != "" { // Discord refuses empty field values
			embed.Fields = append(embed.Fields, discordField{Name: f[0], Value: truncate(f[1], discordFieldValueMax), Inline: true})
		}
	}
	return discordMessage{
		Content:         truncate(ev.Text(), discordContentMax),
		Embeds:          []discordEmbed{embed},
		AllowedMentions: allowedMentions{Parse: []string{}},
	}
}

// truncate shortens s to at most n characters, ending it with "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
