package notify

import (
	"context"
	"net/http"
	"strings"
)

// Slack posts events to a Slack channel through an incoming webhook
// (a Slack app's Incoming Webhooks page): the event's text as the message.
type Slack struct {
	// URL is the webhook's URL, https://hooks.slack.com/services/T…/B…/….
	URL SecretURL
	// Client sends the requests; nil means a plain http.Client. Redirects
	// are never followed.
	Client *http.Client
}

var _ Channel = (*Slack)(nil)

// slackTextMax keeps a message well inside what Slack shows in full.
const slackTextMax = 3000

// slackMessage is the body of a Slack incoming webhook.
type slackMessage struct {
	Text string `json:"text"`
}

// Name implements Channel.
func (s *Slack) Name() string { return "slack" }

// Deliver implements Channel.
func (s *Slack) Deliver(ctx context.Context, ev Event) error {
	return postJSON(ctx, s.Client, s.URL, nil, slackPayload(ev))
}

func slackPayload(ev Event) slackMessage {
	return slackMessage{Text: slackEscaper.Replace(truncate(ev.Text(), slackTextMax))}
}

// slackEscaper escapes the three characters Slack's mrkdwn gives meaning
// to, so that an error such as "POST <redacted>" shows as written.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
