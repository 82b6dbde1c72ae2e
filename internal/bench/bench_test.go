package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/sshwait"
	"github.com/baton-deploy/baton/pkg/stages"
	"github.com/baton-deploy/baton/pkg/targets"
)

// lab is a project root with a copy of examples/local and its own ports.
type lab struct {
	root, repo  string
	port, app   int
	hosts       int
	state, labd string
}

func newLab(b *testing.B, hosts int) *lab {
	b.Helper()
	for _, tool := range []string{"packer", "terraform", "ansible-playbook", "sshd"} {
		testlab.Require(b, tool)
	}
	repo, _ := filepath.Abs("../..")
	l := &lab{root: b.TempDir(), repo: repo, port: freePort(b), app: freePort(b), hosts: hosts}
	copyTree(b, filepath.Join(repo, "examples", "local"), filepath.Join(l.root, "examples", "local"))
	// Runs last, after the destroy below: no host of the lab survives it.
	testlab.Reap(b, l.root, testlab.Addrs(11, hosts+1), l.port)
	rc := filepath.Join(l.root, "terraform.rc")
	os.WriteFile(rc, nil, 0o600)
	for k, v := range map[string]string{
		"BATON_ROOT": l.root, "BATON_PIPELINE": "", "BATON_ENV": "", "BATON_HOSTS": strconv.Itoa(hosts),
		"BATON_LAB_PORT": strconv.Itoa(l.port), "BATON_APP_PORT": strconv.Itoa(l.app), "TF_CLI_CONFIG_FILE": rc,
	} {
		b.Setenv(k, v)
	}
	l.state = filepath.Join(l.root, "state")
	l.labd = filepath.Join(l.root, "lab")
	os.MkdirAll(filepath.Join(l.labd, "registry"), 0o700)
	os.MkdirAll(l.state, 0o700)
	targets.SetOutput(io.Discard)
	b.Cleanup(func() {
		l.destroyScripts()
		targets.Destroy(context.Background())
	})
	return l
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.11:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func copyTree(b *testing.B, src, dst string) {
	filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, _ := os.ReadFile(path)
		info, _ := d.Info()
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
}

// script runs one of the shell flows.
func (l *lab) script(b *testing.B, name string) time.Duration {
	b.Helper()
	start := time.Now()
	cmd := exec.Command("sh", name, l.root, l.labd, l.state, strconv.Itoa(l.port), strconv.Itoa(l.app), strconv.Itoa(l.hosts))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", name, err, out)
	}
	return time.Since(start)
}

// destroyScripts removes what the shell flows made.
func (l *lab) destroyScripts() {
	for _, way := range []string{"seed", "floor"} {
		state := filepath.Join(l.state, way+".tfstate")
		if _, err := os.Stat(state); err != nil {
			continue
		}
		cmd := exec.Command("terraform", "destroy", "-input=false", "-auto-approve", "-var", "template_id=8025",
			"-var", "lab_dir="+l.labd, "-var", "ssh_port="+strconv.Itoa(l.port), "-var", "app_port="+strconv.Itoa(l.app), "-var", "host_count="+strconv.Itoa(l.hosts))
		cmd.Dir = filepath.Join(l.root, "examples", "local", "terraform")
		cmd.Env = append(os.Environ(), "TF_DATA_DIR="+filepath.Join(l.state, way+"-tf"))
		cmd.Run()
		os.Remove(state)
	}
}

// cpu is this process's own CPU time: baton's, without its tools'.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss // KiB on Linux
}

// BenchmarkDeploy runs a full deploy of the lab three ways, alternating:
// baton, the seed's script, and the floor (the bare commands).
func BenchmarkDeploy(b *testing.B) {
	l := newLab(b, 3)
	ctx := context.Background()
	seed, _ := filepath.Abs("seed-deploy.sh")
	floor, _ := filepath.Abs("floor-deploy.sh")
	var tb, ts, tf, cpuB time.Duration
	rounds := 2
	if os.Getenv("BATON_BENCH_QUICK") == "1" {
		rounds = 1
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			b.Setenv("BATON_FORCE", "1")
			c0 := cpu()
			start := time.Now()
			if err := targets.Deploy(ctx); err != nil {
				b.Fatal(err)
			}
			tb += time.Since(start)
			cpuB += cpu() - c0
			targets.Destroy(ctx)
			tf += l.script(b, floor)
			l.destroyScripts()
			ts += l.script(b, seed)
			l.destroyScripts()
		}
	}
	n := float64(b.N * rounds)
	b.ReportMetric(tb.Seconds()/n, "baton-s")
	b.ReportMetric(tf.Seconds()/n, "floor-s")
	b.ReportMetric(ts.Seconds()/n, "seed-s")
	b.ReportMetric(tb.Seconds()/tf.Seconds(), "baton/floor")
	b.ReportMetric(ts.Seconds()/tb.Seconds(), "seed/baton")
	b.ReportMetric(cpuB.Seconds()/n, "baton-cpu-s")
	b.ReportMetric(float64(maxRSS())/1024, "peak-rss-MiB")
}

// BenchmarkNoopRedeploy compares a redeploy with nothing changed to a full
// deploy.
func BenchmarkNoopRedeploy(b *testing.B) {
	newLab(b, 3)
	ctx := context.Background()
	var full, noop, noopAll time.Duration
	for i := 0; i < b.N; i++ {
		b.Setenv("BATON_FORCE", "1")
		start := time.Now()
		if err := targets.Deploy(ctx); err != nil {
			b.Fatal(err)
		}
		full += time.Since(start)
		b.Setenv("BATON_FORCE", "")
		start = time.Now()
		if err := targets.Deploy(ctx); err != nil {
			b.Fatal(err)
		}
		noop += time.Since(start)
		// Asked to skip an unchanged Ansible too (it still checks the hosts).
		b.Setenv("BATON_SKIP_UNCHANGED_ANSIBLE", "1")
		if err := targets.Deploy(ctx); err != nil { // records Ansible's fingerprint
			b.Fatal(err)
		}
		start = time.Now()
		if err := targets.Deploy(ctx); err != nil {
			b.Fatal(err)
		}
		noopAll += time.Since(start)
		b.Setenv("BATON_SKIP_UNCHANGED_ANSIBLE", "")
		targets.Destroy(ctx)
	}
	b.ReportMetric(full.Seconds()/float64(b.N), "full-s")
	b.ReportMetric(noop.Seconds()/float64(b.N), "noop-s")
	b.ReportMetric(noop.Seconds()/full.Seconds(), "noop/full")
	b.ReportMetric(noopAll.Seconds()/float64(b.N), "noop-skip-ansible-s")
	b.ReportMetric(noopAll.Seconds()/full.Seconds(), "noop-skip-ansible/full")
}

// BenchmarkReadiness starts hosts after a random 1–5 s delay and measures,
// per host, the time from its port opening to sshwait.Wait calling it ready.
func BenchmarkReadiness(b *testing.B) {
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		lat = append(lat, readiness(b, 8)...)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Milliseconds()), "p95-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "max-ms")
}

func readiness(b *testing.B, n int) []time.Duration {
	lab := testlab.New(b, n)
	opened := make([]time.Time, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, h := range lab.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Second + time.Duration(rand.Int64N(int64(4*time.Second))))
			h.Start()
			// The port opens when sshd binds: watch for it closely.
			for k := 0; k < 5000; k++ {
				if c, err := net.DialTimeout("tcp", h.Addr(), 100*time.Millisecond); err == nil {
					c.Close()
					mu.Lock()
					opened[i] = time.Now()
					mu.Unlock()
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	ready := make(map[string]time.Time)
	hosts := make([]sshwait.Host, n)
	for i, h := range lab.Hosts {
		hosts[i] = sshwait.Host{Name: h.Name, Addr: h.Addr(), User: "root"}
	}
	err := sshwait.Wait(context.Background(), hosts, sshwait.Options{
		Signers: []ssh.Signer{lab.Signer}, HostKeys: sshwait.KnownHosts(lab.KnownHosts), Timeout: time.Minute,
		OnReady: func(h sshwait.Host, _ int, _ time.Duration) {
			mu.Lock()
			ready[h.Name] = time.Now()
			mu.Unlock()
		},
	})
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	out := make([]time.Duration, 0, n)
	for i, h := range lab.Hosts {
		d := ready[h.Name].Sub(opened[i])
		if d < 0 {
			d = 0 // the wait saw the port before the watcher did
		}
		out = append(out, d)
	}
	return out
}

// BenchmarkScale waits for and configures 1, 8 and 32 lab hosts.
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			skipOverMaxHosts(b, n)
			testlab.Require(b, "ansible-playbook")
			var wait, play time.Duration
			for i := 0; i < b.N; i++ {
				lab := testlab.Start(b, n)
				hosts := make([]sshwait.Host, n)
				for i, h := range lab.Hosts {
					hosts[i] = sshwait.Host{Name: h.Name, Addr: h.Addr(), User: "root"}
				}
				start := time.Now()
				if err := sshwait.Wait(context.Background(), hosts, sshwait.Options{
					Signers: []ssh.Signer{lab.Signer}, HostKeys: sshwait.KnownHosts(lab.KnownHosts)}); err != nil {
					b.Fatal(err)
				}
				wait += time.Since(start)
				inv := filepath.Join(b.TempDir(), "inventory.json")
				os.WriteFile(inv, lab.Inventory(), 0o600)
				start = time.Now()
				cmd := exec.Command("ansible-playbook", "-i", inv, "scale.yml")
				cmd.Env = append(os.Environ(), "ANSIBLE_PIPELINING=True", "ANSIBLE_FORKS="+strconv.Itoa(min(n, 50)),
					"ANSIBLE_SSH_ARGS=-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile="+lab.KnownHosts)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("ansible: %v\n%s", err, out)
				}
				play += time.Since(start)
			}
			b.ReportMetric(wait.Seconds()*1000/float64(b.N), "wait-ms")
			b.ReportMetric(play.Seconds()/float64(b.N), "ansible-s")
			b.ReportMetric(float64(maxRSS())/1024, "peak-rss-MiB")
		})
	}
}

// BenchmarkAnsibleSettings compares baton's Ansible defaults (pipelining,
// ControlPersist, a fork per host) with Ansible's own on 8 hosts.
func BenchmarkAnsibleSettings(b *testing.B) {
	testlab.Require(b, "ansible-playbook")
	lab := testlab.Start(b, 8)
	inv := filepath.Join(b.TempDir(), "inventory.json")
	os.WriteFile(inv, lab.Inventory(), 0o600)
	run := func(env ...string) time.Duration {
		cmd := exec.Command("ansible-playbook", "-i", inv, "scale.yml")
		cmd.Env = append(append(os.Environ(), "ANSIBLE_HOST_KEY_CHECKING=False"), env...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ansible: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	var fast, plain time.Duration
	for i := 0; i < b.N; i++ {
		fast += run("ANSIBLE_PIPELINING=True", "ANSIBLE_FORKS=8", "ANSIBLE_SSH_ARGS=-o ControlMaster=auto -o ControlPersist=60s")
		plain += run("ANSIBLE_PIPELINING=False", "ANSIBLE_SSH_ARGS=-o ControlMaster=no")
	}
	b.ReportMetric(fast.Seconds()/float64(b.N), "baton-s")
	b.ReportMetric(plain.Seconds()/float64(b.N), "plain-s")
	b.ReportMetric(plain.Seconds()/fast.Seconds(), "plain/baton")
}

// BenchmarkFactCache runs a play that gathers facts on 8 hosts through the
// Ansible stage with a warm fact cache and without one, alternating.
func BenchmarkFactCache(b *testing.B) {
	testlab.Require(b, "ansible-playbook")
	lab := testlab.Start(b, 8)
	inv := filepath.Join(b.TempDir(), "inventory.json")
	os.WriteFile(inv, lab.Inventory(), 0o600)
	wd, _ := os.Getwd()
	cached := &stages.Ansible{Dir: wd, Playbook: "facts.yml", KnownHosts: lab.KnownHosts, FactCache: b.TempDir()}
	plain := &stages.Ansible{Dir: wd, Playbook: "facts.yml", KnownHosts: lab.KnownHosts}
	opts := pipeline.Options{Args: map[string]string{"inventory": inv}}
	runStages(b, opts, cached) // fills the cache
	warm, gather := alternate(b, 2,
		func() time.Duration { return runStages(b, opts, cached) },
		func() time.Duration { return runStages(b, opts, plain) })
	b.ReportMetric(gather.Seconds(), "gather-s")
	b.ReportMetric(warm.Seconds(), "cached-s")
	b.ReportMetric(gather.Seconds()/warm.Seconds(), "gather/cached")
}

// alternate times two ways of doing one thing, rounds times per iteration
// (once under BATON_BENCH_QUICK=1), each going first in every other round
// so that neither always follows the other; it returns their mean times.
func alternate(b *testing.B, rounds int, one, other func() time.Duration) (time.Duration, time.Duration) {
	rounds = quickRounds(rounds)
	var t1, t2 time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			if r%2 == 1 {
				t2 += other()
			}
			t1 += one()
			if r%2 == 0 {
				t2 += other()
			}
		}
	}
	n := time.Duration(b.N * rounds)
	return t1 / n, t2 / n
}

// quickRounds is how many times a benchmark alternates its ways per
// iteration: fewer under BATON_BENCH_QUICK=1.
func quickRounds(full int) int {
	if os.Getenv("BATON_BENCH_QUICK") == "1" {
		return 1
	}
	return full
}

// skipOverMaxHosts skips a row of n hosts when BATON_BENCH_MAX_HOSTS is
// set below n (BATON_BENCH_MAX_HOSTS=8 leaves out the 32-host rows, a
// third of the bench's time on 2 cores).
func skipOverMaxHosts(b *testing.B, n int) {
	b.Helper()
	v := os.Getenv("BATON_BENCH_MAX_HOSTS")
	if v == "" {
		return
	}
	limit, err := strconv.Atoi(v)
	if err != nil || limit < 1 {
		b.Fatalf("BATON_BENCH_MAX_HOSTS=%q: want a number of hosts, such as 8", v)
	}
	if n > limit {
		b.Skipf("%d hosts: over BATON_BENCH_MAX_HOSTS=%d", n, limit)
	}
}

// runStages runs stages in one pipeline, failing b on an error.
func runStages(b *testing.B, opts pipeline.Options, stages ...pipeline.Stage) time.Duration {
	b.Helper()
	p, err := pipeline.New(stages...)
	if err != nil {
		b.Fatal(err)
	}
	opts.Getenv = func(string) string { return "" }
	start := time.Now()
	if _, err := p.Run(context.Background(), opts); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkTerraformInit runs one Terraform stage (init, validate, plan
// with no changes) with init skipped, nothing it depends on having changed,
// and with init forced, alternating.
func BenchmarkTerraformInit(b *testing.B) {
	testlab.Require(b, "terraform")
	rc := filepath.Join(b.TempDir(), "terraform.rc")
	os.WriteFile(rc, nil, 0o600)
	b.Setenv("TF_CLI_CONFIG_FILE", rc)
	dir := filepath.Join(b.TempDir(), "tfinit")
	copyTree(b, "testdata/tfinit", dir)
	state := b.TempDir()
	tf := &stages.Terraform{
		Dir:           dir,
		Set:           map[string]string{"template_id": "8025"},
		BackendConfig: []string{"path=" + filepath.Join(state, "terraform.tfstate")},
		DataDir:       filepath.Join(state, "data"),
	}
	// What the stage keeps of its last init; without it, init runs.
	stamp := filepath.Join(tf.DataDir, "baton-init")
	runStages(b, pipeline.Options{}, tf) // init and apply once
	if _, err := os.Stat(stamp); err != nil {
		b.Fatalf("no init stamp after a run (%v): has the stage's record of its last init moved?", err)
	}
	skipped, forced := alternate(b, 3,
		func() time.Duration { return runStages(b, pipeline.Options{}, tf) },
		func() time.Duration {
			os.Remove(stamp)
			return runStages(b, pipeline.Options{}, tf)
		})
	b.ReportMetric(forced.Seconds(), "init-s")
	b.ReportMetric(skipped.Seconds(), "skip-s")
	b.ReportMetric(forced.Seconds()/skipped.Seconds(), "init/skip")
}

// BenchmarkConcurrentStages runs two independent Packer builds, each
// sleeping 2 s, in one pipeline: at once (the default) and one at a time
// (Parallelism 1), alternating.
func BenchmarkConcurrentStages(b *testing.B) {
	testlab.Require(b, "packer")
	build := func(name string, id int) pipeline.Stage {
		dir := filepath.Join(b.TempDir(), name)
		copyTree(b, "testdata/sleep", dir)
		manifest := filepath.Join(dir, "manifest.json")
		return &stages.Packer{
			StageName: name, Dir: dir, Manifest: manifest, IDKey: "template_id",
			Set:      map[string]string{"manifest": manifest, "template_id": strconv.Itoa(id)},
			Artifact: handoff.NewTemplateID(name + "_template_id"),
		}
	}
	a, c := build("packer_a", 8101), build("packer_b", 8102)
	concurrent, serial := alternate(b, 2,
		func() time.Duration { return runStages(b, pipeline.Options{}, a, c) },
		func() time.Duration { return runStages(b, pipeline.Options{Parallelism: 1}, a, c) })
	b.ReportMetric(concurrent.Seconds(), "concurrent-s")
	b.ReportMetric(serial.Seconds(), "serial-s")
	b.ReportMetric(serial.Seconds()/concurrent.Seconds(), "serial/concurrent")
}
