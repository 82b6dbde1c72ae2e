package ui

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// now is the clock of the views under test: a minute into the running
// deploy of the standard fixture.
var now = t0.Add(5*time.Hour + time.Minute)

func newView(t testing.TB, f *fixture, change func(*Options)) *Handler {
	t.Helper()
	opts := Options{Envs: f.list, Secrets: pipeline.NewRedactor(secretPlain, secretHTML), Now: func() time.Time { return now },
		CommitURL: "https://git.example/baton/commit/{commit}"}
	if change != nil {
		change(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// get requests path and returns the status, the body and the headers.
func get(t testing.TB, h http.Handler, method, path string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body), rec.Result().Header
}

func mustGet(t testing.TB, h http.Handler, path string) string {
	t.Helper()
	code, body, _ := get(t, h, http.MethodGet, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200:\n%s", path, code, body)
	}
	return body
}

// section is the part of the environments page about env.
func section(t *testing.T, body, env string) string {
	t.Helper()
	i := strings.Index(body, `id="env-`+env+`"`)
	if i < 0 {
		t.Fatalf("no section for environment %s in:\n%s", env, body)
	}
	s := body[i:]
	if j := strings.Index(s, "</section>"); j >= 0 {
		s = s[:j]
	}
	return s
}

func wantAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: missing %q", what, w)
		}
	}
}

func wantNone(t *testing.T, what, got string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(got, w) {
			t.Errorf("%s: has %q, want it not there", what, w)
		}
	}
}

func TestEnvironments(t *testing.T) {
	f, done := standard(t)
	defer done()
	h := newView(t, f, func(o *Options) {
		o.Queue = func(env string) (QueueState, bool) {
			if env != "prod" {
				return QueueState{}, false
			}
			return QueueState{Running: "20260301T150000-9999", Pending: "20260301T150100-7777", Waiting: 3}, true
		}
	})
	body := mustGet(t, h, "/")

	prod := section(t, body, "prod")
	wantAll(t, "prod", prod,
		"deployed", "Current release",
		"20260301T120000-cccc", // the rollback is the current release
		">8025<", "0123456789ab", "https://git.example/baton/commit/0123456789abcdef0123456789abcdef01234567",
		"alice@", "rollback", "rolled back to", "20260301T100000-aaaa",
		"Last validate", "20260301T121000-dddd", "3 hosts answer SSH",
		"Locked by run", "20260301T150000-9999",
		"Webhook queue: running", "pending", "for 3 deliveries", "2 coalesced",
		"Latest run", "s-running")
	wantNone(t, "prod", prod, "never deployed", "destroyed")

	staging := section(t, body, "staging")
	wantAll(t, "staging", staging, "s-destroyed", "Destroyed by run", "20260301T093000-d0d0", "Last release before the destroy", "7001", "Not locked")
	dev := section(t, body, "dev")
	wantAll(t, "dev", dev, "never deployed", "No release yet", "Never validated", "s-failed", "20260301T080000-dead")
	empty := section(t, body, "empty")
	wantAll(t, "empty", empty, "never deployed", "0 runs", "No release yet")
	wantNone(t, "empty", empty, "Latest run", "Webhook queue")
}

func TestHistory(t *testing.T) {
	f, done := standard(t)
	defer done()
	h := newView(t, f, func(o *Options) { o.PageSize = 4 })

	body := mustGet(t, h, "/history")
	ids := regexp.MustCompile(`href="/envs/[a-z]+/runs/([0-9T]+-[0-9a-z]+)"`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, m := range ids {
		got = append(got, m[1])
	}
	want := []string{"20260301T150000-9999", "20260301T141000-1eak", "20260301T140000-ffff", "20260301T130000-eeee"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("page 1, newest first: got %v, want %v", got, want)
	}
	wantAll(t, "page 1", body, "11 runs", "page 1 of 3", `href="/history?page=2"`)
	wantNone(t, "page 1", body, "newer")

	last := mustGet(t, h, "/history?page=3")
	wantAll(t, "page 3", last, "20260301T080000-dead", "page 3 of 3", "newer")
	wantNone(t, "page 3", last, "older →")

	for _, tc := range []struct {
		query      string
		want, none []string
	}{
		{"env=staging", []string{"2 runs", "20260301T093000-d0d0", "20260301T090000-5a5a"}, []string{"-aaaa"}},
		{"env=prod&result=failed", []string{"2 runs", "-eeee", "-1eak"}, []string{"-ffff", "-aaaa"}},
		{"target=rollback", []string{"1 run", "-cccc"}, []string{"-bbbb"}},
		{"result=cancelled", []string{"1 run", "-ffff"}, nil},
		{"user=nobody", []string{"0 runs", "No run matches"}, nil},
	} {
		body := mustGet(t, h, "/history?"+tc.query)
		wantAll(t, tc.query, body, tc.want...)
		wantNone(t, tc.query, body, tc.none...)
	}
	if code, body, _ := get(t, h, http.MethodGet, "/history?page=zero"); code != http.StatusBadRequest || !strings.Contains(body, "want a page number") {
		t.Errorf("page=zero: %d %q, want 400 saying what a page is", code, body)
	}
}

func TestRunPages(t *testing.T) {
	f, done := standard(t)
	defer done()
	h := newView(t, f, nil)
	for _, tc := range []struct {
		name, id   string
		want, none []string
	}{
		{"succeeded", "20260301T110000-bbbb",
			[]string{"s-succeeded", "8026", ">packer<", ">terraform<", ">wait<", ">ansible<", `class="bar b-succeeded"`,
				"<svg", "sha256 " + strings.Repeat("0", 40), "from stage", "3 hosts answer SSH", "f1e2d3c4b5a6",
				"ok=12 changed=3", "Apply complete!", "/envs/prod/runs/20260301T110000-bbbb/files/terraform/apply.stdout.log"},
			[]string{`http-equiv="refresh"`, "still going"}},
		{"failed", "20260301T130000-eeee",
			[]string{"s-failed", "stage ansible: exit status 2", "TASK [app : deploy] failed on web-2", "b-failed"}, []string{`http-equiv="refresh"`}},
		{"cancelled", "20260301T140000-ffff",
			[]string{"s-cancelled", "context canceled", "b-cancelled"}, []string{`http-equiv="refresh"`}},
		{"rollback", "20260301T120000-cccc",
			[]string{"rolled back to", `href="/envs/prod/runs/20260301T100000-aaaa"`, "8025"}, nil},
		{"running", "20260301T150000-9999",
			[]string{`<meta http-equiv="refresh" content="5">`, "still going", "s-running", "Read from log.jsonl",
				"webhook:carol (&#43;2 coalesced)", "d-1", "d-2", "8029", "b-running", "aws_instance.web[0]: Creating..."},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mustGet(t, h, "/envs/prod/runs/"+tc.id)
			wantAll(t, tc.id, body, tc.want...)
			wantNone(t, tc.id, body, tc.none...)
		})
	}

	// The running run's stages, replayed from its events: packer done,
	// terraform going, the others waiting.
	body := mustGet(t, h, "/envs/prod/runs/20260301T150000-9999")
	for stage, status := range map[string]string{"packer": "succeeded", "terraform": "running", "wait": "pending", "ansible": "pending"} {
		re := regexp.MustCompile(`id="stage-` + stage + `">\s*<td><b>` + stage + `</b></td>\s*<td><span class="badge s-` + status + `"`)
		if !re.MatchString(body) {
			t.Errorf("running run: stage %s is not shown %s", stage, status)
		}
	}

	// Output: the last line first.
	body = mustGet(t, h, "/envs/prod/runs/20260301T100000-aaaa")
	if i, j := strings.Index(body, "PLAY RECAP"), strings.Index(body, "PLAY [all]"); i < 0 || j < 0 || i > j {
		t.Errorf("ansible output: PLAY RECAP at %d, PLAY [all] at %d: want the last line first", i, j)
	}
	whole := mustGet(t, h, "/envs/prod/runs/20260301T100000-aaaa/files/ansible/ansible.stdout.log")
	if whole != "PLAY [all]\nTASK [app : deploy]\nPLAY RECAP\n" {
		t.Errorf("whole file: got %q", whole)
	}
}

func TestNotFound(t *testing.T) {
	f, done := standard(t)
	defer done()
	h := newView(t, f, nil)
	for _, path := range []string{
		"/nope",
		"/envs/nope/runs/20260301T100000-aaaa",
		"/envs/prod/runs/20260301T100000-zzzz",
		"/envs/prod/runs/20260301T100000-aaaa/files/ansible/missing.log",
		"/envs/prod/runs/20260301T100000-aaaa/files/..%2f..%2fledger/runs.jsonl",
		"/envs/prod/runs/20260301T100000-aaaa/files/ansible/..%2f..%2f..%2fledger%2fruns.jsonl",
		"/envs/prod/runs/20260301T100000-aaaa/files/..%2f..%2fledger/prod.lock",
	} {
		code, body, _ := get(t, h, http.MethodGet, path)
		if code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
		if strings.Contains(body, `"event":"finish"`) {
			t.Errorf("GET %s served the ledger", path)
		}
	}
}

func TestReadOnlyAndHeaders(t *testing.T) {
	f, done := standard(t)
	defer done()
	h := newView(t, f, nil)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, "PROPFIND"} {
		code, _, hdr := get(t, h, m, "/")
		if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /: %d Allow %q, want 405 Allow \"GET, HEAD\"", m, code, hdr.Get("Allow"))
		}
	}
	for _, path := range []string{"/", "/history", "/envs/prod/runs/20260301T100000-aaaa", "/ui.css", "/nope",
		"/envs/prod/runs/20260301T100000-aaaa/files/ansible/ansible.stdout.log"} {
		code, body, hdr := get(t, h, http.MethodHead, path)
		if body != "" {
			t.Errorf("HEAD %s: %d bytes of body, want none", path, len(body))
		}
		_ = code
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
		} {
			if got := hdr.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
	// No page needs a script or an inline style, which the policy blocks.
	for _, path := range []string{"/", "/history", "/envs/prod/runs/20260301T150000-9999"} {
		body := mustGet(t, h, path)
		wantNone(t, path, body, "<script", "style=", "<style", "javascript:")
	}
}

// TestNoSecret: the fixtures wrote the secrets unmasked into a record,
// its handoffs and a tool's output; no page shows them, in any form.
func TestNoSecret(t *testing.T) {
	f, done := standard(t)
	defer done()
	h := newView(t, f, nil)
	paths := []string{"/", "/history", "/history?user=" + secretPlain, "/history?env=prod&result=failed",
		"/envs/prod/runs/" + secretPlain, "/" + secretPlain}
	for _, env := range f.envs {
		recs, _, _ := env.Ledger.List(context.Background())
		for _, r := range recs {
			paths = append(paths, runPath(env.Name, r.RunID))
		}
	}
	body := mustGet(t, h, "/envs/prod/runs/20260301T141000-1eak")
	for _, m := range regexp.MustCompile(`href="(/envs/[^"]+/files/[^"]+)"`).FindAllStringSubmatch(body, -1) {
		paths = append(paths, m[1])
	}
	if len(paths) < 20 {
		t.Fatalf("only %d pages to look at: the fixture or the links changed", len(paths))
	}
	forms := []string{secretPlain, secretHTML, template.HTMLEscapeString(secretHTML), "hunter2", "quoted'secret", "quoted&#39;secret"}
	for _, p := range paths {
		_, body, _ := get(t, h, http.MethodGet, p)
		wantNone(t, p, body, forms...)
	}
	wantAll(t, "the leaky run", body, "***", "APP_TOKEN=***")
}

// TestInterrupted: a run whose process dies reads as interrupted on the
// next page, though its ledger file does not change.
func TestInterrupted(t *testing.T) {
	f := newFixture(t)
	env := f.env(t, "prod")
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep(1) to stand for a deploy's process:", err)
	}
	defer cmd.Process.Kill()
	f.add(t, env, run{rec: ledger.Record{RunID: "20260301T100000-abcd", Target: "deploy", PID: cmd.Process.Pid, Start: t0, Status: ledger.StatusRunning}})
	h := newView(t, f, nil)
	wantAll(t, "alive", mustGet(t, h, "/history"), "s-running")
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	body := mustGet(t, h, "/history")
	wantAll(t, "killed", body, "s-interrupted")
	wantNone(t, "killed", body, "s-running")
	wantNone(t, "killed", mustGet(t, h, "/envs/prod/runs/20260301T100000-abcd"), `http-equiv="refresh"`)
}

// TestReadAgain: a run recorded after the view read the history shows.
func TestReadAgain(t *testing.T) {
	f := newFixture(t)
	env := f.env(t, "prod")
	h := newView(t, f, nil)
	wantAll(t, "before", mustGet(t, h, "/history"), "0 runs")
	f.add(t, env, deploy("20260301T100000-aaaa", t0, "8025", pipeline.StatusSucceeded))
	wantAll(t, "after", mustGet(t, h, "/history"), "1 run", "20260301T100000-aaaa")
	wantAll(t, "after", mustGet(t, h, "/"), "8025", "deployed")
}

// counting is a ledger that is not a file and counts its reads.
type counting struct {
	ledger.Ledger
	lists int
}

func (c *counting) List(ctx context.Context) ([]*ledger.Record, []ledger.Problem, error) {
	c.lists++
	return c.Ledger.List(ctx)
}

// TestSharedLedgerKept: a ledger that cannot say it changed is read once
// per Reload, not once per page.
func TestSharedLedgerKept(t *testing.T) {
	f := newFixture(t)
	env := f.env(t, "prod")
	f.add(t, env, deploy("20260301T100000-aaaa", t0, "8025", pipeline.StatusSucceeded))
	c := &counting{Ledger: env.Ledger}
	env.Ledger = c
	clock := now
	h := newView(t, f, func(o *Options) { o.Now = func() time.Time { return clock }; o.Reload = time.Minute })
	for range 5 {
		mustGet(t, h, "/")
		mustGet(t, h, "/history")
		mustGet(t, h, "/envs/prod/runs/20260301T100000-aaaa")
	}
	if c.lists != 1 {
		t.Errorf("15 pages read the history %d times, want once", c.lists)
	}
	clock = clock.Add(time.Minute)
	mustGet(t, h, "/history")
	if c.lists != 2 {
		t.Errorf("after Reload: %d reads, want 2", c.lists)
	}
}

func TestDamagedHistory(t *testing.T) {
	f := newFixture(t)
	env := f.env(t, "prod")
	f.add(t, env, deploy("20260301T100000-aaaa", t0, "8025", pipeline.StatusSucceeded))
	fh, err := os.OpenFile(env.Ledger.(*ledger.File).Dir+"/runs.jsonl", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fh.WriteString(`{"event":"finish","record":{"run_id":"x"},"sha256":"00"}` + "\n")
	fh.Close()
	h := newView(t, f, nil)
	wantAll(t, "envs", mustGet(t, h, "/"), "Damaged history line", "checksum mismatch", "8025")
	wantAll(t, "history", mustGet(t, h, "/history"), "checksum mismatch", "20260301T100000-aaaa")
}

// TestLongHistory: 10,000 runs, paged.
func TestLongHistory(t *testing.T) {
	f := newFixture(t)
	env := f.env(t, "prod")
	many(t, env, 10000)
	h := newView(t, f, nil)
	first := mustGet(t, h, "/history")
	wantAll(t, "page 1", first, "10000 runs", "page 1 of 200", "2025009999-270f")
	if n := strings.Count(first, `<td class="nowrap"><a class="mono" href="/envs/`); n != 50 {
		t.Errorf("page 1 has %d rows, want 50", n)
	}
	last := mustGet(t, h, "/history?page=200")
	wantAll(t, "page 200", last, "2025000000-0000", "showing 9951–10000")
	beyond := mustGet(t, h, "/history?page=201")
	wantAll(t, "page 201", beyond, "No run matches", "← newer")
	// Run i failed when i%10 == 0 and is bob's when i%3 == 1: i ≡ 10
	// (mod 30), 333 runs.
	bob := mustGet(t, h, "/history?user=bob&result=failed")
	wantAll(t, "bob's failures", bob, "333 runs")
	wantAll(t, "envs", mustGet(t, h, "/"), "10000 runs", "2025009999-270f")
}

func TestNewNeedsEnvs(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "Envs") {
		t.Errorf("New without Envs: %v, want an error naming Envs", err)
	}
}
