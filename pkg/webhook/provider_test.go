package webhook

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestGitHubDocumentedExample checks the example of GitHub's "Validating
// webhook deliveries": secret "It's a Secret to Everybody", payload
// "Hello, World!".
func TestGitHubDocumentedExample(t *testing.T) {
	secret, body := []byte("It's a Secret to Everybody"), []byte("Hello, World!")
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	h := http.Header{}
	h.Set("X-Hub-Signature-256", want)
	if err := checkHMAC(h, "X-Hub-Signature-256", "sha256=", body, secret); err != nil {
		t.Fatalf("the documented signature does not verify: %v", err)
	}
	if _, got := GitHub.Sign(body, secret, time.Time{}); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if err := checkHMAC(h, "X-Hub-Signature-256", "sha256=", []byte("Hello, World?"), secret); err == nil || err.Status != 401 {
		t.Errorf("a changed body verified: %v", err)
	}
	// Through the whole check the body is not JSON: the signature passes
	// and the payload of a push is refused (400).
	h.Set("X-GitHub-Delivery", "d0")
	d, err := GitHub.Verify(h, body, secret, time.Now(), time.Minute)
	if err != nil {
		t.Fatalf("Verify of the documented example = %v, want it to pass", err)
	}
	err = GitHub.ReadPayload(body, &d)
	if e, ok := err.(*Error); !ok || e.Status != http.StatusBadRequest {
		t.Errorf("ReadPayload of the documented example = %v, want a 400 for the non-JSON payload", err)
	}
}

func TestVerifyParsesEachProvider(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		p       Provider
		headers map[string]string
		body    string
		want    Delivery
	}{
		{GitHub, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1"},
			`{"ref":"refs/heads/main","after":"abc","sender":{"login":"alice"},"repository":{"full_name":"acme/infra"}}`,
			Delivery{ID: "d1", Event: "push", Ref: "refs/heads/main", Commit: "abc", Sender: "alice", Repo: "acme/infra"}},
		{Gitea, map[string]string{"X-Forgejo-Event": "push", "X-Forgejo-Delivery": "d2"},
			`{"ref":"refs/heads/dev","after":"def","sender":{"login":"bob","username":"bob"},"repository":{"full_name":"acme/x"}}`,
			Delivery{ID: "d2", Event: "push", Ref: "refs/heads/dev", Commit: "def", Sender: "bob", Repo: "acme/x"}},
		{GitLab, map[string]string{"X-Gitlab-Event": "Tag Push Hook", "Idempotency-Key": "d3"},
			`{"object_kind":"tag_push","ref":"refs/tags/v1","checkout_sha":"123","user_username":"carol","project":{"path_with_namespace":"g/p"}}`,
			Delivery{ID: "d3", Event: "tag_push", Ref: "refs/tags/v1", Commit: "123", Sender: "carol", Repo: "g/p"}},
		{Generic, map[string]string{"X-Baton-Timestamp": "1800000000", "X-Baton-Delivery": "d4"},
			`{"event":"Deploy","ref":"refs/heads/main","commit":"c0ffee","sender":"cron"}`,
			Delivery{ID: "d4", Event: "deploy", Ref: "refs/heads/main", Commit: "c0ffee", Sender: "cron", Sent: now}},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.headers {
			h.Set(k, v)
		}
		name, value := c.p.Sign([]byte(c.body), testSecret, now)
		if c.p == Gitea {
			name = "X-Forgejo-Signature"
		}
		h.Set(name, value)
		got, err := c.p.Verify(h, []byte(c.body), testSecret, now, time.Minute)
		if err == nil {
			err = c.p.ReadPayload([]byte(c.body), &got)
		}
		if err != nil {
			t.Errorf("%s: %v", c.p, err)
			continue
		}
		c.want.Provider, c.want.Received = c.p, now
		if !got.Sent.Equal(c.want.Sent) {
			t.Errorf("%s: Sent %v, want %v", c.p, got.Sent, c.want.Sent)
		}
		got.Sent = c.want.Sent
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.p, got, c.want)
		}
	}
}

// FuzzVerify feeds arbitrary bodies and signature headers to every
// provider. Whatever comes, Verify does not panic, refuses with one of
// the statuses a client can cause, and accepts only bodies whose
// signature is right; and a correctly signed body is never refused for
// its signature.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"ref":"refs/heads/main","after":"abc","sender":{"login":"a"}}`), "sha256=00", "1800000000", "id")
	f.Add([]byte(`{"object_kind":"push","ref":"refs/heads/main","checkout_sha":"1","user_username":"u"}`), "", "", "")
	f.Add([]byte(`{"sender":"x","commit":7}`), "sha256=", "-1", "x")
	f.Add([]byte(`{"sender":[1,2],"repository":null,"project":{"path_with_namespace":5}}`), "zz", "99999999999999999999", "y")
	f.Add([]byte("Hello, World!"), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "", "")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte, sig, ts, id string) {
		for _, p := range []Provider{GitHub, Gitea, GitLab, Generic} {
			for _, signed := range []bool{false, true} {
				h := http.Header{}
				h.Set("X-Baton-Timestamp", ts)
				for _, k := range []string{"X-GitHub-Delivery", "X-Gitea-Delivery", "X-Gitlab-Event-UUID", "X-Baton-Delivery"} {
					h.Set(k, id)
				}
				name, value := p.Sign(body, testSecret, time.Unix(parseTS(ts), 0))
				if !signed {
					value = sig
				}
				h.Set(name, value)
				d, err := p.Verify(h, body, testSecret, now, time.Hour)
				if err == nil {
					_, want := p.Sign(body, testSecret, time.Unix(parseTS(ts), 0))
					if h.Get(name) != want {
						t.Fatalf("%s accepted a wrong signature %q", p, h.Get(name))
					}
					if d.ID == "" {
						t.Fatalf("%s accepted %q without an ID", p, body)
					}
					err := p.ReadPayload(body, &d)
					if err == nil && !json.Valid(body) {
						t.Fatalf("%s read a payload from %q", p, body)
					}
					if e, ok := err.(*Error); err != nil && (!ok || e.Status != 400) {
						t.Fatalf("%s: ReadPayload: %v, want a 400", p, err)
					}
					continue
				}
				e, ok := err.(*Error)
				if !ok {
					t.Fatalf("%s: error %T %v, want *Error", p, err, err)
				}
				switch e.Status {
				case 400, 401, 409:
				default:
					t.Fatalf("%s: status %d", p, e.Status)
				}
				// Sign writes the timestamp in its canonical form.
				canonical := parseTS(ts) > 0 && strconv.FormatInt(parseTS(ts), 10) == ts
				if signed && e.Status == 401 && (p != Generic || canonical) {
					t.Fatalf("%s refused a correctly signed body: %v", p, e)
				}
			}
		}
	})
}

func parseTS(s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' || n > 1e15 {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
