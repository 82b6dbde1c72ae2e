package stages

import (
	"context"
	"errors"
	"os"
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
