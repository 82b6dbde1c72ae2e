package ui

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodToken = "0123456789abcdef0123456789abcdef"

func TestParseAuth(t *testing.T) {
	for _, tc := range []struct {
		name, line, err string
		basic           bool
	}{
		{"bearer", "bearer " + goodToken, "", false},
		{"bare token", goodToken, "", false},
		{"Bearer in capitals", "Bearer " + goodToken, "", false},
		{"short token", "bearer short", "use at least 16", false},
		{"basic", "basic admin:correct-horse-battery", "", true},
		{"basic short password", "basic admin:short", "use at least 12", true},
		{"basic no user", "basic :correct-horse-battery", "want \"basic USER:PASSWORD\"", true},
		{"unknown scheme", "digest " + goodToken, "unknown scheme", false},
		{"two lines", goodToken + "\n" + goodToken, "want one line", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAuth(tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.basic != tc.basic {
				t.Errorf("basic = %v, want %v", a.basic, tc.basic)
			}
		})
	}
}

func TestLoadAuth(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ui-auth")
	if err := os.WriteFile(path, []byte("bearer "+goodToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAuth(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a 0644 file: %v, want a refusal saying chmod 600", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAuth(path); err != nil {
		t.Errorf("a 0600 file: %v", err)
	}
	if _, err := LoadAuth(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file: no error")
	}
}

func TestAuthRefuses(t *testing.T) {
	f, done := standard(t)
	defer done()
	bearer, _ := ParseAuth("bearer " + goodToken)
	basic, _ := ParseAuth("basic admin:correct-horse-battery")
	hb := newView(t, f, func(o *Options) { o.Auth = bearer })
	hp := newView(t, f, func(o *Options) { o.Auth = basic })
	for _, tc := range []struct {
		name string
		h    http.Handler
		hdr  []string
		want int
	}{
		{"no token", hb, nil, 401},
		{"wrong token of the same length", hb, []string{"Authorization", "Bearer " + strings.Repeat("x", len(goodToken))}, 401},
		{"shorter token", hb, []string{"Authorization", "Bearer " + goodToken[:8]}, 401},
		{"longer token", hb, []string{"Authorization", "Bearer " + goodToken + "0"}, 401},
		{"empty token", hb, []string{"Authorization", "Bearer "}, 401},
		{"token as basic", hb, []string{"Authorization", "Basic " + goodToken}, 401},
		{"right token", hb, []string{"Authorization", "Bearer " + goodToken}, 200},
		{"no credentials", hp, nil, 401},
		{"wrong password", hp, []string{"Authorization", basicHeader("admin", "correct-horse-batterx")}, 401},
		{"wrong user", hp, []string{"Authorization", basicHeader("root", "correct-horse-battery")}, 401},
		{"password longer", hp, []string{"Authorization", basicHeader("admin", "correct-horse-battery!")}, 401},
		{"bearer to basic", hp, []string{"Authorization", "Bearer " + goodToken}, 401},
		{"right credentials", hp, []string{"Authorization", basicHeader("admin", "correct-horse-battery")}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/", "/history", "/envs/prod/runs/20260301T100000-aaaa", "/ui.css"} {
				code, body, hdr := get(t, tc.h, http.MethodGet, path, tc.hdr...)
				if code != tc.want {
					t.Fatalf("GET %s: %d, want %d", path, code, tc.want)
				}
				if code == 401 {
					if hdr.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
					if strings.Contains(body, "8025") || strings.Contains(body, "prod") {
						t.Errorf("401 page shows the history: %q", body)
					}
				}
			}
		})
	}
}

func basicHeader(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func TestCheckListen(t *testing.T) {
	a, _ := ParseAuth(goodToken)
	for _, tc := range []struct {
		addr string
		auth *Auth
		ok   bool
	}{
		{"127.0.0.1:8098", nil, true},
		{"127.9.9.9:8098", nil, true},
		{"[::1]:8098", nil, true},
		{"localhost:8098", nil, true},
		{"0.0.0.0:8098", nil, false},
		{":8098", nil, false},
		{"[::]:8098", nil, false},
		{"10.1.2.3:8098", nil, false},
		{"ci.example:8098", nil, false},
		{"0.0.0.0:8098", a, true},
		{"no-port", nil, false},
	} {
		err := CheckListen(tc.addr, tc.auth)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, auth %v) = %v, want ok %v", tc.addr, tc.auth != nil, err, tc.ok)
		}
	}
}
