//go:build baton_tf_v2

package stages

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// fakeTerraform writes a terraform that answers version, init and validate
// like Terraform and runs plan as a shell script.
func fakeTerraform(t *testing.T, plan string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "terraform")
	script := `#!/bin/sh
case "$1" in
version) echo '{"terraform_version":"'"${FAKE_VERSION:-1.11.4}"'","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}' ;;
init) echo 'Terraform has been successfully initialized!' ;;
validate) echo '{"format_version":"1.0","valid":true,"error_count":0,"warning_count":0,"diagnostics":[]}' ;;
plan)
` + plan + `
;;
*) echo "fake terraform: $*" >&2; exit 1 ;;
esac
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// alive reports whether a process runs (a zombie does not count).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	t.Errorf("process %d is still running", pid)
}

// cancelWhen runs s's dry run and cancels it when a line containing
// marker is shown; it returns the error, how long the run took after the
// cancel, and the events.
func cancelWhen(t *testing.T, s pipeline.Stage, mode pipeline.Mode, args map[string]string, marker string) (error, time.Duration, []pipeline.Event) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := pipeline.New(s)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []pipeline.Event
	started := make(chan struct{})
	var once sync.Once
	sink := pipeline.SinkFunc(func(e pipeline.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		if strings.Contains(e.Line, marker) {
			once.Do(func() { close(started) })
		}
	})
	done := make(chan error, 1)
	go func() {
		opts := pipeline.Options{Args: args, RunDir: t.TempDir(), Getenv: func(string) string { return "" }, Sinks: []pipeline.Sink{sink}}
		var err error
		if mode == pipeline.ModePlan {
			_, err = p.Plan(ctx, opts)
		} else {
			_, err = p.Run(ctx, opts)
		}
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("the run ended before %q: %v", marker, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("no %q within 60s", marker)
	}
	cancel()
	at := time.Now()
	select {
	case err := <-done:
		mu.Lock()
		defer mu.Unlock()
		return err, time.Since(at), append([]pipeline.Event(nil), events...)
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled run did not return within 30s")
	}
	return nil, 0, nil
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || perr != nil {
		t.Fatalf("no child PID in %s: %v %v", path, err, perr)
	}
	return pid
}

// Cancelling sends Terraform exactly one SIGINT (a second one makes it
// exit at once and leave its lock); a Terraform that does not stop is
// killed with everything it started once the grace period is over; one
// that stops has what it left behind killed at once.
func TestTerraformCancel(t *testing.T) {
	tests := []struct {
		name     string
		plan     string
		grace    time.Duration
		atLeast  time.Duration
		atMost   time.Duration
		killLine string
	}{
		{"ignores SIGINT: killed after the grace period", `trap 'echo INT >>"$FAKE_DIR/ints"' INT
sleep 60 &
echo $! >"$FAKE_DIR/child"
echo planning
while :; do wait; done`, 500 * time.Millisecond, 500 * time.Millisecond, 5 * time.Second, "terraform did not stop within 500ms: killed"},
		// Like a local-exec child, the leftover does not hold Terraform's output.
		{"stops on SIGINT: what it left is killed", `sleep 60 >/dev/null 2>&1 &
echo $! >"$FAKE_DIR/child"
trap 'echo INT >>"$FAKE_DIR/ints"; exit 1' INT
echo planning
while :; do wait; done`, 10 * time.Second, 0, 5 * time.Second, "killed what terraform left running"},
		// Exited before the cancel, its output held open by a child.
		{"exited, output held open", `sleep 60 &
echo $! >"$FAKE_DIR/child"
echo planning
exit 0`, 300 * time.Millisecond, 300 * time.Millisecond, 5 * time.Second, "terraform did not stop within 300ms: killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := t.TempDir()
			s := &Terraform{Dir: t.TempDir(), Binary: fakeTerraform(t, tt.plan), DataDir: t.TempDir(),
				Exec: Exec{Env: []string{"FAKE_DIR=" + fake}, Grace: tt.grace}}
			err, took, events := cancelWhen(t, s, pipeline.ModePlan, nil, "planning")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if took < tt.atLeast || took > tt.atMost {
				t.Errorf("returned %s after the cancel, want %s to %s", took, tt.atLeast, tt.atMost)
			}
			if ints, _ := os.ReadFile(filepath.Join(fake, "ints")); string(ints) != "INT\n" && strings.Contains(tt.plan, "trap") {
				t.Errorf("Terraform got %q, want exactly one SIGINT", ints)
			}
			waitDead(t, readPID(t, filepath.Join(fake, "child")))
			if !hasLine(events, tt.killLine) {
				t.Errorf("no %q line", tt.killLine)
			}
		})
	}
}

// A real apply cancelled in a long provisioner returns promptly, leaves no
// process behind and no lock on the state.
func TestTerraformCancelE2E(t *testing.T) {
	s, _ := terraformFixture(t)
	s.Set["sleep"] = "29.75" // a process to look for
	args := map[string]string{"template_id": "8025"}
	err, took, events := cancelWhen(t, s, pipeline.ModeRun, args, "Provisioning with 'local-exec'")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if took > 10*time.Second {
		t.Errorf("returned %s after the cancel", took)
	}
	if hasLine(events, "Two interrupts received") {
		t.Error("Terraform got two interrupts")
	}
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		pids := processesWith("sleep\x0029.75\x00")
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the provisioner's sleep (pids %v) outlived the cancel", pids)
			break
		}
	}
	// The state is not locked: a run that takes the lock succeeds at once.
	s.Set["sleep"] = "0"
	s.LockTimeout = time.Second
	if _, _, _, _, err := tfRun(t, context.Background(), pipeline.ModeRun, s, args); err != nil {
		t.Errorf("run after the cancel: %v", err)
	}
}

// processesWith lists the running processes whose command line contains s.
func processesWith(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte(s)) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// panicky is like terraform-exec's error for a command that exited 0 just
// as ctx ended: it wraps nothing, and its Error method panics.
type panicky struct{ err error }

func (e panicky) Error() string { return e.err.Error() }
func (e panicky) Unwrap() error { return e.err }

func TestTerraformToolErrorOfCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &terraformRun{name: "terraform", j: &pipeline.Job{}}
	err := r.toolError(ctx, []string{"apply"}, "", panicky{})
	var te *ToolError
	if !errors.As(err, &te) || !errors.Is(err, context.Canceled) || te.Stderr != "" || err.Error() != "terraform apply: context canceled" {
		t.Errorf("err = %q, want a ToolError that is context.Canceled", err)
	}
}
