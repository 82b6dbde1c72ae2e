package ui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Secrets the fixtures write unmasked into every kind of file and field,
// as if a run had leaked them: no page may show them. One has the
// characters HTML escapes, so that masking the rendered page alone would
// miss it.
const (
	secretPlain = "hunter2-plain-secret-value"
	secretHTML  = `tok<&>"quoted'secret`
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// fixture is a project's state directory with environments whose
// histories are written by the embedded ledger itself.
type fixture struct {
	root string
	host string
	envs []Env
}

func newFixture(t testing.TB) *fixture {
	host, _ := os.Hostname()
	return &fixture{root: t.TempDir(), host: host}
}

// env adds an environment, with an empty history.
func (f *fixture) env(tb testing.TB, name string) *Env {
	state := filepath.Join(f.root, ".baton", name)
	led, err := ledger.Open(filepath.Join(state, "ledger"))
	if err != nil {
		tb.Fatal(err)
	}
	f.envs = append(f.envs, Env{Name: name, State: state, Ledger: led})
	return &f.envs[len(f.envs)-1]
}

func (f *fixture) list() ([]Env, error) { return f.envs, nil }

// run is a run to record: a record and the files of its run directory.
type run struct {
	rec    ledger.Record
	files  map[string]string // path under the run directory → content
	finish bool              // false: it began and is still going
}

// add records r in env's ledger and writes its files.
func (f *fixture) add(tb testing.TB, env *Env, r run) *ledger.Record {
	rec := r.rec
	rec.Env = env.Name
	if rec.User == "" {
		rec.User = "alice"
	}
	if rec.Host == "" {
		rec.Host = f.host
	}
	if rec.Trigger == "" {
		rec.Trigger = "cli"
	}
	if rec.Mode == "" {
		rec.Mode = string(pipeline.ModeRun)
	}
	begin := rec
	begin.Status, begin.End, begin.Stages, begin.Handoffs, begin.Error = ledger.StatusRunning, time.Time{}, nil, nil, ""
	if err := env.Ledger.Begin(context.Background(), &begin); err != nil {
		tb.Fatal(err)
	}
	if r.finish {
		if err := env.Ledger.Finish(context.Background(), &rec); err != nil {
			tb.Fatal(err)
		}
	}
	dir := filepath.Join(env.State, "runs", rec.RunID)
	for name, content := range r.files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return &rec
}

func handoffInfo(name, display string) pipeline.HandoffInfo {
	return pipeline.HandoffInfo{Name: name, Display: display, SHA256: fmt.Sprintf("%064x", len(name)*7919+len(display))}
}

// deploy is a finished three-stage deploy of template tid at start,
// with status for the run and its last stage.
func deploy(id string, start time.Time, tid string, status pipeline.Status) run {
	tmpl := handoffInfo("template_id", tid)
	inv := handoffInfo("inventory", "3 hosts: web-1, web-2, web-3")
	used := tmpl
	used.Source = "stage"
	usedInv := inv
	usedInv.Source = "stage"
	last := pipeline.StageResult{Name: "ansible", Status: status, Attempts: 1, Start: start.Add(40 * time.Second), Duration: 25 * time.Second,
		Used: []pipeline.HandoffInfo{usedInv}, Note: "ok=12 changed=3 on 3 hosts"}
	rec := ledger.Record{
		RunID: id, Target: "deploy", Start: start, End: start.Add(65 * time.Second), Status: string(status),
		GitCommit: "0123456789abcdef0123456789abcdef01234567", PID: 4242,
		Stages: []pipeline.StageResult{
			{Name: "packer", Status: pipeline.StatusSucceeded, Attempts: 1, Start: start, Duration: 12 * time.Second, Given: []pipeline.HandoffInfo{tmpl}, Fingerprint: "f1e2d3c4b5a69788"},
			{Name: "terraform", Status: pipeline.StatusSucceeded, Attempts: 2, Start: start.Add(12 * time.Second), Duration: 20 * time.Second, Used: []pipeline.HandoffInfo{used}, Given: []pipeline.HandoffInfo{inv}},
			{Name: "wait", Status: pipeline.StatusSucceeded, Attempts: 1, Start: start.Add(32 * time.Second), Duration: 8 * time.Second, Used: []pipeline.HandoffInfo{usedInv}, Note: "3 hosts answer SSH"},
			last,
		},
		Handoffs: map[string]ledger.Handoff{
			"template_id": {Display: tid, SHA256: tmpl.SHA256, Text: tid},
			"inventory":   {Display: inv.Display, SHA256: inv.SHA256},
		},
	}
	files := map[string]string{
		"packer/build.stdout.log":    "==> building golden image\n==> image " + tid + " registered\n",
		"terraform/apply.stdout.log": "Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n",
		"ansible/ansible.stdout.log": "PLAY [all]\nTASK [app : deploy]\nPLAY RECAP\n",
		"log.jsonl":                  `{"kind":"run.started","stages":["packer","terraform","wait","ansible"]}` + "\n",
	}
	if status == pipeline.StatusFailed {
		rec.Error = "stage ansible: exit status 2"
		rec.Stages[3].Error = "TASK [app : deploy] failed on web-2"
		rec.Stages[3].Note = ""
	}
	if status == pipeline.StatusCancelled {
		rec.Error = "context canceled"
		rec.Stages[3].Error = "cancelled: the tool was asked to stop (SIGINT)"
	}
	return run{rec: rec, files: files, finish: true}
}

// leaky is a failed run whose record and files hold the secrets, as
// though masking had failed when it ran.
func leaky(id string, start time.Time) run {
	r := deploy(id, start, "9001", pipeline.StatusFailed)
	r.rec.Error = "stage ansible: APP_TOKEN=" + secretPlain + " rejected; header " + secretHTML
	r.rec.Sender = "bot " + secretPlain
	r.rec.Stages[3].Note = "token " + secretHTML
	r.rec.Stages[3].Error = "auth failed with " + secretPlain
	r.rec.Handoffs["inventory"] = ledger.Handoff{Display: "db password " + secretHTML, SHA256: strings.Repeat("ab", 32)}
	r.files["ansible/ansible.stdout.log"] = "TASK [app]\nfatal: token=" + secretPlain + "\nheader: " + secretHTML + "\n"
	return r
}

// standard builds the environments the page tests look at:
//
//	prod     releases (one a rollback), a validate, a failed and a
//	         cancelled deploy, and a deploy running now that holds the lock
//	staging  deployed, then destroyed
//	dev      one failed deploy and nothing else: never deployed
//	empty    no run at all
func standard(t testing.TB) (*fixture, func()) {
	f := newFixture(t)
	prod := f.env(t, "prod")
	f.add(t, prod, deploy("20260301T100000-aaaa", t0, "8025", pipeline.StatusSucceeded))
	f.add(t, prod, deploy("20260301T110000-bbbb", t0.Add(time.Hour), "8026", pipeline.StatusSucceeded))
	rb := deploy("20260301T120000-cccc", t0.Add(2*time.Hour), "8025", pipeline.StatusSucceeded)
	rb.rec.Target, rb.rec.RollbackOf = "rollback", "20260301T100000-aaaa"
	rb.rec.Stages = rb.rec.Stages[1:]
	f.add(t, prod, rb)
	val := ledger.Record{RunID: "20260301T121000-dddd", Target: "validate", Mode: string(pipeline.ModeCheck), Start: t0.Add(2*time.Hour + 10*time.Minute),
		End: t0.Add(2*time.Hour + 10*time.Minute + 9*time.Second), Status: string(pipeline.StatusSucceeded),
		Stages: []pipeline.StageResult{
			{Name: "terraform", Status: pipeline.StatusSucceeded, Attempts: 1, Start: t0.Add(2*time.Hour + 10*time.Minute), Duration: 4 * time.Second, Note: "no drift"},
			{Name: "wait", Status: pipeline.StatusSucceeded, Attempts: 1, Start: t0.Add(2*time.Hour + 10*time.Minute + 4*time.Second), Duration: time.Second, Note: "3 hosts answer SSH"},
		}}
	f.add(t, prod, run{rec: val, finish: true})
	f.add(t, prod, deploy("20260301T130000-eeee", t0.Add(3*time.Hour), "8027", pipeline.StatusFailed))
	f.add(t, prod, deploy("20260301T140000-ffff", t0.Add(4*time.Hour), "8028", pipeline.StatusCancelled))
	f.add(t, prod, leaky("20260301T141000-1eak", t0.Add(4*time.Hour+10*time.Minute)))
	// The running deploy: this process, so the ledger sees it alive.
	running := ledger.Record{RunID: "20260301T150000-9999", Target: "deploy", Trigger: "webhook", Sender: "carol",
		DeliveryID: "d-1", Coalesced: []string{"d-2", "d-3"}, PID: os.Getpid(), Start: t0.Add(5 * time.Hour), Status: ledger.StatusRunning}
	log := strings.Join([]string{
		`{"time":"2026-03-01T15:00:00Z","kind":"run.started","run_id":"20260301T150000-9999","stages":["packer","terraform","wait","ansible"]}`,
		`{"time":"2026-03-01T15:00:00Z","kind":"stage.started","stage":"packer","attempt":1}`,
		`{"time":"2026-03-01T15:00:01Z","kind":"log","stage":"packer","stream":"build.stdout","line":"==> building"}`,
		`{"time":"2026-03-01T15:00:12Z","kind":"handoff.given","stage":"packer","handoff":{"name":"template_id","display":"8029","sha256":"` + strings.Repeat("cd", 32) + `"}}`,
		`{"time":"2026-03-01T15:00:12Z","kind":"stage.finished","stage":"packer","attempt":1,"status":"succeeded","duration":12000}`,
		`{"time":"2026-03-01T15:00:12Z","kind":"stage.started","stage":"terraform","attempt":1}`,
		`{"kind":"torn`,
	}, "\n")
	f.add(t, prod, run{rec: running, files: map[string]string{"log.jsonl": log, "terraform/apply.stdout.log": "aws_instance.web[0]: Creating...\n"}})
	unlock, err := prod.Ledger.Lock(context.Background(), "prod", ledger.Holder{RunID: running.RunID, User: "alice", Host: f.host, PID: os.Getpid(), Target: "deploy", Since: running.Start})
	if err != nil {
		t.Fatal(err)
	}

	staging := f.env(t, "staging")
	f.add(t, staging, deploy("20260301T090000-5a5a", t0.Add(-time.Hour), "7001", pipeline.StatusSucceeded))
	f.add(t, staging, run{rec: ledger.Record{RunID: "20260301T093000-d0d0", Target: "destroy", Mode: string(pipeline.ModeRollback),
		Start: t0.Add(-30 * time.Minute), End: t0.Add(-29 * time.Minute), Status: string(pipeline.StatusSucceeded),
		Stages: []pipeline.StageResult{{Name: "terraform", Status: pipeline.StatusSucceeded, Attempts: 1, Start: t0.Add(-30 * time.Minute), Duration: time.Minute}}}, finish: true})

	dev := f.env(t, "dev")
	f.add(t, dev, deploy("20260301T080000-dead", t0.Add(-2*time.Hour), "6001", pipeline.StatusFailed))
	f.env(t, "empty")
	return f, func() { _ = unlock() }
}

// many writes n finished deploys into env's ledger at once, each line
// as the ledger writes it (a checksummed JSON record), which is much
// faster than n fsynced appends. That the ledger reads every one back,
// with no problem, proves the lines are its own format.
func many(tb testing.TB, env *Env, n int) {
	tb.Helper()
	led := env.Ledger.(*ledger.File)
	var b strings.Builder
	for i := range n {
		r := deploy(fmt.Sprintf("2025%06d-%04x", i, i%65536), t0.Add(-time.Duration(n-i)*time.Minute), fmt.Sprint(1000+i%8000), pipeline.StatusSucceeded).rec
		r.Env, r.User, r.Mode, r.Host, r.Trigger = env.Name, []string{"alice", "bob", "carol"}[i%3], string(pipeline.ModeRun), "ci-1", "cli"
		if i%10 == 0 {
			r.Status = string(pipeline.StatusFailed)
		}
		rec, err := json.Marshal(&r)
		if err != nil {
			tb.Fatal(err)
		}
		sum := sha256.Sum256(rec)
		line, _ := json.Marshal(map[string]any{"event": "finish", "record": json.RawMessage(rec), "sha256": hex.EncodeToString(sum[:])})
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(led.Dir, "runs.jsonl"), []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	recs, problems, err := led.List(context.Background())
	if err != nil || len(problems) > 0 || len(recs) != n {
		tb.Fatalf("the ledger read back %d of %d runs, problems %v, err %v", len(recs), n, problems, err)
	}
}
