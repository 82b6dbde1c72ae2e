package notify

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/shellwords"
)

// FromEnv returns a Notifier configured by the BATON_NOTIFY_* settings
// that getenv reads (nil means os.Getenv); see the package documentation.
// With none set, it returns a Notifier that sends nothing. To add an
// OnError or a Logger, use OptionsFromEnv and New.
func FromEnv(getenv func(string) string) (*Notifier, error) {
	opts, err := OptionsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	return New(opts), nil
}

// OptionsFromEnv reads the BATON_NOTIFY_* settings with getenv (nil means
// os.Getenv) into Options: Channels, On and Timeout. It reports every
// problem it finds, joined; no error ever holds a webhook URL.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var (
		opts Options
		errs []error
	)
	allowHTTP := false
	if v := getenv(envPrefix + "ALLOW_HTTP"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%sALLOW_HTTP: %q is not true or false", envPrefix, v))
		}
		allowHTTP = b
	}
	for _, c := range []struct {
		setting string
		example string
		channel func(SecretURL) Channel
	}{
		{"DISCORD_URL", "https://discord.com/api/webhooks/…", func(u SecretURL) Channel { return &Discord{URL: u} }},
		{"SLACK_URL", "https://hooks.slack.com/services/…", func(u SecretURL) Channel { return &Slack{URL: u} }},
		{"WEBHOOK_URL", "https://example.com/hooks/baton", func(u SecretURL) Channel { return &Webhook{URL: u} }},
	} {
		u, err := secretFromEnv(getenv, envPrefix+c.setting, c.example, allowHTTP)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !u.IsZero():
			opts.Channels = append(opts.Channels, c.channel(u))
		}
	}
	if v := strings.TrimSpace(getenv(envPrefix + "COMMAND")); v != "" {
		argv, err := commandFromEnv(v)
		if err != nil {
			errs = append(errs, err)
		} else {
			opts.Channels = append(opts.Channels, &Command{Argv: argv})
		}
	}
	if v := getenv(envPrefix + "ON"); v != "" {
		on, err := parseKinds(v)
		if err != nil {
			errs = append(errs, err)
		}
		opts.On = on
	}
	if v := getenv(envPrefix + "TIMEOUT"); v != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%sTIMEOUT: %q is not a positive duration like 10s or 1m", envPrefix, v))
		}
		opts.Timeout = d
	}
	if len(errs) > 0 {
		return Options{}, errors.Join(errs...)
	}
	return opts, nil
}

// secretFromEnv reads the URL in the variable name or in the file that
// name_FILE names. Its errors say what is wrong without showing the URL.
// Neither set gives the zero SecretURL.
func secretFromEnv(getenv func(string) string, name, example string, allowHTTP bool) (SecretURL, error) {
	raw, file := getenv(name), getenv(name+"_FILE")
	switch {
	case raw != "" && file != "":
		return SecretURL{}, fmt.Errorf("%s and %s_FILE are both set: set one", name, name)
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return SecretURL{}, fmt.Errorf("%s_FILE: %w: it must name a readable file that holds the URL", name, err)
		}
		if raw = strings.TrimSpace(string(data)); raw == "" {
			return SecretURL{}, fmt.Errorf("%s_FILE: %s is empty: write the URL in it", name, file)
		}
		name += "_FILE"
	case raw == "":
		return SecretURL{}, nil
	}
	u, err := ParseSecretURL(strings.TrimSpace(raw), allowHTTP)
	switch {
	case errors.Is(err, ErrInsecure):
		return SecretURL{}, fmt.Errorf("%s: %w: set %sALLOW_HTTP=true only for a receiver you trust on a private network (the value is not shown: it is a secret)", name, err, envPrefix)
	case err != nil:
		return SecretURL{}, fmt.Errorf("%s: %w; expected a URL like %s (the value is not shown: it is a secret)", name, err, example)
	}
	return u, nil
}

// commandFromEnv reads BATON_NOTIFY_COMMAND: a JSON array of strings, or a
// command line split like a shell would, without expansion. The program
// must be found now, not at the first failed deploy.
func commandFromEnv(v string) ([]string, error) {
	argv, err := shellwords.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("%sCOMMAND: %w", envPrefix, err)
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("%sCOMMAND: no program to run", envPrefix)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%sCOMMAND: %w: give the program's path, or add its directory to PATH", envPrefix, err)
	}
	return argv, nil
}

// parseKinds reads a comma-separated list of kinds.
func parseKinds(v string) ([]Kind, error) {
	var kinds []Kind
	for f := range strings.SplitSeq(v, ",") {
		k := Kind(strings.ToLower(strings.TrimSpace(f)))
		switch {
		case k == "":
		case k == Success || k == Failure || k == Rollback:
			kinds = append(kinds, k)
		default:
			return nil, fmt.Errorf("%sON: unknown event %q: use a comma-separated list of success, failure and rollback", envPrefix, f)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("%sON: no events listed: use a comma-separated list of success, failure and rollback, or unset it for all", envPrefix)
	}
	return kinds, nil
}
