package targets

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/ledger"
)

// The test binary is also the baton the fault-injection test kills: with
// BATON_FAULTS_CHILD=deploy it runs one deploy as `mage deploy` would —
// Ctrl-C (SIGINT) cancels it — and exits.
func TestMain(m *testing.M) {
	if os.Getenv("BATON_FAULTS_CHILD") == "deploy" {
		os.Exit(faultChild())
	}
	os.Exit(m.Run())
}

func faultChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := Deploy(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		return 1
	}
	return 0
}

// TestDeadHostIsRecreatedE2E: a lab host whose sshd died is seen by the
// next deploy, which replaces what made it (the lab sets
// replace_unreachable) and configures the new host; without
// replace_unreachable the deploy fails in the Terraform stage, naming the
// host and how to recreate it, and never waits for SSH; so does a plan
// whose other changes leave the dead host dead.
func TestDeadHostIsRecreatedE2E(t *testing.T) {
	p, out := labProject(t)
	t.Setenv("BATON_HOSTS", "1")
	ctx := context.Background()
	if err := Deploy(ctx); err != nil {
		t.Fatalf("first deploy: %v\n%s", err, out)
	}
	killHost := func() {
		t.Helper()
		host := filepath.Join(labDir(p), "hosts", "db-1")
		data, err := os.ReadFile(filepath.Join(host, "sshd.pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("killing db-1's sshd %d: %v", pid, err)
		}
		for i := 0; i < 500 && len(testlab.Listening([]string{"127.0.0.11"}, labPort(t))) > 0; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if up := testlab.Listening([]string{"127.0.0.11"}, labPort(t)); len(up) > 0 {
			t.Fatalf("db-1 still listens after its sshd was killed")
		}
		// Whatever configures the host next must be this run's Ansible.
		os.Remove(filepath.Join(host, "root", "etc", "baton", "configured-from"))
	}

	killHost()
	mark := len(out.String())
	if err := Deploy(ctx); err != nil {
		t.Fatalf("deploy with db-1 dead: %v\n%s", err, since(out, mark))
	}
	console := since(out, mark)
	for _, want := range []string{"hosts it made do not answer SSH: db-1", "replace_unreachable: replacing terraform_data.host[0]"} {
		if !strings.Contains(console, want) {
			t.Errorf("the deploy did not say %q:\n%s", want, console)
		}
	}
	if up := testlab.Listening([]string{"127.0.0.11"}, labPort(t)); len(up) != 1 {
		t.Errorf("db-1 is not listening after the deploy")
	}
	checkAll(t, configuredFrom(t, p), strconv.Itoa(storedTemplate(t, p)), 1)

	// Without replace_unreachable: fail at once, and say how.
	hcl := filepath.Join(p.Root, "examples", "local", "baton.hcl")
	data, _ := os.ReadFile(hcl)
	if err := os.WriteFile(hcl, []byte(strings.Replace(string(data), "replace_unreachable = true", "replace_unreachable = false", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	killHost()
	mark = len(out.String())
	err := Deploy(ctx)
	console = since(out, mark)
	for _, want := range []string{"db-1 (127.0.0.11:", "connection refused", "Terraform sees nothing to change",
		`set replace_unreachable = true in the terraform "hosts" block of baton.hcl`, "-replace='terraform_data.host[0]'"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("deploy error does not say %q: %v", want, err)
		}
	}
	rec := latest(t, p, "deploy")
	if rec.Status != "failed" {
		t.Errorf("record status %q, want failed", rec.Status)
	}
	if seen(t, p, rec.RunID, func(e logEvent) bool { return e.Kind == "stage.started" && e.Stage == "ansible.configure.wait" }) {
		t.Errorf("the wait for SSH ran after the Terraform stage failed:\n%s", console)
	}

	// A plan with other changes (a second host) that leaves db-1 dead is
	// refused the same way, before anything of it is applied.
	t.Setenv("BATON_HOSTS", "2")
	err = Deploy(ctx)
	for _, want := range []string{"db-1 (127.0.0.11:", "the plan changes other things but does not replace what makes them, and nothing of it was applied",
		"-replace='terraform_data.host[0]'"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("deploy of a second host with db-1 dead: error does not say %q: %v", want, err)
		}
	}
	if up := testlab.Listening([]string{"127.0.0.12"}, labPort(t)); len(up) != 0 {
		t.Errorf("the second host was made although the plan was refused")
	}
}

func labPort(t *testing.T) int {
	port, err := strconv.Atoi(os.Getenv("BATON_LAB_PORT"))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestFaultInjectionE2E kills a real, separate baton process at each stage
// of a deploy — packer, terraform, the wait for SSH, ansible — three times
// a stage, alternating kill -9 and SIGINT; each kill is triggered by the
// stage's first event in the run's log.jsonl, never by a sleep. After
// each: no process of the run survives (the tools, their supervisors,
// Ansible's ssh ControlMasters — anything carrying the run's marker in its
// environment, apart from the lab hosts the next deploy reuses), the
// environment lock is free, the run is recorded as interrupted (kill -9)
// or cancelled (SIGINT), and the next deploy succeeds.
func TestFaultInjectionE2E(t *testing.T) {
	p, out := labProject(t)
	t.Setenv("BATON_HOSTS", "1")
	ctx := context.Background()
	start := time.Now()
	if err := Deploy(ctx); err != nil {
		t.Fatalf("first deploy: %v\n%s", err, out)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Packer and Terraform are skipped when unchanged: the runs killed in
	// them are forced, so that their tools really run.
	stages := []struct {
		name  string
		force bool
		event func(e logEvent) bool
	}{
		{"packer.image", true, toolLine("packer.image", "packer")},
		{"terraform.hosts", true, toolLine("terraform.hosts", "terraform")},
		{"ansible.configure.wait", false, func(e logEvent) bool { return e.Kind == "stage.started" && e.Stage == "ansible.configure.wait" }},
		{"ansible.configure", false, toolLine("ansible.configure", "ansible-playbook")},
	}
	for si, st := range stages {
		for i := 0; i < 3; i++ {
			sig := syscall.SIGKILL
			if (si+i)%2 == 1 {
				sig = syscall.SIGINT
			}
			t.Run(fmt.Sprintf("%s/%d-%s", st.name, i+1, sigName(sig)), func(t *testing.T) {
				killAt(t, p, exe, st.force, st.event, sig)
				mark := len(out.String())
				if err := Deploy(ctx); err != nil {
					t.Fatalf("the deploy after the kill: %v\n%s", err, since(out, mark))
				}
			})
			if t.Failed() {
				return
			}
		}
	}
	t.Logf("fault injection: 12 kills and 13 deploys in %s", time.Since(start).Round(time.Second))
}

func sigName(s syscall.Signal) string {
	if s == syscall.SIGKILL {
		return "kill9"
	}
	return "sigint"
}

type logEvent struct {
	Kind  string `json:"kind"`
	RunID string `json:"run_id"`
	Stage string `json:"stage"`
	Line  string `json:"line"`
}

// toolLine matches the stage's log line that starts tool ("$ /usr/bin/tool …").
func toolLine(stage, tool string) func(logEvent) bool {
	return func(e logEvent) bool {
		f := strings.Fields(e.Line)
		return e.Kind == "log" && e.Stage == stage && len(f) > 1 && f[0] == "$" && filepath.Base(f[1]) == tool
	}
}

// killAt starts a deploy in a child process, sends it sig when the run's
// log.jsonl has an event matching at, and checks what the kill left.
func killAt(t *testing.T, p *Project, exe string, force bool, at func(logEvent) bool, sig syscall.Signal) {
	t.Helper()
	marker := fmt.Sprintf("faults-%d-%d", os.Getpid(), time.Now().UnixNano())
	before := runDirs(p)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "BATON_FAULTS_CHILD=deploy", "BATON_FAULTS_RUN="+marker)
	if force {
		cmd.Env = append(cmd.Env, "BATON_FORCE=1")
	}
	var childOut testlab.Buffer
	cmd.Stdout, cmd.Stderr = &childOut, &childOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()

	// The trigger: bounded by count and time, never a sleep to guess with.
	runID := ""
	for n := 0; runID == "" || !seen(t, p, runID, at); n++ {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the deploy ended (%v) before the event to kill it at:\n%s", err, childOut.String())
		default:
		}
		if n > 12000 {
			t.Fatalf("no such event after 4 minutes:\n%s", childOut.String())
		}
		if runID == "" {
			runID = newRun(p, before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The scan sees the run: baton itself carries the marker.
	if len(runProcs(p, marker)) == 0 {
		t.Fatal("no process carries the run's marker while it runs: the scan for survivors cannot see them")
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err == nil {
			t.Fatalf("the deploy succeeded though it got %s:\n%s", sigName(sig), childOut.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("baton did not exit within 2 minutes of %s:\n%s", sigName(sig), childOut.String())
	}

	// No process of the run survives it. The supervisors kill what a
	// killed baton left: give them a bounded moment.
	var left []testlab.Proc
	for i := 0; i < 1000; i++ {
		if left = runProcs(p, marker); len(left) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("after %s, processes of the run are still running: %v", sigName(sig), left)
		for _, pr := range left {
			syscall.Kill(pr.PID, syscall.SIGKILL)
		}
	}
	led, err := p.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := led.Lock(context.Background(), p.Env, ledger.Holder{RunID: "after-" + marker})
	if err != nil {
		t.Errorf("the lock is still held after %s: %v", sigName(sig), err)
	} else {
		unlock()
	}
	want := "interrupted"
	if sig == syscall.SIGINT {
		want = "cancelled"
	}
	recs, _, _ := led.List(context.Background())
	var got string
	for _, r := range recs {
		if r.RunID == runID {
			got = r.Status
		}
	}
	if got != want {
		t.Errorf("run %s is recorded %q after %s, want %q\n%s", runID, got, sigName(sig), want, childOut.String())
	}
}

func runDirs(p *Project) map[string]bool {
	m := map[string]bool{}
	ents, _ := os.ReadDir(filepath.Join(p.State, "runs"))
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m
}

// newRun is the run directory that was not there before, if any.
func newRun(p *Project, before map[string]bool) string {
	for id := range runDirs(p) {
		if !before[id] {
			if _, err := os.Stat(filepath.Join(p.State, "runs", id, "log.jsonl")); err == nil {
				return id
			}
		}
	}
	return ""
}

// seen reports whether the run's log.jsonl has an event matching at.
func seen(t *testing.T, p *Project, runID string, at func(logEvent) bool) bool {
	f, err := os.Open(filepath.Join(p.State, "runs", runID, "log.jsonl"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e logEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil && at(e) {
			return true
		}
	}
	return false
}

// runProcs are the processes carrying the run's marker in their
// environment, but for the lab's host daemons and what they run: the
// hosts a deploy starts outlive it by design.
func runProcs(p *Project, marker string) []testlab.Proc {
	procs := testlab.Procs()
	byPID := map[int]testlab.Proc{}
	for _, pr := range procs {
		byPID[pr.PID] = pr
	}
	hosts := filepath.Join(labDir(p), "hosts") + string(filepath.Separator)
	isHost := func(pr testlab.Proc) bool {
		for i := 0; i < 64 && pr.PID > 1; i++ {
			if strings.Contains(pr.Cmdline, "sshd") && strings.Contains(pr.Cmdline, hosts) {
				return true
			}
			next, ok := byPID[pr.PPID]
			if !ok {
				return false
			}
			pr = next
		}
		return false
	}
	var left []testlab.Proc
	for _, pr := range procs {
		for _, kv := range testlab.Environ(pr.PID) {
			if kv == "BATON_FAULTS_RUN="+marker {
				if !isHost(pr) {
					left = append(left, pr)
				}
				break
			}
		}
	}
	return left
}
