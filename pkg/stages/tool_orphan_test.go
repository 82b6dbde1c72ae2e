package stages

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/baton-deploy/baton/internal/proc/proctest"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// TestHelperRunner is not a test: run by TestNoToolOutlivesAKilledBaton as
// a separate process (baton), it runs a command stage whose child has a
// child, and waits to be killed.
func TestHelperRunner(t *testing.T) {
	dir := os.Getenv("BATON_STAGES_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process")
	}
	c := &Command{StageName: "family", Argv: []string{"sh", "-c", proctest.FamilyScript, "sh", dir}}
	if os.Getenv("BATON_STAGES_HELPER_WRAP") != "" {
		// A wrapper that stays between baton and the tool, as doppler run does.
		c.Exec.Wrapper = []string{"sh", "-c", `"$@"; exit $?`, "wrapper"}
	}
	_, _, _, _ = runStage(t, context.Background(), pipeline.ModeRun, c, nil)
}

// kill -9 of baton while a tool runs must end the tool and what it
// started, with or without a wrapper.
func TestNoToolOutlivesAKilledBaton(t *testing.T) {
	for _, wrap := range []string{"", "wrapped"} {
		for i := range 3 {
			t.Run(wrap+string(rune('0'+i)), func(t *testing.T) {
				dir := t.TempDir()
				baton := exec.Command(os.Args[0], "-test.run=^TestHelperRunner$", "-test.count=1")
				baton.Env = append(os.Environ(), "BATON_STAGES_HELPER_DIR="+dir, "BATON_STAGES_HELPER_WRAP="+wrap)
				if err := baton.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan struct{})
				go func() { _ = baton.Wait(); close(exited) }()
				pids := proctest.ReadPIDs(t, dir, exited, "child.pid", "grandchild.pid")
				if err := baton.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				<-exited
				proctest.RequireGone(t, []string{"tool", "tool's child"}, pids)
			})
		}
	}
}
