package notify

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOptionsFromEnv(t *testing.T) {
	dir := t.TempDir()
	discordURL := "https://discord.com/api/webhooks/1/" + fakeToken
	urlFile := filepath.Join(dir, "url")
	if err := os.WriteFile(urlFile, []byte(discordURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad")
	if err := os.WriteFile(badFile, []byte("discord.com/"+fakeToken), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		env      map[string]string
		channels []string // the channels' names
		argv     []string // the command's
		on       []Kind
		timeout  time.Duration
		err      string // in the error; "" for none
	}{
		{name: "nothing"},
		{name: "all", env: map[string]string{
			"BATON_NOTIFY_DISCORD_URL": discordURL,
			"BATON_NOTIFY_SLACK_URL":   "https://hooks.slack.com/services/" + fakeToken,
			"BATON_NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9000/hook?token=" + fakeToken,
			"BATON_NOTIFY_COMMAND":     `sh -c 'echo "$1"' notify`,
			"BATON_NOTIFY_ON":          "failure, Rollback",
			"BATON_NOTIFY_TIMEOUT":     "3s",
		}, channels: []string{"discord", "slack", "webhook", "command"}, argv: []string{"sh", "-c", `echo "$1"`, "notify"},
			on: []Kind{Failure, Rollback}, timeout: 3 * time.Second},
		{name: "url in a file", env: map[string]string{"BATON_NOTIFY_DISCORD_URL_FILE": urlFile}, channels: []string{"discord"}},
		{name: "command as JSON", env: map[string]string{"BATON_NOTIFY_COMMAND": `["sh", "-c", "cat > /dev/null"]`},
			channels: []string{"command"}, argv: []string{"sh", "-c", "cat > /dev/null"}},
		{name: "http allowed", env: map[string]string{"BATON_NOTIFY_WEBHOOK_URL": "http://hooks.internal/" + fakeToken, "BATON_NOTIFY_ALLOW_HTTP": "true"},
			channels: []string{"webhook"}},

		{name: "http to another host", env: map[string]string{"BATON_NOTIFY_WEBHOOK_URL": "http://hooks.internal/" + fakeToken},
			err: "BATON_NOTIFY_WEBHOOK_URL: the URL must start with https://"},
		{name: "bad scheme", env: map[string]string{"BATON_NOTIFY_SLACK_URL": "ftp://hooks.slack.com/" + fakeToken},
			err: "BATON_NOTIFY_SLACK_URL: the URL must start with https://"},
		{name: "not a URL", env: map[string]string{"BATON_NOTIFY_SLACK_URL": "hooks.slack.com/services/" + fakeToken},
			err: "BATON_NOTIFY_SLACK_URL: not a valid absolute URL; expected a URL like https://hooks.slack.com/services/…"},
		{name: "not a URL in a file", env: map[string]string{"BATON_NOTIFY_DISCORD_URL_FILE": badFile},
			err: "BATON_NOTIFY_DISCORD_URL_FILE: not a valid absolute URL"},
		{name: "both", env: map[string]string{"BATON_NOTIFY_DISCORD_URL": discordURL, "BATON_NOTIFY_DISCORD_URL_FILE": urlFile},
			err: "BATON_NOTIFY_DISCORD_URL and BATON_NOTIFY_DISCORD_URL_FILE are both set"},
		{name: "unreadable file", env: map[string]string{"BATON_NOTIFY_SLACK_URL_FILE": filepath.Join(dir, "missing")},
			err: "BATON_NOTIFY_SLACK_URL_FILE: open " + filepath.Join(dir, "missing") + ": no such file or directory: it must name a readable file"},
		{name: "empty file", env: map[string]string{"BATON_NOTIFY_SLACK_URL_FILE": emptyFile},
			err: "BATON_NOTIFY_SLACK_URL_FILE: " + emptyFile + " is empty"},
		{name: "bad allow", env: map[string]string{"BATON_NOTIFY_ALLOW_HTTP": "maybe"},
			err: `BATON_NOTIFY_ALLOW_HTTP: "maybe" is not true or false`},
		{name: "unknown event", env: map[string]string{"BATON_NOTIFY_ON": "success,sucess"},
			err: `BATON_NOTIFY_ON: unknown event "sucess": use a comma-separated list of success, failure and rollback`},
		{name: "no events", env: map[string]string{"BATON_NOTIFY_ON": " , "}, err: "BATON_NOTIFY_ON: no events listed"},
		{name: "bad timeout", env: map[string]string{"BATON_NOTIFY_TIMEOUT": "10"},
			err: `BATON_NOTIFY_TIMEOUT: "10" is not a positive duration like 10s or 1m`},
		{name: "negative timeout", env: map[string]string{"BATON_NOTIFY_TIMEOUT": "-1s"}, err: "BATON_NOTIFY_TIMEOUT"},
		{name: "unterminated quote", env: map[string]string{"BATON_NOTIFY_COMMAND": `notify 'oops`},
			err: "BATON_NOTIFY_COMMAND: unterminated ' quote"},
		{name: "bad JSON command", env: map[string]string{"BATON_NOTIFY_COMMAND": `["notify", 1]`},
			err: "BATON_NOTIFY_COMMAND: not a JSON array of strings"},
		{name: "empty JSON command", env: map[string]string{"BATON_NOTIFY_COMMAND": `[]`},
			err: "BATON_NOTIFY_COMMAND: no program to run"},
		{name: "missing program", env: map[string]string{"BATON_NOTIFY_COMMAND": "baton-no-such-program --flag"},
			err: `BATON_NOTIFY_COMMAND: exec: "baton-no-such-program": executable file not found in $PATH: give the program's path`},
		{name: "every problem at once", env: map[string]string{"BATON_NOTIFY_ON": "sometimes", "BATON_NOTIFY_TIMEOUT": "soon"},
			err: "BATON_NOTIFY_ON: unknown event \"sometimes\": use a comma-separated list of success, failure and rollback\nBATON_NOTIFY_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := OptionsFromEnv(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), fakeToken) {
					t.Errorf("the error shows the URL: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			var argv []string
			for _, ch := range opts.Channels {
				names = append(names, ch.Name())
				if c, ok := ch.(*Command); ok {
					argv = c.Argv
				}
			}
			if !slices.Equal(names, tc.channels) || !slices.Equal(argv, tc.argv) {
				t.Errorf("got channels %v with command %q, want %v with %q", names, argv, tc.channels, tc.argv)
			}
			if !slices.Equal(opts.On, tc.on) || opts.Timeout != tc.timeout {
				t.Errorf("got on %v, timeout %s; want %v, %s", opts.On, opts.Timeout, tc.on, tc.timeout)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	n, err := FromEnv(func(string) string { return "" })
	if err != nil || n == nil || len(n.channels) != 0 {
		t.Fatalf("got %v, %v; want a Notifier with no channels", n, err)
	}
	n.Send(testEvent())
	if err := closeWithin(t, n, time.Second); err != nil {
		t.Error(err)
	}
	if _, err := FromEnv(func(k string) string { return map[string]string{"BATON_NOTIFY_ON": "never"}[k] }); err == nil {
		t.Error("got no error for a bad setting")
	}
}
