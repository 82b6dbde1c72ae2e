package webhook

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
)

var testSecret = []byte("a-test-secret-of-32-bytes-length")

// fakeDeploy records the runs it is given and holds each until released
// (or its context ends).
type fakeDeploy struct {
	mu      sync.Mutex
	runs    []*Run
	started chan *Run
	release chan struct{}
	errs    chan error
}

func newFakeDeploy() *fakeDeploy {
	return &fakeDeploy{started: make(chan *Run, 100), release: make(chan struct{}), errs: make(chan error, 100)}
}

func (f *fakeDeploy) deploy(ctx context.Context, r *Run) error {
	f.mu.Lock()
	f.runs = append(f.runs, r)
	f.mu.Unlock()
	f.started <- r
	var err error
	select {
	case <-f.release:
	case <-ctx.Done():
		err = ctx.Err()
	}
	f.errs <- err
	return err
}

func (f *fakeDeploy) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.runs)
}

// waitRun waits for the next deploy to start. The bound is a hang guard,
// long enough for any machine: a deploy starts at once or never.
func (f *fakeDeploy) waitRun(t *testing.T) *Run {
	t.Helper()
	select {
	case r := <-f.started:
		return r
	case <-time.After(time.Minute):
		t.Fatal("no deploy started within a minute")
		return nil
	}
}

type fixture struct {
	srv    *Server
	http   *httptest.Server
	deploy *fakeDeploy
	dir    string
}

func newFixture(t testing.TB, edit func(*Options)) *fixture {
	t.Helper()
	f := &fixture{deploy: newFakeDeploy(), dir: t.TempDir()}
	opts := Options{
		Hooks: []Hook{
			{Name: "gh", Provider: GitHub, Secret: testSecret, Env: "prod"},
			{Name: "gitea", Provider: Gitea, Secret: testSecret, Env: "prod", Branches: []string{"main", "release/*"}},
			{Name: "gitlab", Provider: GitLab, Secret: testSecret, Env: "prod"},
			{Name: "generic", Provider: Generic, Secret: testSecret, Env: "staging", Window: time.Minute},
		},
		Deploy:   f.deploy.deploy,
		StateDir: f.dir,
		MaxBody:  64 << 10,
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = s
	f.http = httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		f.http.Close()
		close(f.deploy.release)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
		defer cancel()
		_ = s.Drain(ctx)
	})
	return f
}

// push is a GitHub-shaped push event.
func push(branch, commit, sender string) []byte {
	b, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/" + branch, "after": commit,
		"sender": map[string]any{"login": sender}, "repository": map[string]any{"full_name": "acme/infra"},
	})
	return b
}

// request builds a signed delivery for the fixture's hook of provider p.
func (f *fixture) request(t testing.TB, hook string, p Provider, id string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.http.URL+"/hooks/"+hook, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	now := time.Now()
	name, value := p.Sign(body, testSecret, now)
	req.Header.Set(name, value)
	switch p {
	case GitHub:
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", id)
	case Gitea:
		req.Header.Set("X-Gitea-Event", "push")
		req.Header.Set("X-Gitea-Delivery", id)
	case GitLab:
		req.Header.Set("X-Gitlab-Event", "Push Hook")
		req.Header.Set("X-Gitlab-Event-UUID", id)
	case Generic:
		req.Header.Set("X-Baton-Timestamp", fmt.Sprint(now.Unix()))
		req.Header.Set("X-Baton-Delivery", id)
	}
	return req
}

type reply struct {
	Status     int
	Outcome    string `json:"status"`
	RunID      string `json:"run_id"`
	Error      string `json:"error"`
	Reason     string `json:"reason"`
	DeliveryID string `json:"delivery_id"`
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("response Content-Type = %q, want application/json", ct)
	}
	var r reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("response body is not JSON: %v", err)
	}
	r.Status = resp.StatusCode
	return r
}

// entries reads the delivery log.
func entries(t *testing.T, dir string) []Entry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "deliveries.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("delivery log line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestProvidersDeploy(t *testing.T) {
	f := newFixture(t, nil)
	gitlabBody, _ := json.Marshal(map[string]any{"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": "c3", "user_username": "carol", "project": map[string]any{"path_with_namespace": "acme/infra"}})
	genericBody := []byte(`{"ref":"refs/heads/main","commit":"c4","sender":"deploy-bot"}`)
	cases := []struct {
		hook   string
		p      Provider
		body   []byte
		sender string
		commit string
		env    string
	}{
		{"gh", GitHub, push("main", "c1", "alice"), "alice", "c1", "prod"},
		{"gitea", Gitea, push("release/2", "c2", "bob"), "bob", "c2", "prod"},
		{"gitlab", GitLab, gitlabBody, "carol", "c3", "prod"},
		{"generic", Generic, genericBody, "deploy-bot", "c4", "staging"},
	}
	for i, c := range cases {
		r := do(t, f.request(t, c.hook, c.p, fmt.Sprintf("id-%d", i), c.body))
		if r.Status != http.StatusAccepted || r.RunID == "" {
			t.Fatalf("%s: got %d %+v, want 202 with a run ID", c.hook, r.Status, r)
		}
	}
	// prod: gh started a run; gitea queued one; gitlab coalesced into it.
	// staging: its own queue, so generic started at once.
	got := map[string]*Run{}
	for range 2 {
		r := f.deploy.waitRun(t)
		got[r.Deliveries[0].Hook] = r
	}
	for _, c := range []int{0, 3} { // the two that started
		c := cases[c]
		d := got[c.hook].Deliveries[0]
		if d.Sender != c.sender || d.Commit != c.commit || got[c.hook].Env != c.env || d.Branch() != "main" {
			t.Errorf("%s: delivery %+v in env %s, want sender %s commit %s env %s", c.hook, d, got[c.hook].Env, c.sender, c.commit, c.env)
		}
	}
	log := entries(t, f.dir)
	outcomes := map[string]Outcome{}
	for _, e := range log {
		outcomes[e.Hook] = e.Outcome
	}
	want := map[string]Outcome{"gh": Accepted, "gitea": Queued, "gitlab": Coalesced, "generic": Accepted}
	for k, v := range want {
		if outcomes[k] != v {
			t.Errorf("%s: outcome %q, want %q (log %+v)", k, outcomes[k], v, log)
		}
	}
	// Releasing the first prod run starts the pending one, with both
	// deliveries that made it.
	f.deploy.release <- struct{}{}
	next := f.deploy.waitRun(t)
	if len(next.Deliveries) != 2 || next.Deliveries[0].Sender != "bob" || next.Deliveries[0].Repo != "acme/infra" ||
		next.Deliveries[1].Sender != "carol" || next.Deliveries[1].Commit != "c3" || next.Deliveries[1].Repo != "acme/infra" {
		t.Errorf("pending run's deliveries: %+v, want gitea's then gitlab's", next.Deliveries)
	}
}

// TestRejections: each refused request gets its status and a JSON reason,
// starts nothing and records nothing.
func TestRejections(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Hooks = append(o.Hooks, Hook{Name: "lan", Provider: GitHub, Secret: testSecret, Env: "prod"})
	})
	body := push("main", "c1", "alice")
	big := push("main", string(bytes.Repeat([]byte("a"), 70<<10)), "alice")
	cases := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"wrong method", func() *http.Request {
			r := f.request(t, "gh", GitHub, "m", body)
			r.Method = http.MethodGet
			return r
		}, 405},
		{"form content type", func() *http.Request {
			r := f.request(t, "gh", GitHub, "ct", body)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 415},
		{"no content type", func() *http.Request {
			r := f.request(t, "gh", GitHub, "ct2", body)
			r.Header.Del("Content-Type")
			return r
		}, 415},
		{"body over the limit", func() *http.Request { return f.request(t, "gh", GitHub, "big", big) }, 413},
		{"body over the limit, chunked", func() *http.Request {
			r := f.request(t, "gh", GitHub, "big2", big)
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(big))
			return r
		}, 413},
		{"missing signature", func() *http.Request {
			r := f.request(t, "gh", GitHub, "s1", body)
			r.Header.Del("X-Hub-Signature-256")
			return r
		}, 401},
		{"signature of another body", func() *http.Request {
			r := f.request(t, "gh", GitHub, "s2", body)
			_, v := GitHub.Sign(push("main", "evil", "mallory"), testSecret, time.Now())
			r.Header.Set("X-Hub-Signature-256", v)
			return r
		}, 401},
		{"signed with another secret", func() *http.Request {
			r := f.request(t, "gh", GitHub, "s3", body)
			_, v := GitHub.Sign(body, []byte("another-secret-of-some-length"), time.Now())
			r.Header.Set("X-Hub-Signature-256", v)
			return r
		}, 401},
		{"malformed signature", func() *http.Request {
			r := f.request(t, "gh", GitHub, "s4", body)
			r.Header.Set("X-Hub-Signature-256", "sha1=abc")
			return r
		}, 401},
		{"gitea wrong signature", func() *http.Request {
			r := f.request(t, "gitea", Gitea, "s5", body)
			r.Header.Set("X-Gitea-Signature", "00"+r.Header.Get("X-Gitea-Signature")[2:])
			return r
		}, 401},
		{"gitlab wrong token", func() *http.Request {
			r := f.request(t, "gitlab", GitLab, "s6", body)
			r.Header.Set("X-Gitlab-Token", "guess")
			return r
		}, 401},
		{"generic without timestamp", func() *http.Request {
			r := f.request(t, "generic", Generic, "s7", body)
			r.Header.Del("X-Baton-Timestamp")
			return r
		}, 401},
		{"generic timestamp changed after signing", func() *http.Request {
			r := f.request(t, "generic", Generic, "s8", body)
			r.Header.Set("X-Baton-Timestamp", fmt.Sprint(time.Now().Unix()+1))
			return r
		}, 401},
		{"malformed JSON", func() *http.Request {
			return f.request(t, "gh", GitHub, "j1", []byte(`{"ref": "refs/heads/main",`))
		}, 400},
		{"JSON of the wrong shape", func() *http.Request {
			return f.request(t, "gh", GitHub, "j2", []byte(`{"ref": 42}`))
		}, 400},
		{"no delivery ID", func() *http.Request {
			r := f.request(t, "gh", GitHub, "", body)
			r.Header.Del("X-GitHub-Delivery")
			return r
		}, 400},
		{"stale generic delivery", func() *http.Request {
			return signedAt(t, f, time.Now().Add(-2*time.Minute), "old", body)
		}, 409},
		{"generic delivery from the future", func() *http.Request {
			return signedAt(t, f, time.Now().Add(2*time.Minute), "future", body)
		}, 409},
		{"unknown hook", func() *http.Request { return f.request(t, "nope", GitHub, "u", body) }, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, c.req())
			if r.Status != c.status || r.Error == "" {
				t.Errorf("got %d %+v, want %d with an error", r.Status, r, c.status)
			}
			if r.Status == 405 && r.Error == "" {
				t.Error("405 without a reason")
			}
		})
	}
	if n := f.deploy.count(); n != 0 {
		t.Errorf("%d deploys started by refused requests, want 0", n)
	}
	if log := entries(t, f.dir); len(log) != 0 {
		t.Errorf("refused requests were recorded as deliveries: %+v", log)
	}
}

func signedAt(t *testing.T, f *fixture, at time.Time, id string, body []byte) *http.Request {
	req := f.request(t, "generic", Generic, id, body)
	name, value := Generic.Sign(body, testSecret, at)
	req.Header.Set(name, value)
	req.Header.Set("X-Baton-Timestamp", fmt.Sprint(at.Unix()))
	return req
}

func TestAllowListAndProxies(t *testing.T) {
	body := push("main", "c1", "alice")
	t.Run("not allowed", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.Allow = mustPrefixes(t, "10.0.0.0/8") })
		if r := do(t, f.request(t, "gh", GitHub, "a1", body)); r.Status != http.StatusForbidden {
			t.Errorf("from loopback with allow 10/8: %d %+v, want 403", r.Status, r)
		}
		if f.deploy.count() != 0 {
			t.Error("a refused request started a deploy")
		}
	})
	t.Run("through a trusted proxy", func(t *testing.T) {
		f := newFixture(t, func(o *Options) {
			o.Allow = mustPrefixes(t, "192.0.2.0/24")
			o.TrustedProxies = mustPrefixes(t, "127.0.0.1/32")
		})
		req := f.request(t, "gh", GitHub, "p1", body)
		req.Header.Set("X-Forwarded-For", "203.0.113.9, 192.0.2.7")
		if r := do(t, req); r.Status != http.StatusAccepted {
			t.Errorf("client 192.0.2.7 via trusted proxy: %d %+v, want 202", r.Status, r)
		}
		req = f.request(t, "gh", GitHub, "p2", body)
		req.Header.Set("X-Forwarded-For", "192.0.2.7, 203.0.113.9") // the proxy saw 203.0.113.9
		if r := do(t, req); r.Status != http.StatusForbidden {
			t.Errorf("client 203.0.113.9 spoofing an allowed address to the left: %d, want 403", r.Status)
		}
		if e := entries(t, f.dir); len(e) != 1 || e[0].Remote != "192.0.2.7" {
			t.Errorf("delivery log: %+v, want one delivery from 192.0.2.7", e)
		}
	})
	t.Run("untrusted peer's header ignored", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.Allow = mustPrefixes(t, "192.0.2.0/24") })
		req := f.request(t, "gh", GitHub, "p3", body)
		req.Header.Set("X-Forwarded-For", "192.0.2.7")
		if r := do(t, req); r.Status != http.StatusForbidden {
			t.Errorf("X-Forwarded-For from an untrusted peer was believed: %d", r.Status)
		}
	})
}

func mustPrefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	p, err := prefixes("test", s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIgnored(t *testing.T) {
	f := newFixture(t, nil)
	ping := f.request(t, "gh", GitHub, "ping-1", []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`))
	ping.Header.Set("X-GitHub-Event", "ping")
	issue := f.request(t, "gh", GitHub, "issue-1", []byte(`{"action":"opened"}`))
	issue.Header.Set("X-GitHub-Event", "issues")
	deleted, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": "0000000000000000000000000000000000000000", "deleted": true})
	tag := push("x", "c1", "alice")
	tag = bytes.Replace(tag, []byte("refs/heads/x"), []byte("refs/tags/v1.0"), 1)
	cases := []struct {
		name   string
		req    *http.Request
		reason string
	}{
		{"ping", ping, "ping"},
		{"other event", issue, `event "issues"`},
		{"other branch", f.request(t, "gh", GitHub, "b1", push("feature/x", "c1", "alice")), `branch "feature/x"`},
		{"branch deleted", f.request(t, "gh", GitHub, "d1", deleted), "deleted"},
		{"tag", f.request(t, "gh", GitHub, "t1", tag), "not a branch"},
	}
	for _, c := range cases {
		r := do(t, c.req)
		if r.Status != http.StatusAccepted || r.Outcome != "ignored" || !bytes.Contains([]byte(r.Reason), []byte(c.reason)) || r.RunID != "" {
			t.Errorf("%s: %d %+v, want 202 ignored with a reason containing %q", c.name, r.Status, r, c.reason)
		}
	}
	if n := f.deploy.count(); n != 0 {
		t.Errorf("ignored deliveries started %d deploys", n)
	}
	if e := entries(t, f.dir); len(e) != len(cases) {
		t.Errorf("%d deliveries recorded, want %d", len(e), len(cases))
	}
}

// A valid delivery of an event a hook does not deploy is ignored whatever
// its body's shape: only an event that deploys has its payload read.
func TestIgnoredWhateverTheShape(t *testing.T) {
	f := newFixture(t, nil)
	// GitHub's status event: commit is an object where a push has a string.
	status := f.request(t, "gh", GitHub, "status-1", []byte(`{"id":1,"sha":"abc","state":"success","commit":{"sha":"abc","commit":{"message":"m"}},"sender":{"login":"alice"},"repository":{"full_name":"acme/infra"}}`))
	status.Header.Set("X-GitHub-Event", "status")
	oddRef := f.request(t, "gh", GitHub, "check-1", []byte(`{"ref":{"name":"main"},"after":7,"deleted":"no","sender":"bot","repository":[]}`))
	oddRef.Header.Set("X-GitHub-Event", "check_run")
	notJSON := f.request(t, "gh", GitHub, "meta-1", []byte(`not json at all`))
	notJSON.Header.Set("X-GitHub-Event", "meta")
	giteaRelease := f.request(t, "gitea", Gitea, "rel-1", []byte(`{"action":"published","release":{"tag_name":"v1"},"sender":7,"ref":["x"]}`))
	giteaRelease.Header.Set("X-Gitea-Event", "release")
	gitlabPipeline := f.request(t, "gitlab", GitLab, "pipe-1", []byte(`{"object_kind":"pipeline","ref":{"a":1},"checkout_sha":false,"project":"g/p","user_username":["x"]}`))
	gitlabPipeline.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	gitlabNoHeader := f.request(t, "gitlab", GitLab, "note-1", []byte(`{"object_kind":"note","user_username":{"name":"x"}}`))
	gitlabNoHeader.Header.Del("X-Gitlab-Event")
	genericBuild := f.request(t, "generic", Generic, "build-1", []byte(`{"event":"build","commit":{"sha":"c"},"sender":["a"],"ref":1}`))
	genericHeader := f.request(t, "generic", Generic, "build-2", []byte(`[1, 2, 3]`))
	genericHeader.Header.Set("X-Baton-Event", "nightly")
	cases := []struct {
		name   string
		req    *http.Request
		reason string
	}{
		{"github status", status, `event "status"`},
		{"github odd shapes", oddRef, `event "check_run"`},
		{"github not JSON", notJSON, `event "meta"`},
		{"gitea release", giteaRelease, `event "release"`},
		{"gitlab pipeline", gitlabPipeline, `event "pipeline"`},
		{"gitlab event in body", gitlabNoHeader, `event "note"`},
		{"generic event in body", genericBuild, `event "build"`},
		{"generic event in header", genericHeader, `event "nightly"`},
	}
	for _, c := range cases {
		r := do(t, c.req)
		if r.Status != http.StatusAccepted || r.Outcome != "ignored" || !strings.Contains(r.Reason, c.reason) {
			t.Errorf("%s: %d %+v, want 202 ignored with a reason containing %q", c.name, r.Status, r, c.reason)
		}
	}
	if n := f.deploy.count(); n != 0 {
		t.Errorf("ignored deliveries started %d deploys", n)
	}
	// A push with a malformed payload is still refused.
	bad := do(t, f.request(t, "gh", GitHub, "push-bad", []byte(`{"ref":{"name":"main"}}`)))
	if bad.Status != http.StatusBadRequest || !strings.Contains(bad.Error, "push event is not the JSON github sends") {
		t.Errorf("malformed push: %d %+v, want 400", bad.Status, bad)
	}
	// and, refused, it is not taken for a replay when sent again fixed.
	if r := do(t, f.request(t, "gh", GitHub, "push-bad", push("main", "c9", "alice"))); r.Status != http.StatusAccepted || r.Outcome == "ignored" {
		t.Errorf("fixed push: %d %+v, want it accepted", r.Status, r)
	}
}

// TestReplay: the same delivery twice is refused, also after a restart.
func TestReplay(t *testing.T) {
	f := newFixture(t, nil)
	body := push("main", "c1", "alice")
	if r := do(t, f.request(t, "gh", GitHub, "dup-1", body)); r.Status != http.StatusAccepted {
		t.Fatalf("first delivery: %d %+v", r.Status, r)
	}
	if r := do(t, f.request(t, "gh", GitHub, "dup-1", body)); r.Status != http.StatusConflict {
		t.Fatalf("replay: %d %+v, want 409", r.Status, r)
	}
	f.deploy.waitRun(t)
	// The generic provider without an ID: the signature is the ID.
	gen := func() *http.Request {
		r := signedAt(t, f, time.Unix(time.Now().Unix(), 0), "", body)
		r.Header.Del("X-Baton-Delivery")
		return r
	}
	first, replay := gen(), gen()
	if r := do(t, first); r.Status != http.StatusAccepted {
		t.Fatalf("generic delivery: %d %+v", r.Status, r)
	}
	if r := do(t, replay); r.Status != http.StatusConflict {
		t.Fatalf("generic replay within the window: %d %+v, want 409", r.Status, r)
	}
	if n := len(entries(t, f.dir)); n != 2 {
		t.Errorf("%d deliveries recorded, want 2 (replays are not)", n)
	}

	// A new server on the same state remembers.
	f.deploy.release <- struct{}{}
	f.deploy.release <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
	defer cancel()
	if err := f.srv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	g := newFixture(t, func(o *Options) { o.StateDir = f.dir })
	if r := do(t, g.request(t, "gh", GitHub, "dup-1", body)); r.Status != http.StatusConflict {
		t.Errorf("replay after a restart: %d %+v, want 409", r.Status, r)
	}
}

// TestConcurrentDeliveriesCoalesce is the issue's case: 200 valid
// deliveries at once make one running deploy, one pending, and 200
// recorded deliveries.
func TestConcurrentDeliveriesCoalesce(t *testing.T) {
	f := newFixture(t, nil)
	const n = 200
	var wg sync.WaitGroup
	var accepted, queued, coalesced, other atomic.Int32
	runIDs := sync.Map{}
	for i := range n {
		req := f.request(t, "gh", GitHub, fmt.Sprintf("burst-%03d", i), push("main", fmt.Sprintf("c%d", i), "alice"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				other.Add(1)
				return
			}
			defer resp.Body.Close()
			var r reply
			_ = json.NewDecoder(resp.Body).Decode(&r)
			runIDs.Store(r.RunID, true)
			switch {
			case resp.StatusCode != 202:
				other.Add(1)
			case r.Outcome == "accepted":
				accepted.Add(1)
			case r.Outcome == "queued":
				queued.Add(1)
			case r.Outcome == "coalesced":
				coalesced.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != 1 || queued.Load() != 1 || coalesced.Load() != n-2 || other.Load() != 0 {
		t.Errorf("accepted %d queued %d coalesced %d other %d; want 1, 1, %d, 0", accepted.Load(), queued.Load(), coalesced.Load(), other.Load(), n-2)
	}
	ids := 0
	runIDs.Range(func(any, any) bool { ids++; return true })
	if ids != 2 {
		t.Errorf("responses named %d run IDs, want 2", ids)
	}
	running, pending, waiting := f.srv.queues["prod"].state()
	if running == "" || pending == "" || waiting != n-1 {
		t.Errorf("queue: running %q pending %q with %d deliveries; want both and %d", running, pending, waiting, n-1)
	}
	if c := f.deploy.count(); c != 1 {
		t.Errorf("%d deploys started, want 1 running", c)
	}
	log := entries(t, f.dir)
	byRun := map[string]int{}
	for _, e := range log {
		byRun[e.RunID]++
	}
	if len(log) != n || byRun[running] != 1 || byRun[pending] != n-1 {
		t.Errorf("delivery log: %d entries, %d for the running run and %d for the pending; want %d, 1, %d", len(log), byRun[running], byRun[pending], n, n-1)
	}
	f.deploy.waitRun(t)
	f.deploy.release <- struct{}{}
	if r := f.deploy.waitRun(t); r.ID != pending || len(r.Deliveries) != n-1 {
		t.Errorf("second run %s with %d deliveries, want %s with %d", r.ID, len(r.Deliveries), pending, n-1)
	}
}

func TestDeployTimeout(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	if r := do(t, f.request(t, "gh", GitHub, "to-1", push("main", "c1", "alice"))); r.Status != http.StatusAccepted {
		t.Fatalf("%d %+v", r.Status, r)
	}
	f.deploy.waitRun(t)
	select {
	case err := <-f.deploy.errs:
		if err != context.DeadlineExceeded {
			t.Errorf("deploy ended with %v, want its timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the deploy's timeout did not end it")
	}
}

// TestServeStopsCleanly: on the context's end Serve stops taking
// requests, records the pending run's deliveries as dropped, gives the
// running deploy its grace and then cancels it; a dropped delivery may be
// sent again to the next server.
func TestServeStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	fd := newFakeDeploy()
	s, err := New(Options{Hooks: []Hook{{Name: "gh", Provider: GitHub, Secret: testSecret, Env: "prod"}}, Deploy: fd.deploy, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		err := s.Serve(ctx, ln)
		grace, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		served <- errors.Join(err, s.Drain(grace))
	}()
	f := &fixture{srv: s, http: &httptest.Server{URL: "http://" + ln.Addr().String()}, deploy: fd, dir: dir}
	body := push("main", "c1", "alice")
	if r := do(t, f.request(t, "gh", GitHub, "run-1", body)); r.Outcome != "accepted" {
		t.Fatalf("first: %+v", r)
	}
	if r := do(t, f.request(t, "gh", GitHub, "pend-1", body)); r.Outcome != "queued" {
		t.Fatalf("second: %+v", r)
	}
	fd.waitRun(t)
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return within 15s of its context ending")
	}
	if err := <-fd.errs; err != context.Canceled {
		t.Errorf("the running deploy ended with %v, want it cancelled after the grace", err)
	}
	if n := fd.count(); n != 1 {
		t.Errorf("%d deploys ran, want 1: the pending one must not start while stopping", n)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("the server still answers after Serve returned")
	}
	var dropped []string
	for _, e := range entries(t, dir) {
		if e.Outcome == Dropped {
			dropped = append(dropped, e.ID)
		}
	}
	if len(dropped) != 1 || dropped[0] != "pend-1" {
		t.Errorf("dropped deliveries %v, want [pend-1]", dropped)
	}
	// The next server takes the dropped delivery again, not the one that ran.
	g := newFixture(t, func(o *Options) { o.StateDir = dir; o.Hooks = o.Hooks[:1] })
	if r := do(t, g.request(t, "gh", GitHub, "run-1", body)); r.Status != http.StatusConflict {
		t.Errorf("redelivery of a run that ran: %d, want 409", r.Status)
	}
	if r := do(t, g.request(t, "gh", GitHub, "pend-1", body)); r.Outcome != "accepted" {
		t.Errorf("redelivery of a dropped delivery: %+v, want accepted", r)
	}
}

func TestOneServerPerStateDir(t *testing.T) {
	f := newFixture(t, nil)
	_, err := New(Options{Hooks: []Hook{{Name: "gh", Provider: GitHub, Secret: testSecret, Env: "prod"}}, Deploy: f.deploy.deploy, StateDir: f.dir})
	if err == nil || !strings.Contains(err.Error(), "in use by another baton serve") {
		t.Errorf("a second server on the same state: %v", err)
	}
}

func TestRunsAndHealth(t *testing.T) {
	led, err := ledger.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &ledger.Record{RunID: "20260101T000000-abcd", Env: "prod", Target: "deploy", Trigger: "webhook", Sender: "alice", DeliveryID: "d1", Start: time.Now(), Status: "succeeded", End: time.Now()}
	if err := led.Begin(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) {
		o.History = func(env string) (ledger.Ledger, error) {
			if env != "prod" {
				return ledger.Open(t.TempDir())
			}
			return led, nil
		}
	})
	get := func(path string, v any) int {
		t.Helper()
		resp, err := http.Get(f.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode
	}
	var list struct{ Runs []ledger.Record }
	if code := get("/runs", &list); code != 200 || len(list.Runs) != 1 || list.Runs[0].Sender != "alice" {
		t.Errorf("/runs: %d %+v", code, list)
	}
	var one ledger.Record
	if code := get("/runs/"+rec.RunID, &one); code != 200 || one.DeliveryID != "d1" {
		t.Errorf("/runs/<id>: %d %+v", code, one)
	}
	var e reply
	if code := get("/runs/nope", &e); code != 404 || e.Error == "" {
		t.Errorf("/runs/nope: %d %+v", code, e)
	}
	if code := get("/runs?limit=0", &e); code != 400 {
		t.Errorf("/runs?limit=0: %d", code)
	}
	do(t, f.request(t, "gh", GitHub, "h1", push("main", "c", "a")))
	do(t, f.request(t, "gh", GitHub, "h2", push("main", "c", "a")))
	var health struct {
		Status string
		Queues map[string]struct {
			Running, Pending  string
			PendingDeliveries int `json:"pending_deliveries"`
		}
	}
	if code := get("/healthz", &health); code != 200 || health.Status != "ok" || health.Queues["prod"].Running == "" || health.Queues["prod"].PendingDeliveries != 1 {
		t.Errorf("/healthz: %d %+v", code, health)
	}
}
