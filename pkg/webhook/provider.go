package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Provider names who sends a hook's deliveries and so how they are signed
// and what their payload looks like.
type Provider string

// The providers baton verifies.
const (
	// GitHub signs the raw body with HMAC-SHA256 in X-Hub-Signature-256
	// ("sha256=<hex>") and names the delivery in X-GitHub-Delivery.
	GitHub Provider = "github"
	// Gitea and Forgejo sign the raw body with HMAC-SHA256 in
	// X-Gitea-Signature (or X-Forgejo-Signature), bare hex.
	Gitea Provider = "gitea"
	// GitLab sends the secret itself in X-Gitlab-Token (over TLS) and
	// names the delivery in X-Gitlab-Event-UUID or Idempotency-Key.
	GitLab Provider = "gitlab"
	// Generic is for scripts and other systems: X-Baton-Timestamp holds
	// Unix seconds and X-Baton-Signature "sha256=<hex>" is HMAC-SHA256 over
	// "<timestamp>.<body>", so a captured request goes stale; the delivery
	// ID is X-Baton-Delivery, or the signature when that is absent.
	Generic Provider = "generic"
)

// Delivery is a verified request: who sent which event about what.
type Delivery struct {
	Hook     string    `json:"hook"`
	Provider Provider  `json:"provider"`
	ID       string    `json:"delivery_id"`
	Event    string    `json:"event"`            // push, ping, …: lower case
	Ref      string    `json:"ref,omitempty"`    // refs/heads/main
	Commit   string    `json:"commit,omitempty"` // the pushed head
	Sender   string    `json:"sender,omitempty"`
	Repo     string    `json:"repo,omitempty"`
	Deleted  bool      `json:"deleted,omitempty"` // the push deleted the ref
	Sent     time.Time `json:"sent,omitzero"`     // the signed timestamp (generic)
	Received time.Time `json:"received"`
	Remote   string    `json:"remote,omitempty"` // the client's address
}

// Branch is the pushed branch, or "" when Ref is not a branch.
func (d Delivery) Branch() string {
	b, ok := strings.CutPrefix(d.Ref, "refs/heads/")
	if !ok {
		return ""
	}
	return b
}

// Error is a rejected request: the HTTP status and why, said so that the
// sender's administrator knows what to fix.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

func reject(status int, format string, args ...any) *Error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// asError is err as the *Error it holds; any other error (none today) is
// a 400 that says what it was.
func asError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return reject(http.StatusBadRequest, "%v", err)
}

// ParseProvider checks a provider's name.
func ParseProvider(s string) (Provider, error) {
	switch p := Provider(strings.ToLower(s)); p {
	case GitHub, Gitea, GitLab, Generic:
		return p, nil
	case "forgejo":
		return Gitea, nil
	}
	return "", fmt.Errorf("unknown provider %q: want github, gitea (also Forgejo), gitlab or generic", s)
}

// Verify checks a request's signature with secret and reads which event
// it is and its delivery ID. It returns an *Error with status 401 when the
// signature is missing or wrong, 409 when a generic delivery's timestamp is
// outside window around now, and 400 when the delivery has no usable ID.
//
// It does not read the payload beyond the event's name (which GitLab and
// generic senders may give in the body): events that a hook does not
// deploy come in every shape, and must be ignored whatever their shape.
// Call [Provider.ReadPayload] for an event that matters.
func (p Provider) Verify(h http.Header, body, secret []byte, now time.Time, window time.Duration) (Delivery, error) {
	d := Delivery{Provider: p, Received: now}
	switch p {
	case GitHub:
		if err := checkHMAC(h, "X-Hub-Signature-256", "sha256=", body, secret); err != nil {
			return d, err
		}
		d.ID, d.Event = h.Get("X-GitHub-Delivery"), h.Get("X-GitHub-Event")
	case Gitea:
		name := "X-Gitea-Signature"
		if h.Get(name) == "" && h.Get("X-Forgejo-Signature") != "" {
			name = "X-Forgejo-Signature"
		}
		if err := checkHMAC(h, name, "", body, secret); err != nil {
			return d, err
		}
		d.ID, d.Event = first(h.Get("X-Gitea-Delivery"), h.Get("X-Forgejo-Delivery")), first(h.Get("X-Gitea-Event"), h.Get("X-Forgejo-Event"))
	case GitLab:
		// Hash both sides so that the comparison does not leak the
		// secret's length either.
		got, want := sha256.Sum256([]byte(h.Get("X-Gitlab-Token"))), sha256.Sum256(secret)
		if h.Get("X-Gitlab-Token") == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return d, reject(http.StatusUnauthorized, "X-Gitlab-Token is missing or is not this hook's secret token")
		}
		d.ID = first(h.Get("X-Gitlab-Event-UUID"), h.Get("Idempotency-Key"))
		d.Event = gitlabEvent(h.Get("X-Gitlab-Event"))
	case Generic:
		ts := h.Get("X-Baton-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || sec <= 0 {
			return d, reject(http.StatusUnauthorized, "X-Baton-Timestamp must be the Unix time in seconds at which the request was signed")
		}
		if err := checkHMAC(h, "X-Baton-Signature", "sha256=", append([]byte(ts+"."), body...), secret); err != nil {
			return d, err
		}
		d.Sent = time.Unix(sec, 0)
		if skew := now.Sub(d.Sent); skew > window || skew < -window {
			return d, reject(http.StatusConflict, "stale delivery: signed at %s, %s from this server's clock (window ±%s); sign each request when it is sent, and check the sender's clock", d.Sent.UTC().Format(time.RFC3339), skew.Round(time.Second), window)
		}
		d.ID = first(h.Get("X-Baton-Delivery"), "sig-"+strings.TrimPrefix(h.Get("X-Baton-Signature"), "sha256="))
		d.Event = h.Get("X-Baton-Event")
	default:
		return d, reject(http.StatusInternalServerError, "hook has unknown provider %q", p)
	}
	if d.Event == "" && (p == Generic || p == GitLab) {
		d.Event = eventInBody(p, body)
	}
	d.Event = strings.ToLower(first(d.Event, "push"))
	if len(d.Event) > 100 {
		return d, reject(http.StatusBadRequest, "the event name is %d bytes long; at most 100", len(d.Event))
	}
	if d.ID == "" {
		return d, reject(http.StatusBadRequest, "the delivery has no ID header (%s), so a replay could not be told from a new push", idHeader(p))
	}
	if len(d.ID) > 200 {
		return d, reject(http.StatusBadRequest, "delivery ID is %d bytes long; at most 200", len(d.ID))
	}
	return d, nil
}

// checkHMAC compares the HMAC-SHA256 of data with the hex in header name
// (after prefix), in constant time.
func checkHMAC(h http.Header, name, prefix string, data, secret []byte) *Error {
	v := h.Get(name)
	if v == "" {
		return reject(http.StatusUnauthorized, "%s is missing: set the hook's secret on the sender", name)
	}
	sig, ok := strings.CutPrefix(v, prefix)
	got, err := hex.DecodeString(sig)
	if !ok || err != nil || len(got) != sha256.Size {
		return reject(http.StatusUnauthorized, "%s is not %s followed by 64 hex digits", name, first(prefix, "empty"))
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(data)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return reject(http.StatusUnauthorized, "%s does not match the body: the sender's secret differs from this hook's, or the body was changed on the way", name)
	}
	return nil
}

// Sign returns the signature header value a provider would send for body
// (and, for Generic, the timestamp), for tests and for scripts that post
// generic deliveries. GitLab does not sign: its header carries the secret.
func (p Provider) Sign(body, secret []byte, ts time.Time) (header, value string) {
	mac := hmac.New(sha256.New, secret)
	switch p {
	case Gitea:
		mac.Write(body)
		return "X-Gitea-Signature", hex.EncodeToString(mac.Sum(nil))
	case GitLab:
		return "X-Gitlab-Token", string(secret)
	case Generic:
		mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10) + "."))
		mac.Write(body)
		return "X-Baton-Signature", "sha256=" + hex.EncodeToString(mac.Sum(nil))
	default:
		mac.Write(body)
		return "X-Hub-Signature-256", "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
}

// payload is the union of the fields baton reads from the providers' push
// events; each provider fills some of them.
type payload struct {
	Ref      string `json:"ref"`
	After    string `json:"after"`
	Commit   string `json:"commit"`       // generic
	Checkout string `json:"checkout_sha"` // GitLab
	Deleted  bool   `json:"deleted"`
	// Sender is an object with a login (GitHub, Gitea) or, for generic
	// deliveries, a string.
	Sender       json.RawMessage `json:"sender"`
	UserUsername string          `json:"user_username"` // GitLab
	Repository   *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Project *struct {
		Path string `json:"path_with_namespace"`
	} `json:"project"` // GitLab
}

// eventInBody reads the event's name from a generic body's "event" or a
// GitLab body's "object_kind", or "" when there is none that is a string.
func eventInBody(p Provider, body []byte) string {
	var ev struct {
		Event      any `json:"event"`
		ObjectKind any `json:"object_kind"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return ""
	}
	if p == GitLab {
		s, _ := ev.ObjectKind.(string)
		return gitlabEvent(s)
	}
	s, _ := ev.Event.(string)
	return s
}

// ReadPayload reads into d what a push payload says: ref, commit, sender,
// repository, whether the push deleted the ref. It returns an *Error with
// status 400 when the body is not the JSON the provider sends.
func (p Provider) ReadPayload(body []byte, d *Delivery) error {
	var pl payload
	if err := json.Unmarshal(body, &pl); err != nil {
		return reject(http.StatusBadRequest, "the body of this %s event is not the JSON %s sends: %v", d.Event, p, err)
	}
	d.Ref = pl.Ref
	d.Commit = first(pl.After, pl.Commit, pl.Checkout)
	d.Deleted = pl.Deleted || (strings.Trim(pl.After, "0") == "" && pl.After != "")
	d.Sender = first(senderName(pl.Sender), pl.UserUsername)
	if pl.Repository != nil {
		d.Repo = pl.Repository.FullName
	}
	if pl.Project != nil {
		d.Repo = first(d.Repo, pl.Project.Path)
	}
	if len(d.Sender) > 200 || len(d.Ref) > 1000 || len(d.Commit) > 200 {
		return reject(http.StatusBadRequest, "a field of the payload is too long to be a sender, ref or commit")
	}
	return nil
}

// senderName reads a sender given as a string or as an object with a
// login or username; anything else is no sender.
func senderName(raw json.RawMessage) string {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return name
	}
	var obj struct {
		Login    string `json:"login"`
		Username string `json:"username"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return first(obj.Login, obj.Username)
	}
	return ""
}

// gitlabEvent maps GitLab's "Push Hook" / "Tag Push Hook" and object kinds
// to the event names the others use.
func gitlabEvent(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, " Hook"))
	return strings.ReplaceAll(s, " ", "_")
}

func idHeader(p Provider) string {
	switch p {
	case GitHub:
		return "X-GitHub-Delivery"
	case Gitea:
		return "X-Gitea-Delivery"
	case GitLab:
		return "X-Gitlab-Event-UUID or Idempotency-Key"
	}
	return "X-Baton-Delivery"
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
