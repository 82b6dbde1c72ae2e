package stages

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// A Terraform killed with -9 leaves .terraform.tfstate.lock.info beside
// its local state. The lock file of a live Terraform is left alone; the
// stale one is removed by the next run of the stage, which says so.
func TestStaleTerraformLockIsRemoved(t *testing.T) {
	bin := requireTool(t, "terraform")
	rc := filepath.Join(t.TempDir(), "terraform.rc")
	os.WriteFile(rc, nil, 0o600)
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	dir := t.TempDir()
	config := `variable "hold" {
  type    = string
  default = ""
}
resource "terraform_data" "x" {
  input = var.hold
  provisioner "local-exec" {
    command = var.hold == "" ? "true" : "touch ${var.hold}; exec sleep 120"
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "terraform.tfstate")
	info := filepath.Join(dir, ".terraform.tfstate.lock.info")
	started := filepath.Join(t.TempDir(), "started")
	hold := exec.Command(bin, "apply", "-auto-approve", "-input=false", "-var", "hold="+started)
	hold.Dir = dir
	hold.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out, err := exec.Command(bin, "-chdir="+dir, "init", "-input=false").CombinedOutput(); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			syscall.Kill(-hold.Process.Pid, syscall.SIGKILL)
			hold.Wait()
		}
	}
	t.Cleanup(kill)
	for i := 0; i < 600; i++ { // 60 s
		if _, err := os.Stat(started); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(started); err != nil {
		t.Fatal("the holding apply never reached its provisioner")
	}
	if got := clearStaleLock(state); got != "" {
		t.Errorf("a live Terraform's lock was taken as stale: %s", got)
	}
	if _, err := os.Stat(info); err != nil {
		t.Fatalf("the live Terraform's lock file is gone: %v", err)
	}

	kill()
	if _, err := os.Stat(info); err != nil {
		t.Fatalf("kill -9 left no lock file, so this test proves nothing: %v", err)
	}
	// A plan takes no lock, so Terraform itself would leave the file there.
	_, _, events, err := runStage(t, context.Background(), pipeline.ModePlan, &Terraform{Dir: dir}, nil)
	if err != nil {
		t.Fatalf("the run after the kill: %v", err)
	}
	said := false
	for _, e := range events {
		said = said || strings.Contains(e.Line, "removed the lock file a killed Terraform left: "+info+" (Apply by ")
	}
	if !said {
		t.Errorf("the run did not say it removed the stale lock file")
	}
	if _, err := os.Stat(info); err == nil {
		t.Errorf("%s is still there after the run", info)
	}
}
