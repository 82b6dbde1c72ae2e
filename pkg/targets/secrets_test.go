package targets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
)

// endpoint is a notification receiver that refuses the first failures
// requests with 503 and keeps the bodies it accepts.
type endpoint struct {
	mu       sync.Mutex
	requests int
	failures int
	accepted [][]byte
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests++
	if e.requests <= e.failures {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	e.accepted = append(e.accepted, body)
}

func (e *endpoint) get() (int, [][]byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests, slices.Clone(e.accepted)
}

// The main job with its secrets from a wrapper and from the environment,
// and a notification endpoint that fails twice. The wrapper's token
// reaches the hosts; every tool's output shows it, masked; no file baton
// wrote and no notification holds either secret; the endpoint gets
// exactly one message per run.
func TestSecretsAndNotificationsE2E(t *testing.T) {
	p, out := labProject(t)
	t.Setenv("BATON_HOSTS", "1")
	ctx := context.Background()
	stamp := fmt.Sprint(time.Now().UnixNano())
	token, password := "tok-"+stamp, "pw-"+stamp

	// A chatty wrapper, as secrets managers can be: it prints what it
	// gives on every tool's stderr, and refuses to run the tool named in
	// REFUSE, printing the token again.
	wrapper := testlab.WriteScript(t, t.TempDir(), "secrets wrapper", `export APP_TOKEN='`+token+`'
echo "wrapper: APP_TOKEN=$APP_TOKEN DB_PASSWORD=$DB_PASSWORD" >&2
case "$1" in *"${REFUSE:-none}") echo "refusing $1 with token $APP_TOKEN" >&2; exit 3;; esac
exec "$@"
`)
	t.Setenv("BATON_WRAPPER", `'`+wrapper+`'`)
	t.Setenv("DB_PASSWORD", password)
	t.Setenv("BATON_SECRETS", "DB_PASSWORD")
	t.Setenv("REFUSE", "")

	ep := &endpoint{failures: 2}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	t.Setenv("BATON_NOTIFY_WEBHOOK_URL", srv.URL+"/hooks/"+stamp)

	if err := Deploy(ctx); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	hostDirs, _ := filepath.Glob(filepath.Join(labDir(p), "hosts", "*"))
	if len(hostDirs) != 1 {
		t.Fatalf("hosts: %q, want one", hostDirs)
	}
	data, err := os.ReadFile(filepath.Join(hostDirs[0], "root", "etc", "app", "token"))
	if strings.TrimSpace(string(data)) != token {
		t.Errorf("the host's token = %q, %v; want the wrapper's", data, err)
	}
	if !strings.Contains(out.String(), "wrapper: APP_TOKEN=*** DB_PASSWORD=***") {
		t.Errorf("the wrapper's line, masked, is not on the console: did the tools run under it?\n%s", out)
	}
	requests, accepted := ep.get()
	if requests != 3 || len(accepted) != 1 {
		t.Fatalf("the endpoint got %d requests and accepted %d, want 3 and 1 (two refused, then one message)", requests, len(accepted))
	}
	led, _ := p.Ledger()
	recs, _, err := led.List(context.Background())
	if err != nil || len(recs) == 0 {
		t.Fatal(err)
	}
	var doc struct {
		Event string `json:"event"`
		RunID string `json:"run_id"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(accepted[0], &doc); err != nil || doc.Event != "success" || doc.RunID != recs[0].RunID {
		t.Errorf("notification = %s (%v), want the success of run %s", accepted[0], err, recs[0].RunID)
	}

	// A failing run: the tool's error holds the token, masked everywhere.
	t.Setenv("REFUSE", "ansible-playbook")
	mark := len(out.String())
	err = Deploy(ctx)
	if err == nil || !strings.Contains(err.Error(), "refusing") || !strings.Contains(err.Error(), "with token ***") {
		t.Fatalf("deploy with ansible-playbook refused: %v, want the tool's error, masked\n%s", err, out.String()[mark:])
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, accepted = ep.get(); len(accepted) < 2 && time.Now().Before(deadline); _, accepted = ep.get() {
		time.Sleep(50 * time.Millisecond)
	}
	if len(accepted) != 2 {
		t.Fatalf("the endpoint accepted %d messages, want 2", len(accepted))
	}
	if err := json.Unmarshal(accepted[1], &doc); err != nil || doc.Event != "failure" || !strings.Contains(doc.Error, "with token ***") {
		t.Errorf("notification = %s (%v), want the failure, with the tool's error masked", accepted[1], err)
	}

	// Nothing baton wrote holds a secret: not the console, the run
	// directories, the handoffs, the ledger or the notifications. The
	// lab's hosts are the machines themselves, where the token belongs.
	for _, secret := range []string{token, password} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("the console shows a secret")
		}
		for _, body := range accepted {
			if strings.Contains(string(body), secret) {
				t.Errorf("a notification holds a secret: %s", body)
			}
		}
	}
	hosts := filepath.Join(labDir(p), "hosts")
	scanned := 0
	err = filepath.WalkDir(filepath.Join(p.Root, ".baton"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == hosts {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for _, secret := range []string{token, password} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s holds a secret", path)
			}
		}
		return nil
	})
	if err != nil || scanned < 10 {
		t.Fatalf("scanned %d files: %v", scanned, err)
	}
}

// A wrapper that cannot give the secrets (a secrets manager out of reach)
// fails the run after it is recorded: the failure is in the history, and
// notified, with the wrapper's message and not its arguments.
func TestWrapperFailureIsRecordedAndNotified(t *testing.T) {
	p, out := labProject(t)
	ep := &endpoint{}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	t.Setenv("BATON_NOTIFY_WEBHOOK_URL", srv.URL+"/hook")
	wrapper := testlab.WriteScript(t, t.TempDir(), "doppler", "echo 'Doppler Error: unable to reach api.doppler.com' >&2; exit 1\n")
	t.Setenv("BATON_WRAPPER", wrapper+" run --token dp.st.s3cr3t --")
	err := Stage1(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unable to reach api.doppler.com") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("stage1 = %v, want the wrapper's message without its arguments\n%s", err, out)
	}
	led, _ := p.Ledger()
	recs, _, err := led.List(context.Background())
	if err != nil || len(recs) != 1 || recs[0].Status != "failed" || !strings.Contains(recs[0].Error, "BATON_WRAPPER") {
		t.Fatalf("history = %+v, %v; want one failed run naming BATON_WRAPPER", recs, err)
	}
	if _, accepted := ep.get(); len(accepted) != 1 || !strings.Contains(string(accepted[0]), `"event":"failure"`) || !strings.Contains(string(accepted[0]), recs[0].RunID) {
		t.Errorf("notifications = %q, want the failure of %s", accepted, recs[0].RunID)
	}
	// The lock was released: the next run is not refused.
	t.Setenv("BATON_WRAPPER", "")
	t.Setenv("BATON_NOTIFY_WEBHOOK_URL", "")
	if err := Stage1(context.Background()); err != nil {
		t.Errorf("stage1 after the failure: %v", err)
	}
}
