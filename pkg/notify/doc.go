// Package notify tells people when a deploy succeeds, fails or is rolled
// back: in Discord, in Slack, to any JSON webhook, or by running a command.
//
// A [Notifier] sends an [Event] — built from the run's record with
// [FromRecord] — to every [Channel] concurrently and in the background:
// [Notifier.Send] returns at once, and no notification can delay or fail a
// deploy. Each attempt has a timeout; network errors, 429 and 5xx answers
// are retried with exponential backoff and jitter, honouring Retry-After,
// up to a number of attempts and a total time; other answers are final.
// [Notifier.Close] waits for deliveries under way until its context ends,
// abandons the rest, and returns what failed. Failures also reach
// [Options.OnError] and the logger, if set.
//
// Webhook URLs hold their service's token, so they are secrets: a
// [SecretURL] prints as "<redacted>", and no error or log line holds one.
//
//	n, err := notify.FromEnv(os.Getenv)
//	if err != nil {
//		return err // a misconfiguration, reported before the deploy starts
//	}
//	rec := runDeploy() // the finished *ledger.Record
//	n.Send(notify.FromRecord(rec))
//	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
//	defer cancel()
//	if err := n.Close(ctx); err != nil {
//		log.Printf("notifications: %v", err) // the deploy's result stands
//	}
//
// # Configuration
//
// [FromEnv] reads these settings:
//
//	BATON_NOTIFY_DISCORD_URL   a Discord webhook URL
//	BATON_NOTIFY_SLACK_URL     a Slack incoming webhook URL
//	BATON_NOTIFY_WEBHOOK_URL   a URL to post the JSON document to
//	BATON_NOTIFY_COMMAND       a command to run, e.g. /usr/local/bin/page-oncall --team ops
//	BATON_NOTIFY_ON            which events: a comma-separated list of success, failure and rollback (default all)
//	BATON_NOTIFY_TIMEOUT       the limit on each attempt, e.g. 10s (the default)
//	BATON_NOTIFY_ALLOW_HTTP    true to allow plain http:// URLs to hosts other than loopback
//
// Each URL may instead be put in a file, named by the variable with _FILE
// added (BATON_NOTIFY_SLACK_URL_FILE=/run/secrets/slack), so that it stays
// out of the environment of every process. URLs must be https://, or
// http:// to a loopback address.
//
// BATON_NOTIFY_COMMAND is split into words like a shell would, with 'single'
// and "double" quotes and backslashes but no expansion, pipes or
// redirections; or it may be a JSON array of strings
// (["notify-send", "baton"]). See [Command] for what the program is given.
//
// # The JSON document
//
// The generic webhook posts, and the command reads on its standard input,
// one JSON object whose fields are always all present (empty strings, or
// null times, when unknown):
//
//	event        "success", "failure" or "rollback"
//	env          the environment, e.g. "production"
//	run_id       the run's ID in the ledger
//	target       what ran: "deploy", "stage2", "rollback", …
//	status       the run's status: "succeeded", "failed", "cancelled", "interrupted"
//	user, host   who ran it, and where
//	trigger      "cli" or "webhook"
//	sender       for a webhook run, who pushed
//	delivery_id  for a webhook run, the delivery that started it
//	git_commit   the commit deployed
//	start, end   RFC 3339 times, in UTC
//	duration_ms  how long it took, in milliseconds
//	error        why it failed; "" when it did not
//	template_id  the template deployed, as a string ("8025"); "" when none
//	rollback_of  for a rollback, the run rolled back to; "" otherwise
//	text         the event in one human line, as the chat channels show it
//
// Fields may be added; none will be removed or change meaning.
package notify
