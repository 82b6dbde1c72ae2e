package notify

import (
	"errors"
	"net/netip"
	"net/url"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// redacted stands for a secret URL in every message.
const redacted = "<redacted>"

// Errors of ParseSecretURL. They never hold the URL, which is a secret.
var (
	ErrInvalidURL = errors.New("not a valid absolute URL")
	ErrInsecure   = errors.New("the URL must start with https:// (plain http:// is accepted only to a loopback address such as 127.0.0.1, or when explicitly allowed)")
)

// SecretURL is a webhook URL. Chat webhooks carry their token in the URL,
// so a SecretURL never shows it: it prints as "<redacted>" with any verb
// of package fmt. The zero SecretURL is empty and cannot be posted to.
type SecretURL struct {
	u *url.URL
}

// ParseSecretURL parses raw as a webhook URL: https, or http only to a
// loopback address or when allowHTTP is true. Its errors are ErrInvalidURL
// and ErrInsecure, and never repeat raw.
func ParseSecretURL(raw string, allowHTTP bool) (SecretURL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		// url.Parse's error quotes the URL: it is dropped, not wrapped.
		return SecretURL{}, ErrInvalidURL
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (allowHTTP || isLoopback(u.Hostname())):
	default:
		return SecretURL{}, ErrInsecure
	}
	return SecretURL{u: u}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// String returns "<redacted>", so that the URL cannot be logged by mistake.
func (s SecretURL) String() string { return redacted }

// GoString returns "<redacted>" for %#v, like String.
func (s SecretURL) GoString() string { return redacted }

// IsZero reports whether s holds no URL.
func (s SecretURL) IsZero() bool { return s.u == nil }

// reveal returns the URL itself, only to build a request.
func (s SecretURL) reveal() string { return s.u.String() }

// mask hides the URL's secret parts in text, such as an error page that
// quotes the path it was asked for.
func (s SecretURL) mask(text string) string {
	if s.u == nil {
		return text
	}
	secrets := []string{s.u.String(), s.u.EscapedPath(), s.u.Path, s.u.RawQuery}
	if p, ok := s.u.User.Password(); ok {
		secrets = append(secrets, p)
	}
	return pipeline.NewRedactor(secrets...).Redact(text)
}
