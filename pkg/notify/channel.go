package notify

import "context"

// Channel is somewhere notifications go. Discord, Slack, Webhook and
// Command are channels; a library user adds their own by implementing it.
//
// Deliver makes one attempt and returns within ctx's deadline; the
// Notifier owns timeouts and retries. It retries an error wrapped with
// pipeline.Retryable, waiting at least the RetryAfter of a *StatusError
// in it, and gives up at once on any other. Errors must not reveal
// secrets such as webhook URLs: they are logged and returned by Close.
type Channel interface {
	// Name names the channel in errors and logs, e.g. "slack".
	Name() string
	// Deliver sends one event.
	Deliver(ctx context.Context, ev Event) error
}
