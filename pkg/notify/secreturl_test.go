package notify

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseSecretURL(t *testing.T) {
	for _, tc := range []struct {
		raw       string
		allowHTTP bool
		want      error
	}{
		{"https://discord.com/api/webhooks/1/" + fakeToken, false, nil},
		{"http://127.0.0.1:8080/hook", false, nil},
		{"http://[::1]/hook", false, nil},
		{"http://localhost/hook", false, nil},
		{"http://hooks.internal/hook", false, ErrInsecure},
		{"http://hooks.internal/hook", true, nil},
		{"ftp://example.com/" + fakeToken, true, ErrInsecure},
		{"hooks.slack.com/services/" + fakeToken, false, ErrInvalidURL},
		{"https:///" + fakeToken, false, ErrInvalidURL},
		{"https://exa mple.com/" + fakeToken, false, ErrInvalidURL},
		{"mailto:" + fakeToken, false, ErrInvalidURL},
		{"", false, ErrInvalidURL},
	} {
		u, err := ParseSecretURL(tc.raw, tc.allowHTTP)
		if !errors.Is(err, tc.want) {
			t.Errorf("ParseSecretURL(%q, %t): got %v, want %v", tc.raw, tc.allowHTTP, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), fakeToken) {
			t.Errorf("ParseSecretURL(%q): error %q shows the URL", tc.raw, err)
		}
		if (err == nil) == u.IsZero() {
			t.Errorf("ParseSecretURL(%q): got IsZero %t with error %v", tc.raw, u.IsZero(), err)
		}
	}
}

func TestSecretURLPrintsRedacted(t *testing.T) {
	u, err := ParseSecretURL("https://discord.com/api/webhooks/1/"+fakeToken, false)
	if err != nil {
		t.Fatal(err)
	}
	d := &Discord{URL: u}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, d); strings.Contains(got, fakeToken) {
			t.Errorf("Sprintf(%q) = %s: it shows the URL", format, got)
		}
	}
	if got := fmt.Sprint(u); got != redacted {
		t.Errorf("got %q, want %q", got, redacted)
	}
}
