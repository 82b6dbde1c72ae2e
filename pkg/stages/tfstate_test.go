package stages

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// The plan, while it exists, and the local state with its backup are
// readable by their owner only: they hold every variable and output.
func TestTerraformPlanAndStateAre0600(t *testing.T) {
	tf, _ := tfFixture(t)
	runDir := t.TempDir()
	var mu sync.Mutex
	planModes := map[string]fs.FileMode{}
	sink := pipeline.SinkFunc(func(e pipeline.Event) {
		if !strings.Contains(e.Line, "Provisioning with 'local-exec'") {
			return
		}
		// Apply is running: the plan it applies exists.
		_ = filepath.WalkDir(runDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Name() == "tfplan" {
				if fi, err := os.Stat(p); err == nil {
					mu.Lock()
					planModes[p] = fi.Mode().Perm()
					mu.Unlock()
				}
			}
			return nil
		})
	})
	args := map[string]string{"template_id": "8025"}
	for _, id := range []string{"8025", "8026"} { // the second apply writes a backup
		args["template_id"] = id
		_, _, _, err := runStageOpts(t, context.Background(), pipeline.ModeRun, tf, func(o *pipeline.Options) {
			o.Args, o.RunDir, o.Sinks = args, runDir, []pipeline.Sink{sink}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(planModes) == 0 {
		t.Fatal("no plan file seen during apply")
	}
	for p, m := range planModes {
		if m != 0o600 {
			t.Errorf("%s is %v during apply, want 0600", p, m)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s outlived its run", p)
		}
	}
	r := &tfRun{t: tf}
	seen := 0
	for _, p := range r.localStateFiles() {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		seen++
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s is %v, want 0600", p, m)
		}
	}
	if seen < 2 {
		t.Errorf("found %d of the state files %v, want the state and its backup", seen, r.localStateFiles())
	}
}
