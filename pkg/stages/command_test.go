package stages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestCommandGivesHandoffsFromStdoutAndFiles(t *testing.T) {
	dir := t.TempDir()
	version := handoff.NewString("app_version")
	report := handoff.NewJSON[map[string]int]("report", nil)
	channel := handoff.NewString("channel")
	_, store, _, err := runStage(t, context.Background(), pipeline.ModeRun, &Command{
		StageName: "release", Argv: []string{"sh", "-c", `echo "{\"app_version\": \"v$BATON_TEMPLATE_ID\", \"channel\": \"stable\"}"; echo '{"ok": 3}' > report.json`},
		Dir: dir, Uses: []handoff.Def{handoff.TemplateID}, Stdout: []handoff.Def{version, channel}, Files: map[string]handoff.Def{"report.json": report},
	}, map[string]string{"template_id": "8025"})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := store.Get(version)
	if string(v.Raw) != `"v8025"` {
		t.Errorf("app_version = %s, want the needed handoff to have reached the command", v.Raw)
	}
	if ch, _ := store.Get(channel); string(ch.Raw) != `"stable"` {
		t.Errorf("channel = %s", ch.Raw)
	}
	r, _ := store.Get(report)
	if got, _ := report.Decode(r.Raw); got["ok"] != 3 {
		t.Errorf("report = %s", r.Raw)
	}
}

func TestCommandFailures(t *testing.T) {
	ctx := context.Background()
	version := handoff.NewString("app_version")
	for _, tt := range []struct {
		name string
		c    *Command
		want string
	}{
		{"exit code", &Command{StageName: "x", Argv: []string{"sh", "-c", "echo boom >&2; exit 3"}}, "exit status 3:\nboom"},
		{"not json", &Command{StageName: "x", Argv: []string{"echo", "hello"}, Stdout: []handoff.Def{version}}, "not a valid app_version"},
		{"missing member", &Command{StageName: "x", Argv: []string{"echo", `{"a": 1}`}, Stdout: []handoff.Def{version, handoff.TemplateID}}, `no "app_version"`},
		{"file is a FIFO", &Command{StageName: "x", Argv: []string{"mkfifo", "out.json"}, Dir: t.TempDir(), Files: map[string]handoff.Def{"out.json": version}}, "out.json is a FIFO (named pipe): not a regular file"},
		{"file not written", &Command{StageName: "x", Argv: []string{"true"}, Dir: t.TempDir(), Files: map[string]handoff.Def{"out.json": version}}, "did not write out.json"},
		{"no such program", &Command{StageName: "x", Argv: []string{"no-such-program-baton"}}, "no-such-program-baton is not installed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := runStage(t, ctx, pipeline.ModeRun, tt.c, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCommandCancelSendsSIGINTFirst(t *testing.T) {
	dir := t.TempDir()
	c := &Command{StageName: "x", Dir: dir, Argv: []string{"sh", "-c", `trap 'echo got-int > stopped; exit 130' INT; echo ready; while :; do sleep 0.05; done`}}
	ctx, cancel := context.WithCancel(context.Background())
	p, _ := pipeline.New(c)
	started := make(chan struct{}, 1)
	sink := pipeline.SinkFunc(func(e pipeline.Event) {
		if e.Line == "ready" {
			select {
			case started <- struct{}{}:
			default:
			}
		}
	})
	done := make(chan error, 1)
	go func() { _, err := p.Run(ctx, pipeline.Options{Sinks: []pipeline.Sink{sink}}); done <- err }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("command did not start")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled command did not stop")
	}
	if data, _ := readFileString(dir + "/stopped"); strings.TrimSpace(data) != "got-int" {
		t.Errorf("the program did not get SIGINT first (stopped = %q)", data)
	}
}

func readFileString(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}

// Under a wrapper, the logged command line shows the wrapper's program but
// not its arguments (they may hold a token), and a secret argument is
// masked even when quoting changed its form. Cancelling interrupts the
// wrapper alone, which passes the signal on: the tool sees one SIGINT.
// The run is cancelled only once both have said they are ready for it —
// the wrapper with its handler installed, the tool with its trap set —
// so a slow machine cannot make a signal come too early.
func TestCommandUnderAWrapper(t *testing.T) {
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "wrap")
	wrapperReady := filepath.Join(dir, "wrapper-ready")
	// A forwarding wrapper: it passes SIGINT on to the command it runs.
	// (A background job of sh ignores SIGINT, so the wrapper is Python.)
	os.WriteFile(wrapper, []byte(`#!/usr/bin/python3
import signal, subprocess, sys
p = None
def forward(*_):
    if p is not None:
        p.send_signal(signal.SIGINT)
signal.signal(signal.SIGINT, forward)
p = subprocess.Popen(sys.argv[3:])
open(`+strconv.Quote(wrapperReady)+`, "w").write("ready")
sys.exit(p.wait())
`), 0o755)
	secret := "it's-a-s3cr3t"
	counted := filepath.Join(dir, "interrupts")
	started := filepath.Join(dir, "started")
	// The tool waits (bounded: 1200 × 50ms) for its interrupt, then a
	// little longer, in which a second one would be counted too.
	tool := `trap 'echo int >> "` + counted + `"' INT; echo started > "` + started + `"; i=0; while [ ! -s "` + counted + `" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.5; exit 3`
	ctx, cancel := context.WithCancel(context.Background())
	c := &Command{StageName: "x", Argv: []string{"sh", "-c", tool, "sh", secret}, Exec: Exec{Wrapper: []string{wrapper, "--token", "dp.st.hidden"}}}
	go func() {
		defer cancel()
		for i := 0; i < 3000; i++ { // 3000 × 20ms: only a hang takes this long
			w, _ := os.ReadFile(wrapperReady)
			s, _ := os.ReadFile(started)
			if len(w) > 0 && len(s) > 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	_, _, events, err := runStageOpts(t, ctx, pipeline.ModeRun, c, func(o *pipeline.Options) { o.Secrets = []string{secret} })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the run cancelled", err)
	}
	var shown string
	for _, e := range events {
		if strings.HasPrefix(e.Line, "$ ") {
			shown = e.Line
		}
	}
	if !strings.HasPrefix(shown, "$ "+wrapper+" … ") || !strings.Contains(shown, "sh -c ") || strings.Contains(shown, "dp.st.hidden") || strings.Contains(shown, "s3cr3t") || !strings.HasSuffix(shown, " sh '***'") {
		t.Errorf("command line = %q, want the wrapper's program only and the secret masked", shown)
	}
	if data, _ := os.ReadFile(counted); string(data) != "int\n" {
		t.Errorf("the tool got interrupts %q, want exactly one", data)
	}
}
