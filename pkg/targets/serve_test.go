package targets

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/webhook"
)

// TestServeDeploysOnPush runs `serve` on the lab: a signed GitHub push
// deploys, recorded with its sender, delivery and commit after the hook's
// update command; two more pushes during it make one more deploy; Ctrl-C
// stops the server.
func TestServeDeploysOnPush(t *testing.T) {
	p, out := labProject(t)
	testlab.Require(t, "git")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", p.Root, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	os.WriteFile(filepath.Join(p.Root, ".gitignore"), []byte("/.baton/\n"), 0o644)
	os.WriteFile(filepath.Join(p.Root, "baton-serve.yml"), []byte(`
hooks:
  deploy:
    provider: github
    secret_env: TEST_HOOK_SECRET
    update: [sh, -c, 'printf %s "$BATON_COMMIT" > .baton/pushed']
`), 0o644)
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "lab")
	head := git("rev-parse", "HEAD")
	secret := "an-e2e-secret-0123456789abcdef"
	t.Setenv("TEST_HOOK_SECRET", secret)
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(testlab.FreePort(t, "127.0.0.1")))
	t.Setenv("BATON_SERVE_ADDR", addr)
	// The second deploy changes nothing: let it skip Ansible too.
	t.Setenv("BATON_SKIP_UNCHANGED_ANSIBLE", "1")

	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx) }()
	waitListening(t, addr, 60*time.Second)

	send := func(id string) map[string]string {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": head, "sender": map[string]any{"login": "alice"}})
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/deploy", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", id)
		name, value := webhook.GitHub.Sign(body, []byte(secret), time.Now())
		req.Header.Set(name, value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r map[string]string
		json.NewDecoder(resp.Body).Decode(&r)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("delivery %s: %d %v\n%s", id, resp.StatusCode, r, out)
		}
		return r
	}
	first, second, third := send("e2e-1"), send("e2e-2"), send("e2e-3")
	if first["status"] != "accepted" || second["status"] != "queued" || third["status"] != "coalesced" || second["run_id"] != third["run_id"] {
		t.Fatalf("responses %v %v %v: want accepted, queued, coalesced into the queued run", first, second, third)
	}

	led, err := p.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	recs := waitRecords(t, led, []string{first["run_id"], second["run_id"]}, 3*time.Minute)
	for i, want := range []struct {
		delivery  string
		coalesced []string
	}{{"e2e-1", nil}, {"e2e-2", []string{"e2e-3"}}} {
		r := recs[i]
		if !r.Succeeded() || r.Trigger != "webhook" || r.Sender != "alice" || r.DeliveryID != want.delivery ||
			!slices.Equal(r.Coalesced, want.coalesced) || r.GitCommit != head || r.Target != "deploy" {
			t.Errorf("run %d record: %s %s by %s of %s, delivery %s, coalesced %v (error %q)\nwant a succeeded webhook deploy by alice of %s, delivery %s, coalesced %v\n%s",
				i+1, r.Status, r.Trigger, r.Sender, r.GitCommit, r.DeliveryID, r.Coalesced, r.Error, head, want.delivery, want.coalesced, out)
		}
	}
	mark := len(out.String())
	if err := History(context.Background()); err != nil || !strings.Contains(out.String()[mark:], "webhook:alice (+1)") {
		t.Errorf("history (%v) does not show the webhook runs' sender and coalesced pushes:\n%s", err, out.String()[mark:])
	}
	if v, ok := os.LookupEnv("TEST_HOOK_SECRET"); ok {
		t.Errorf("the hook's secret is still in the environment the tools inherit: %q", v)
	}
	if got, _ := os.ReadFile(filepath.Join(p.Root, ".baton", "pushed")); string(got) != head {
		t.Errorf("the update command saw BATON_COMMIT=%q, want %s", got, head)
	}
	checkAll(t, configuredFrom(t, p), fmt.Sprint(storedTemplate(t, p)), 3)

	resp, err := http.Get("http://" + addr + "/runs/" + first["run_id"])
	if err != nil {
		t.Fatal(err)
	}
	var rec ledger.Record
	json.NewDecoder(resp.Body).Decode(&rec)
	resp.Body.Close()
	if resp.StatusCode != 200 || rec.DeliveryID != "e2e-1" {
		t.Errorf("GET /runs/<id>: %d %+v", resp.StatusCode, rec)
	}

	// SIGTERM while a deploy runs and another waits: the running one
	// finishes within the grace, the waiting one is dropped and recorded so.
	running, waiting := send("e2e-4"), send("e2e-5")
	if running["status"] != "accepted" || waiting["status"] != "queued" {
		t.Fatalf("responses %v %v: want accepted, queued", running, waiting)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(2 * time.Minute):
		interrupt()
		t.Fatal("serve did not stop within 2 minutes of SIGTERM")
	}
	if r, err := led.Get(context.Background(), running["run_id"]); err != nil || !r.Succeeded() {
		t.Errorf("the deploy running at SIGTERM: %+v %v, want it finished and succeeded", r, err)
	}
	if _, err := led.Get(context.Background(), waiting["run_id"]); err == nil {
		t.Error("the deploy queued at SIGTERM ran")
	}
	log, _ := os.ReadFile(filepath.Join(p.Root, ".baton", "webhook", "deliveries.jsonl"))
	if !strings.Contains(string(log), `"delivery_id":"e2e-5"`) || strings.Count(string(log), `"outcome":"dropped"`) != 1 {
		t.Errorf("delivery log does not record e2e-5 as dropped:\n%s", log)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still listening after serve returned")
	}
}

// TestServeInterrupted: Ctrl-C (Mage cancelling the target) stops the
// server at once.
func TestServeInterrupted(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "../../examples/local", filepath.Join(root, "examples", "local"))
	os.WriteFile(filepath.Join(root, "baton-serve.yml"), []byte("hooks:\n  d: {provider: generic, secret_env: S}\n"), 0o644)
	t.Setenv("S", "a-secret-long-enough")
	t.Setenv("BATON_ROOT", root)
	t.Setenv("BATON_PIPELINE", "")
	t.Setenv("BATON_ENV", "")
	t.Setenv("BATON_SERVE_CONFIG", "")
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(testlab.FreePort(t, "127.0.0.1")))
	t.Setenv("BATON_SERVE_ADDR", addr)
	old := SetOutput(&syncBuffer{})
	defer SetOutput(old)
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx) }()
	waitListening(t, addr, 60*time.Second)
	interrupt()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of Ctrl-C")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still listening after serve returned")
	}
}

// servedLab copies the lab's pipeline file into a fresh root and opens
// the project there, as serve would.
func servedLab(t *testing.T) (string, *Project) {
	t.Helper()
	root := t.TempDir()
	copyTree(t, "../../examples/local", filepath.Join(root, "examples", "local"))
	for k, v := range map[string]string{"BATON_ROOT": root, "BATON_PIPELINE": "", "BATON_ENV": "", "BATON_SERVE_CONFIG": "", "BATON_LEDGER": ""} {
		t.Setenv(k, v)
	}
	p, err := LoadProject()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return root, p
}

func TestServeConfigErrors(t *testing.T) {
	root, p := servedLab(t)
	cfgErr := func(text string) error {
		os.WriteFile(filepath.Join(root, "baton-serve.yml"), []byte(text), 0o644)
		cfg, err := webhook.LoadConfig(filepath.Join(root, "baton-serve.yml"))
		if err != nil {
			return err
		}
		s, err := newServer(p, cfg, nil, nil, nil)
		if err == nil {
			s.Drain(context.Background())
		}
		return err
	}
	t.Setenv("S", "a-secret-long-enough")
	if err := cfgErr("hooks:\n  d: {provider: github, secret_env: S, env: ../prod}\n"); err == nil || !strings.Contains(err.Error(), "../prod") {
		t.Errorf("a hook env that is a path: %v", err)
	}
	if err := cfgErr("hooks:\n  d: {provider: github, secret_env: S}\n"); err != nil {
		t.Errorf("a good configuration: %v", err)
	}
	example, _ := os.ReadFile("../../examples/webhook/baton-serve.yml")
	t.Setenv("BATON_WEBHOOK_SECRET", "the-example's-secret-0123456789")
	if err := cfgErr(string(example)); err != nil {
		t.Errorf("examples/webhook/baton-serve.yml: %v", err)
	}

	// Bad notification or secrets settings stop serve at start, not at the
	// first push.
	for _, tool := range []string{"packer", "terraform", "ansible-playbook"} {
		testlab.Require(t, tool)
	}
	t.Setenv("BATON_SERVE_ADDR", "127.0.0.1:0")
	for _, tc := range []struct{ name, value, want string }{
		{"BATON_NOTIFY_ON", "sometimes", `BATON_NOTIFY_ON: unknown event "sometimes"`},
		{"BATON_WRAPPER", "no-such-secrets-manager run --", `BATON_WRAPPER: exec: "no-such-secrets-manager"`},
		{"BATON_SECRETS", "NOT_SET_ANYWHERE", "BATON_SECRETS names NOT_SET_ANYWHERE, which is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			old := SetOutput(io.Discard)
			defer SetOutput(old)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := Serve(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("serve with %s=%q: %v, want an error containing %q", tc.name, tc.value, err, tc.want)
			}
		})
	}
}

func waitListening(t *testing.T, addr string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after %s", addr, limit)
}

// waitRecords waits until the runs have finished records, in order.
func waitRecords(t *testing.T, led ledger.Ledger, ids []string, limit time.Duration) []*ledger.Record {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var got []*ledger.Record
		for _, id := range ids {
			r, err := led.Get(context.Background(), id)
			if err != nil || r.End.IsZero() {
				break
			}
			got = append(got, r)
		}
		if len(got) == len(ids) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("runs %v did not finish within %s", ids, limit)
	return nil
}

// TestServeTLS: given a certificate and key, serve listens with TLS only.
func TestServeTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "baton test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)

	ln, err := listen(&webhook.Config{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.TLS == nil {
		t.Error("the response did not come over TLS")
	}
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ln.Addr().String() + "/"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP was served on the TLS listener")
	}
	if _, err := listen(&webhook.Config{Listen: "127.0.0.1:0", TLSCert: keyFile, TLSKey: certFile}); err == nil || !strings.Contains(err.Error(), "tls_cert") {
		t.Errorf("swapped certificate and key: %v", err)
	}
}

// A push the server accepted is in the history even when its run fails
// before it can start: here the pipeline file stopped loading after serve
// started, so the run for another environment could not even be opened.
func TestServeRecordsARunThatCouldNotStart(t *testing.T) {
	root, p := servedLab(t)
	t.Setenv("S", "a-secret-long-enough-0123456789")
	cfgFile := filepath.Join(root, "baton-serve.yml")
	os.WriteFile(cfgFile, []byte("hooks:\n  d: {provider: github, secret_env: S, env: staging}\n"), 0o644)
	cfg, err := webhook.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	old := SetOutput(io.Discard)
	defer SetOutput(old)
	s, err := newServer(p, cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Drain(context.Background())

	hcl := filepath.Join(root, "examples", "local", "baton.hcl")
	f, _ := os.OpenFile(hcl, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("\nterraform \"broken\" {\n")
	f.Close()

	body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": "c0ffee", "sender": map[string]any{"login": "alice"}})
	req, _ := http.NewRequest(http.MethodPost, "/hooks/d", bytes.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "broken-1")
	name, value := webhook.GitHub.Sign(body, []byte("a-secret-long-enough-0123456789"), time.Now())
	req.Header.Set(name, value)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	var resp map[string]string
	json.NewDecoder(w.Body).Decode(&resp)
	if w.Code != http.StatusAccepted || resp["run_id"] == "" {
		t.Fatalf("delivery: %d %v, want 202 with a run ID", w.Code, resp)
	}
	led, err := p.LedgerOf("staging")
	if err != nil {
		t.Fatal(err)
	}
	r := waitRecords(t, led, []string{resp["run_id"]}, 30*time.Second)[0]
	if r.Status != "failed" || r.Env != "staging" || r.Trigger != "webhook" || r.Sender != "alice" || r.DeliveryID != "broken-1" || !strings.Contains(r.Error, "baton.hcl") {
		t.Errorf("the run's record: %s in %s, %s by %s, delivery %s, error %q; want a failed webhook run of staging by alice, delivery broken-1, naming baton.hcl",
			r.Status, r.Env, r.Trigger, r.Sender, r.DeliveryID, r.Error)
	}
	if recs, _, _ := led.List(context.Background()); len(recs) != 1 {
		t.Errorf("staging holds %d runs, want the one", len(recs))
	}
}
