package ui

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// Auth is what a request must present: a bearer token, or a user and
// password (HTTP basic authentication). Make one with LoadAuth.
type Auth struct {
	token      [32]byte // SHA-256 of the token, for a bearer Auth
	user, pass [32]byte // SHA-256 of each, for a basic Auth
	basic      bool
}

// Minimum lengths of what an auth file holds: short enough to type, too
// long to guess.
const (
	MinTokenLen    = 16
	MinPasswordLen = 12
)

// LoadAuth reads an auth file: one line, either "bearer TOKEN" (or just
// the token) or "basic USER:PASSWORD". The file must be readable by its
// owner only (mode 0600 or stricter), since it is a credential.
func LoadAuth(path string) (*Auth, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ui auth: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("ui auth: %s is mode %04o: others can read the credential; chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ui auth: %w", err)
	}
	a, err := ParseAuth(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("ui auth: %s: %w", path, err)
	}
	return a, nil
}

// ParseAuth reads the line of an auth file (see LoadAuth).
func ParseAuth(line string) (*Auth, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, errors.New("want one line: \"bearer TOKEN\" or \"basic USER:PASSWORD\"")
	}
	scheme, rest, found := strings.Cut(line, " ")
	if !found {
		scheme, rest = "bearer", line
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		if len(rest) < MinTokenLen {
			return nil, fmt.Errorf("the token is %d characters; use at least %d (e.g. `openssl rand -hex 32`)", len(rest), MinTokenLen)
		}
		return &Auth{token: sha256.Sum256([]byte(rest))}, nil
	case "basic":
		user, pass, ok := strings.Cut(rest, ":")
		if !ok || user == "" {
			return nil, errors.New("want \"basic USER:PASSWORD\"")
		}
		if len(pass) < MinPasswordLen {
			return nil, fmt.Errorf("the password is %d characters; use at least %d", len(pass), MinPasswordLen)
		}
		return &Auth{basic: true, user: sha256.Sum256([]byte(user)), pass: sha256.Sum256([]byte(pass))}, nil
	}
	return nil, fmt.Errorf("unknown scheme %q: want \"bearer TOKEN\" or \"basic USER:PASSWORD\"", scheme)
}

// Check reports whether r presents the credential. What is presented is
// hashed before it is compared, so the comparison takes the same time
// whatever its length and wherever it differs.
func (a *Auth) Check(r *http.Request) bool {
	if a.basic {
		user, pass, ok := r.BasicAuth()
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		// Both compared, always: which one is wrong takes no longer.
		match := subtle.ConstantTimeCompare(u[:], a.user[:]) & subtle.ConstantTimeCompare(p[:], a.pass[:])
		return ok && match == 1
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	t := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := subtle.ConstantTimeCompare(t[:], a.token[:])
	return ok && strings.EqualFold(scheme, "bearer") && match == 1
}

func (a *Auth) challenge() string {
	if a.basic {
		return `Basic realm="baton", charset="UTF-8"`
	}
	return `Bearer realm="baton"`
}

func (a *Auth) hint() string {
	if a.basic {
		return "give the user and password of the view's auth file"
	}
	return "send Authorization: Bearer <the token in the view's auth file>"
}

// CheckListen refuses an address that is not loopback when a is nil: the
// view shows who deployed what and each tool's output, which is not for
// anyone on the network. "localhost" counts as loopback; an address with
// no host (":8098") listens on every interface and does not.
func CheckListen(addr string, a *Auth) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ui: listen address %q: %w; want host:port such as 127.0.0.1:8098", addr, err)
	}
	if a != nil || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("ui: refusing to listen on %s without authentication: it is not a loopback address; give an auth file (mode 0600, \"bearer TOKEN\" or \"basic USER:PASSWORD\") or listen on 127.0.0.1", addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
