package targets

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/ledger"
)

// syncBuffer collects a target's output.
type syncBuffer = testlab.Buffer

// labProject makes a project root holding a copy of examples/local, with
// its lab on a free port, and points the targets at it.
func labProject(t *testing.T) (*Project, *syncBuffer) {
	t.Helper()
	for _, tool := range []string{"packer", "terraform", "ansible-playbook", "sshd"} {
		testlab.Require(t, tool)
	}
	root := t.TempDir()
	copyTree(t, "../../examples/local", filepath.Join(root, "examples", "local"))
	port, appPort := testlab.FreePort(t, "127.0.0.11"), testlab.FreePort(t, "127.0.0.11")
	// Runs last, after the destroy below: no host of the test survives it,
	// even one a cancelled apply started and the state never recorded.
	testlab.Reap(t, root, testlab.Addrs(11, 16), port)
	t.Setenv("BATON_ROOT", root)
	t.Setenv("BATON_PIPELINE", "")
	t.Setenv("BATON_ENV", "")
	t.Setenv("BATON_FORCE", "")
	t.Setenv("BATON_HOSTS", "3")
	t.Setenv("BATON_LAB_PORT", strconv.Itoa(port))
	t.Setenv("BATON_APP_PORT", strconv.Itoa(appPort))
	t.Setenv("BATON_TEMPLATE_ID", "")
	t.Setenv("BATON_INVENTORY", "")
	p, err := LoadProject()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	old := stdout
	stdout = out
	t.Cleanup(func() {
		stdout = old
		// Whatever happened, leave no host running.
		_ = Destroy(context.Background())
	})
	return p, out
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func storedTemplate(t *testing.T, p *Project) int {
	t.Helper()
	store, _ := p.Store()
	v, err := store.Get(labTemplate)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := labTemplate.Decode(v.Raw)
	return id
}

// configuredFrom reads, on every lab host, the template Ansible recorded.
func configuredFrom(t *testing.T, p *Project) map[string]string {
	t.Helper()
	out := map[string]string{}
	hosts, _ := filepath.Glob(filepath.Join(labDir(p), "hosts", "*"))
	for _, h := range hosts {
		data, err := os.ReadFile(filepath.Join(h, "root", "etc", "baton", "configured-from"))
		if err != nil {
			out[filepath.Base(h)] = "missing"
			continue
		}
		out[filepath.Base(h)] = strings.TrimSpace(string(data))
	}
	return out
}

func checkAll(t *testing.T, got map[string]string, want string, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%d hosts configured, want %d: %v", len(got), n, got)
	}
	for h, v := range got {
		if v != want {
			t.Errorf("%s configured from %s, want template %s", h, v, want)
		}
	}
}

func treeHash(t *testing.T, dir string, skip string) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, skip) {
			return nil
		}
		data, _ := os.ReadFile(path)
		fmt.Fprintf(h, "%s %x\n", path, sha256.Sum256(data))
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestMainJobE2E(t *testing.T) {
	p, out := labProject(t)
	ctx := context.Background()

	// Plan before anything exists: changes nothing, skips what it cannot know.
	if err := Plan(ctx); err != nil {
		t.Fatalf("plan on a fresh project: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(p.State, "terraform.tfstate")); err == nil {
		t.Error("plan created Terraform state")
	}

	if err := Deploy(ctx); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	first := storedTemplate(t, p)
	checkAll(t, configuredFrom(t, p), strconv.Itoa(first), 3)
	if !strings.Contains(out.String(), "ssh to one:") {
		t.Error("deploy did not say how to reach a host")
	}

	// A second deploy changes nothing.
	mark := len(out.String())
	if err := Deploy(ctx); err != nil {
		t.Fatalf("second deploy: %v", err)
	}
	second := out.String()[mark:]
	if !strings.Contains(second, "skipped (unchanged)") || !strings.Contains(second, "changed=0") || storedTemplate(t, p) != first {
		t.Errorf("second deploy was not idempotent:\n%s", second)
	}

	// Each stage alone: a forced build, Terraform from an argument, Ansible from a file.
	t.Setenv("BATON_FORCE", "1")
	if err := Stage1(ctx); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BATON_FORCE", "")
	next := storedTemplate(t, p)
	if next != first+1 {
		t.Fatalf("stage1 built %d, want %d", next, first+1)
	}
	if err := Stage2(ctx, strconv.Itoa(next)); err != nil {
		t.Fatal(err)
	}
	checkAll(t, configuredFrom(t, p), "missing", 3) // fresh clones, not configured yet
	store, _ := p.Store()
	inv := filepath.Join(t.TempDir(), "inventory.json")
	v, _ := store.Get(labInventory)
	os.WriteFile(inv, v.Raw, 0o600)
	if err := Stage3(ctx, inv); err != nil {
		t.Fatal(err)
	}
	checkAll(t, configuredFrom(t, p), strconv.Itoa(next), 3)

	// One change at a time: a held lock stops a second run at once.
	led, _ := p.Ledger()
	unlock, err := led.Lock(context.Background(), p.Env, ledger.Holder{RunID: "other-run", User: "ann", Host: "elsewhere", PID: 1, Target: "deploy", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	err = Stage1(ctx)
	var le *ledger.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "other-run") {
		t.Errorf("stage1 while locked: %v, want the holder named", err)
	}
	unlock()

	// Rollback returns to the release before the current one, and records it.
	if err := Rollback(ctx); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	checkAll(t, configuredFrom(t, p), strconv.Itoa(first), 3)
	recs, problems, err := led.List(context.Background())
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	var rb *ledger.Record
	for _, r := range recs {
		if r.Target == "rollback" {
			rb = r
			break
		}
	}
	if rb == nil || !rb.Succeeded() || rb.RollbackOf == "" || rb.Handoffs[labTemplate.Name()].Text != strconv.Itoa(first) {
		t.Errorf("rollback record = %+v", rb)
	}
	if recs[0].Target != "validate" || !recs[0].Succeeded() {
		t.Errorf("latest record = %s %s, want the validation that follows a rollback", recs[0].Target, recs[0].Status)
	}

	// Plan changes nothing.
	before := treeHash(t, p.State, "runs")
	if err := Plan(ctx); err != nil {
		t.Fatalf("plan: %v", err)
	}
	if after := treeHash(t, p.State, "runs"); after != before {
		t.Error("plan changed the environment's state")
	}

	// Validate passes, then fails naming a host stopped by hand.
	if err := Validate(ctx); err != nil {
		t.Fatalf("validate: %v", err)
	}
	pid, _ := os.ReadFile(filepath.Join(labDir(p), "hosts", "web-2", "sshd.pid"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if n <= 0 {
		t.Fatal("no sshd pid for web-2")
	}
	proc, _ := os.FindProcess(n)
	proc.Kill()
	mark = len(out.String())
	err = Validate(ctx)
	report := out.String()[mark:]
	if err == nil || !strings.Contains(report, "FAIL ansible.configure.wait") || !strings.Contains(report, "web-2 never became ready") {
		t.Errorf("validate with web-2 stopped: %v\n%s", err, report)
	}

	// Destroy: nothing runs, nothing is left but run logs.
	if err := Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(p.State)
	if len(entries) != 2 || entries[0].Name() != "ledger" || entries[1].Name() != "runs" {
		t.Errorf("destroy left %v, want only the history", entries)
	}
	for _, addr := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"} {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, os.Getenv("BATON_LAB_PORT")), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("%s still answers after destroy", addr)
		}
	}
}

func TestBadArgumentsStopBeforeAnythingRuns(t *testing.T) {
	root := t.TempDir()
	t.Setenv("BATON_ROOT", root)
	lab, _ := filepath.Abs("../../examples/local")
	t.Setenv("BATON_PIPELINE", lab)
	t.Setenv("BATON_ENV", "")
	notInv := filepath.Join(root, "hosts.json")
	os.WriteFile(notInv, []byte(`{"web": {"hosts": {"web-1": {}}}}`), 0o600)
	for _, tt := range []struct {
		name string
		run  func() error
		want string
	}{
		{"negative template", func() error { return Stage2(context.Background(), "-5") }, "it has a sign"},
		{"template with a plus", func() error { return Stage2(context.Background(), "+8025") }, `"+8025" is not a template ID: it has a sign`},
		{"template with a space", func() error { return Stage2(context.Background(), " 8025") }, `" 8025" is not a template ID: it has spaces`},
		{"template too small", func() error { return Stage2(context.Background(), "5") }, "out of range"},
		{"word template", func() error { return Stage2(context.Background(), "abc") }, `"abc" is not a template ID`},
		{"missing inventory", func() error { return Stage3(context.Background(), "no-such-file.json") }, "does not exist"},
		{"not an inventory", func() error { return Stage3(context.Background(), notInv) }, "has no address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "want ") {
				t.Errorf("err = %v, want %q and what to give instead", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, ".baton")); err == nil {
		t.Error("a bad argument still touched the project")
	}
}

// TestInterruptedDeploy is Ctrl-C during Terraform: the tool is stopped,
// the run is recorded as cancelled, no lock stays and the store holds only
// whole handoffs.
func TestInterruptedDeploy(t *testing.T) {
	p, out := labProject(t)
	// A resource whose provisioner holds the apply until it is
	// interrupted, so that Ctrl-C lands inside the apply however slow the
	// machine is.
	hold := filepath.Join(p.Root, "examples", "local", "terraform", "hold.tf")
	os.WriteFile(hold, []byte("resource \"terraform_data\" \"hold\" {\n  provisioner \"local-exec\" {\n    command = \"sleep 600\"\n  }\n}\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Bounded: 3000 × 50 ms; the deploy cannot finish before it.
		for i := 0; i < 3000 && ctx.Err() == nil; i++ {
			m, _ := filepath.Glob(filepath.Join(p.State, "runs", "*", "terraform.hosts", "apply.stdout.log"))
			if len(m) > 0 {
				if data, _ := os.ReadFile(m[0]); strings.Contains(string(data), "terraform_data.hold: Provisioning with 'local-exec'") {
					cancel()
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	err := Deploy(ctx)
	os.Remove(hold)
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "validate") {
		t.Fatalf("interrupted deploy: %v, want it to say what to do next\n%s", err, out)
	}
	led, _ := p.Ledger()
	recs, problems, _ := led.List(context.Background())
	if len(problems) > 0 || len(recs) == 0 || recs[0].Status != "cancelled" {
		t.Errorf("record = %+v, problems %v; want the run recorded as cancelled", recs, problems)
	}
	unlock, err := led.Lock(context.Background(), p.Env, ledger.Holder{RunID: "next"})
	if err != nil {
		t.Fatalf("lock after the interrupt: %v", err)
	}
	unlock()
	store, _ := p.Store()
	if _, err := store.Get(labTemplate); err != nil {
		t.Errorf("template_id from the finished Packer stage: %v", err)
	}
	if _, err := store.Get(labInventory); err == nil {
		t.Error("an inventory was stored by an apply that was interrupted")
	}
	// The next deploy finishes the job.
	if err := Deploy(context.Background()); err != nil {
		t.Fatalf("deploy after the interrupt: %v\n%s", err, out)
	}
}

// TestDeployRollsBackOnFailure: with BATON_ROLLBACK_ON_FAILURE=1 a deploy
// whose playbook breaks returns to the last release — its template, and
// its commit's playbooks from a git worktree — and both runs are recorded.
func TestDeployRollsBackOnFailure(t *testing.T) {
	p, out := labProject(t)
	testlab.Require(t, "git")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", p.Root, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	os.WriteFile(filepath.Join(p.Root, ".gitignore"), []byte("/.baton/\n"), 0o644)
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "lab")
	ctx := context.Background()
	if err := Deploy(ctx); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	good := storedTemplate(t, p)

	// Break the playbook in the working tree, then deploy a new template.
	site := filepath.Join(p.Root, "examples", "local", "ansible", "site.yml")
	data, _ := os.ReadFile(site)
	broken := strings.Replace(string(data), "  tasks:\n", "  tasks:\n    - name: Break\n      ansible.builtin.fail:\n        msg: broken on purpose\n", 1)
	os.WriteFile(site, []byte(broken), 0o644)
	t.Setenv("BATON_FORCE", "1")
	t.Setenv("BATON_ROLLBACK_ON_FAILURE", "1")
	err := Deploy(ctx)
	if err == nil || !strings.Contains(err.Error(), "rolled back to the last successful release") {
		t.Fatalf("broken deploy: %v, want it rolled back\n%s", err, out)
	}
	checkAll(t, configuredFrom(t, p), strconv.Itoa(good), 3)
	led, _ := p.Ledger()
	recs, _, _ := led.List(context.Background())
	var sawFailed, sawRollback bool
	for _, r := range recs {
		sawFailed = sawFailed || (r.Target == "deploy" && r.Status == "failed")
		sawRollback = sawRollback || (r.Target == "rollback" && r.Succeeded() && r.RollbackOf != "")
	}
	if !sawFailed || !sawRollback {
		t.Errorf("records: failed deploy %v, rollback %v; want both", sawFailed, sawRollback)
	}
}

// The lab's handoffs, as examples/local/baton.hcl names them.
var (
	labTemplate  = handoff.NewTemplateID("packer.image.artifact_id")
	labInventory = handoff.NewInventory("terraform.hosts.ansible_inventory")
)

// labDir is the lab's directory of images, keys and hosts.
func labDir(p *Project) string { return filepath.Join(p.State, "lab") }
