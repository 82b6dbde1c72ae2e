package targets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// These tests run users' repositories as they are, through a short
// baton.hcl, with the real tools: testdata/userrepo holds one repository
// per shape. The lab stands in for Proxmox: its Terraform (copied into
// each configuration as modules/lab) starts one sshd per host, and its
// build-image.sh (copied into packer/) registers the images.

// userRepo is a user's repository made from testdata/userrepo/<name>: a
// git checkout with one commit, in a temporary directory outside this
// tree, with the lab's module under each of tfDirs and the lab's image
// script under packer/ when there is one.
type userRepo struct {
	t    *testing.T
	Dir  string
	Home string // HOME: ~/.ssh/ansible is the key the hosts accept
}

func newUserRepo(t *testing.T, name string, tfDirs ...string) *userRepo {
	t.Helper()
	for _, tool := range []string{"packer", "terraform", "ansible-playbook", "sshd", "ssh-keygen", "git"} {
		testlab.Require(t, tool)
	}
	base := t.TempDir()
	r := &userRepo{t: t, Dir: filepath.Join(base, "repo"), Home: filepath.Join(base, "home")}
	copyTree(t, filepath.Join("testdata", "userrepo", name), r.Dir)
	if fileExists(filepath.Join(r.Dir, "packer")) {
		copyFile(t, "../../examples/local/packer/build-image.sh", filepath.Join(r.Dir, "packer", "build-image.sh"))
	}
	for _, d := range tfDirs {
		copyLabModule(t, filepath.Join(r.Dir, d, "modules", "lab"))
	}
	// The user's own key, named the way their inventory names it.
	if err := os.MkdirAll(filepath.Join(r.Home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ansible", "-f", filepath.Join(r.Home, ".ssh", "ansible")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	r.git("init", "-q", "-b", "main")
	r.commit("the repository as it is")
	return r
}

// copyLabModule copies the lab's Terraform as a child module: without its
// backend block, which only a root module may have.
func copyLabModule(t *testing.T, dst string) {
	t.Helper()
	copyTree(t, "../../examples/local/terraform", dst)
	main := filepath.Join(dst, "main.tf")
	data, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	const backend = "  backend \"local\" {}\n"
	if !strings.Contains(string(data), backend) {
		t.Fatalf("the lab's main.tf has no %q to take out: update copyLabModule", strings.TrimSpace(backend))
	}
	if err := os.WriteFile(main, []byte(strings.Replace(string(data), backend, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

func (r *userRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.Dir, "-c", "user.name=Ann", "-c", "user.email=ann@example.invalid"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit commits everything and returns the commit.
func (r *userRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// edit replaces old with new in the repository's file at path.
func (r *userRepo) edit(path, old, new string) {
	r.t.Helper()
	p := filepath.Join(r.Dir, path)
	data, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		r.t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// labAddrs are the n loopback addresses the lab's hosts get from base on.
func labAddrs(base, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, "127.0.0."+strconv.Itoa(base+i))
	}
	return out
}

// run points the targets at the repository the way a user in it would
// (BATON_ROOT and BATON_PIPELINE both the repository), with the lab on
// its own addresses from base and a free port, HOME the repository's, and
// the targets' output collected. Whatever happens, destroy runs at the end.
func (r *userRepo) run(base int) (*Project, *syncBuffer, int) {
	t := r.t
	t.Helper()
	port := testlab.FreePort(t, "127.0.0."+strconv.Itoa(base))
	testlab.Reap(t, r.Dir, labAddrs(base, 8), port)
	for k, v := range map[string]string{
		"BATON_ROOT": r.Dir, "BATON_PIPELINE": r.Dir, "BATON_ENV": "", "BATON_FORCE": "",
		"BATON_WRAPPER": "", "BATON_SECRETS": "", "BATON_LEDGER": "", "BATON_ROLLBACK_ON_FAILURE": "",
		"BATON_TEMPLATE_ID": "", "BATON_INVENTORY": "", "BATON_SKIP_UNCHANGED_ANSIBLE": "",
		"HOME": r.Home, "UR_PORT": strconv.Itoa(port), "UR_BASE": strconv.Itoa(base),
	} {
		t.Setenv(k, v)
	}
	p, err := LoadProject()
	if err != nil {
		t.Fatal(err)
	}
	// The hosts accept the user's key: the lab authorizes its client_key.
	lab := filepath.Join(p.State, "lab")
	if err := os.MkdirAll(lab, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(r.Home, ".ssh", "ansible"), filepath.Join(lab, "client_key"))
	copyFile(t, filepath.Join(r.Home, ".ssh", "ansible.pub"), filepath.Join(lab, "client_key.pub"))
	os.Chmod(filepath.Join(lab, "client_key"), 0o600)
	out := &syncBuffer{}
	old := stdout
	stdout = out
	t.Cleanup(func() {
		_ = Destroy(context.Background())
		stdout = old
	})
	return p, out, port
}

// hostFiles reads one file under every lab host's root.
func hostFiles(t *testing.T, p *Project, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	hosts, _ := filepath.Glob(filepath.Join(p.State, "lab", "hosts", "*"))
	for _, h := range hosts {
		data, err := os.ReadFile(filepath.Join(h, "root", rel))
		if err != nil {
			out[filepath.Base(h)] = "missing"
			continue
		}
		out[filepath.Base(h)] = string(data)
	}
	return out
}

// keyValues reads key=value lines.
func keyValues(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// checkHosts wants n hosts whose file rel holds every key=value of want.
func checkHosts(t *testing.T, p *Project, rel string, n int, want map[string]string) {
	t.Helper()
	got := hostFiles(t, p, rel)
	if len(got) != n {
		t.Errorf("%d hosts have %s, want %d: %v", len(got), rel, n, got)
	}
	for h, text := range got {
		kv := keyValues(text)
		for k, v := range want {
			if kv[k] != v {
				t.Errorf("%s: %s says %s=%q, want %q (whole file: %q)", h, rel, k, kv[k], v, text)
			}
		}
	}
}

// stored reads a handoff's stored text.
func stored(t *testing.T, p *Project, def handoff.Def) string {
	t.Helper()
	store, err := p.Store()
	if err != nil {
		t.Fatal(err)
	}
	v, err := store.Get(def)
	if err != nil {
		t.Fatalf("handoff %s: %v", def.Name(), err)
	}
	var s any
	if err := json.Unmarshal(v.Raw, &s); err == nil {
		if str, ok := s.(string); ok {
			return str
		}
	}
	return string(v.Raw)
}

// tfResources counts the resources in a Terraform state file.
func tfResources(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	var st struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state %s: %v", path, err)
	}
	return len(st.Resources)
}

// filesNamed lists the files under dir whose names match pattern.
func filesNamed(dir, pattern string) []string {
	var out []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if ok, _ := filepath.Match(pattern, d.Name()); ok {
				out = append(out, path)
			}
		}
		return nil
	})
	return out
}

// listening reports which of addrs still accept connections on port.
func listening(addrs []string, port int) []string {
	var up []string
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(a, strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			up = append(up, a)
		}
	}
	return up
}

// latest is the newest ledger record of a target.
func latest(t *testing.T, p *Project, target string) *ledger.Record {
	t.Helper()
	led, err := p.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	recs, problems, err := led.List(context.Background())
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	for _, r := range recs {
		if r.Target == target {
			return r
		}
	}
	t.Fatalf("no %s in the history", target)
	return nil
}

// since is what the targets printed after mark.
func since(out *syncBuffer, mark int) string { return out.String()[mark:] }

// Shape A: a Proxmox jump host repository — two Packer templates sharing
// variable names and a var file, Terraform with its own variable name, no
// backend and a jsonencode()d inventory, playbooks in an Ansible
// collection with its ansible.cfg and fully qualified roles.
func TestUserRepoJumpHostE2E(t *testing.T) {
	r := newUserRepo(t, "jumphost", "terraform")
	const base, nHosts = 41, 2
	first := r.git("rev-parse", "HEAD")
	p, out, port := r.run(base)
	ctx := context.Background()
	state := filepath.Join(r.Dir, "terraform", "terraform.tfstate")
	dockerRan := filepath.Join(p.State, "lab", "docker-template-ran")

	// The repository is what issue 14 says: Packer cannot build its
	// directory as a whole.
	validate := exec.Command("packer", "validate", "-var", "registry=/nonexistent", "-var", "manifest=/nonexistent", ".")
	validate.Dir = filepath.Join(r.Dir, "packer")
	if b, err := validate.CombinedOutput(); err == nil || !strings.Contains(string(b), "Duplicate variable") {
		t.Fatalf("packer validate . in the fixture: %v, want Duplicate variable\n%s", err, b)
	}

	// Plan first: changes nothing, makes no state.
	if err := Plan(ctx); err != nil {
		t.Fatalf("plan on a fresh repository: %v\n%s", err, out)
	}
	if fileExists(state) {
		t.Error("plan made Terraform state")
	}

	if err := Deploy(ctx); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	template := stored(t, p, labTemplate)
	if template != "8025" {
		t.Errorf("template %s, want 8025", template)
	}
	// Only the named template was built, with the var file's value.
	if fileExists(dockerRan) {
		t.Error("the other template (ubuntu-server-docker.pkr.hcl) was built too")
	}
	checkHosts(t, p, "etc/baton-image", nHosts, map[string]string{"template_id": "8025", "version": "2.4.1-jump"})
	// The collection's FQCN role ran on every host, from the release's playbooks.
	checkHosts(t, p, "etc/baton/configured-by", nHosts, map[string]string{"role": "acme.jumphost.base", "release": "one", "template": "8025"})
	// The collection's ansible.cfg says forks = 7: it wins over baton's
	// one fork per host.
	checkHosts(t, p, "etc/baton/configured-by", nHosts, map[string]string{"forks": "7"})
	// No backend block: the state stays where the repository keeps it.
	if n := tfResources(t, state); n == 0 {
		t.Errorf("%s holds no resources after the deploy", state)
	}
	if got := filesNamed(filepath.Join(r.Dir, ".baton"), "*.tfstate*"); len(got) > 0 {
		t.Errorf("Terraform state under .baton: %v", got)
	}
	// The record names the repository's commit, not baton's.
	if rec := latest(t, p, "deploy"); rec.GitCommit != first || rec.GitDirty {
		t.Errorf("deploy recorded commit %s (dirty %v), want the repository's %s", rec.GitCommit, rec.GitDirty, first)
	}
	if !strings.Contains(out.String(), "ssh to one:") {
		t.Error("deploy did not say how to reach a host")
	}

	// A second deploy changes nothing.
	mark := len(out.String())
	if err := Deploy(ctx); err != nil {
		t.Fatalf("second deploy: %v\n%s", err, since(out, mark))
	}
	again := since(out, mark)
	for _, want := range []string{"packer.image", "terraform.infra"} {
		if !strings.Contains(again, want+" ") || !stageLine(again, want, "skipped (unchanged)") {
			t.Errorf("second deploy: %s was not skipped as unchanged:\n%s", want, again)
		}
	}
	if !strings.Contains(again, "changed=0") {
		t.Errorf("second deploy changed the hosts:\n%s", again)
	}

	// Validate passes; each stage alone works from the stored handoffs.
	if err := Validate(ctx); err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	if err := Stage2(ctx, "-"); err != nil {
		t.Fatalf("stage2 -: %v\n%s", err, out)
	}
	if err := Stage3(ctx, "-"); err != nil {
		t.Fatalf("stage3 -: %v\n%s", err, out)
	}
	if err := Stage(ctx, "terraform.infra"); err != nil {
		t.Fatalf("stage terraform.infra: %v\n%s", err, out)
	}

	// A second release: new playbooks, committed, and a new image.
	r.edit("ansible_collections/acme/jumphost/roles/base/defaults/main.yml", "base_release: one", "base_release: two")
	second := r.commit("release two")
	t.Setenv("BATON_FORCE", "1")
	if err := Deploy(ctx); err != nil {
		t.Fatalf("deploy of release two: %v\n%s", err, out)
	}
	t.Setenv("BATON_FORCE", "")
	if got := stored(t, p, labTemplate); got != "8026" {
		t.Fatalf("release two's template %s, want 8026", got)
	}
	checkHosts(t, p, "etc/baton/configured-by", nHosts, map[string]string{"release": "two", "template": "8026"})
	if rec := latest(t, p, "deploy"); rec.GitCommit != second {
		t.Errorf("release two recorded commit %s, want %s", rec.GitCommit, second)
	}

	// Rollback: the first release's image and, from its commit, its playbooks.
	if err := Rollback(ctx); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	checkHosts(t, p, "etc/baton/configured-by", nHosts, map[string]string{"release": "one", "template": "8025"})
	rb := latest(t, p, "rollback")
	if !rb.Succeeded() || rb.RollbackOf == "" || rb.GitCommit != first || rb.Handoffs[labTemplate.Name()].Text != "8025" {
		t.Errorf("rollback record: ok %v, of %q, commit %s, template %q; want release one's commit %s and 8025", rb.Succeeded(), rb.RollbackOf, rb.GitCommit, rb.Handoffs[labTemplate.Name()].Text, first)
	}
	if data, _ := os.ReadFile(filepath.Join(r.Dir, "ansible_collections/acme/jumphost/roles/base/defaults/main.yml")); !strings.Contains(string(data), "two") {
		t.Error("rollback changed the working tree")
	}
	if wt := r.git("worktree", "list"); strings.Count(wt, "\n") != 0 {
		t.Errorf("rollback left a worktree:\n%s", wt)
	}
	if got := filesNamed(filepath.Join(r.Dir, ".baton"), "*.tfstate*"); len(got) > 0 {
		t.Errorf("Terraform state under .baton after the rollback: %v", got)
	}
	if n := tfResources(t, state); n == 0 {
		t.Errorf("%s holds no resources after the rollback", state)
	}

	// Destroy: nothing listens, no resources are left, only the history.
	if err := Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	if up := listening(labAddrs(base, nHosts), port); len(up) > 0 {
		t.Errorf("still listening after destroy: %v", up)
	}
	if n := tfResources(t, state); n != 0 {
		t.Errorf("%s holds %d resources after destroy", state, n)
	}
	entries, _ := os.ReadDir(p.State)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != "ledger runs" {
		t.Errorf("destroy left %v in %s, want only ledger and runs", left, p.State)
	}
}

// checkKnownHosts wants the environment's known_hosts to hold every lab
// host's current key, one line per host: accept-new recorded it, and
// forgot the key of a host Terraform replaced.
func checkKnownHosts(t *testing.T, p *Project, port int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.State, "known_hosts"))
	if err != nil {
		t.Errorf("accept-new recorded no keys: %v", err)
		return
	}
	known := strings.Split(strings.TrimSpace(string(data)), "\n")
	hosts, _ := filepath.Glob(filepath.Join(p.State, "lab", "hosts", "*"))
	for _, h := range hosts {
		cfg, _ := os.ReadFile(filepath.Join(h, "sshd_config"))
		pub, _ := os.ReadFile(filepath.Join(h, "ssh_host_ed25519_key.pub"))
		var addr string
		for _, line := range strings.Split(string(cfg), "\n") {
			if a, ok := strings.CutPrefix(line, "ListenAddress "); ok {
				addr, _, _ = strings.Cut(a, ":")
			}
		}
		f := strings.Fields(string(pub))
		if addr == "" || len(f) < 2 {
			t.Errorf("%s: no address or host key", h)
			continue
		}
		name := "[" + addr + "]:" + strconv.Itoa(port)
		var lines []string
		for _, l := range known {
			if strings.HasPrefix(l, name+" ") {
				lines = append(lines, l)
			}
		}
		// A recorded line may end in a comment naming the host.
		if want := name + " " + f[0] + " " + f[1]; len(lines) != 1 || strings.Join(strings.Fields(lines[0])[:3], " ") != want {
			t.Errorf("known_hosts for %s: %q, want only %q", name, lines, want)
		}
	}
}

// stageLine reports whether a line of the console names stage and says what.
func stageLine(console, stage, what string) bool {
	for _, line := range strings.Split(console, "\n") {
		if strings.Contains(line, stage+" ") && strings.Contains(line, what) {
			return true
		}
	}
	return false
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// fakeDoppler puts testdata/userrepo/bin/doppler first on PATH with the
// given secrets (NAME=value) and returns the secrets file.
func fakeDoppler(t *testing.T, secrets map[string]string) {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("testdata", "userrepo", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for k, v := range secrets {
		lines = append(lines, k+"="+v)
	}
	file := filepath.Join(t.TempDir(), "doppler-secrets")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOPPLER_FAKE_SECRETS", file)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// filesHolding lists the files under dir that hold s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if data, err := os.ReadFile(path); err == nil && strings.Contains(string(data), s) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// Shape B: Terraform infra writes an INI inventory that Ansible reads by
// path, then a second Terraform configuration deploys the apps; every tool
// runs under Doppler, the Terraform stages with tf-var names.
func TestUserRepoInfraAnsibleAppsE2E(t *testing.T) {
	r := newUserRepo(t, "portainer", "infra")
	const base, nHosts = 51, 2
	secret := "dp-" + sha256Hex(r.Dir)[:24]
	fakeDoppler(t, map[string]string{"API_TOKEN": secret})
	p, out, port := r.run(base)
	ctx := context.Background()
	// The hosts' VM template exists already, as on a Proxmox node.
	build := exec.Command("sh", "../../examples/local/packer/build-image.sh")
	build.Env = append(os.Environ(), "REGISTRY="+filepath.Join(p.State, "lab", "registry"), "TEMPLATE_ID=9000", "IMAGE_VERSION=9.0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("registering template 9000: %v\n%s", err, b)
	}
	inventory := filepath.Join(r.Dir, "ansible", "inventory", "hosts.ini")

	if err := Deploy(ctx); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	// infra wrote the INI inventory; Ansible read it and configured every
	// host, with the secret Doppler gave it.
	ini, err := os.ReadFile(inventory)
	if err != nil || !strings.HasPrefix(string(ini), "[docker]\n") {
		t.Fatalf("inventory %s: %q, %v", inventory, ini, err)
	}
	checkHosts(t, p, "etc/docker/ready", nHosts, map[string]string{"token_sha256": sha256Hex(secret)})
	checkKnownHosts(t, p, port)
	// The apps took infra's output and gave theirs, stored; the secret
	// reached Terraform as var.api_token.
	endpoint := stored(t, p, handoff.NewValue("terraform.apps.endpoint"))
	if want := "http://127.0.0." + strconv.Itoa(base) + ":9000/monitoring"; endpoint != want {
		t.Errorf("terraform.apps.endpoint = %q, want %q", endpoint, want)
	}
	if got := stored(t, p, handoff.NewValue("terraform.apps.token_sha256")); got != sha256Hex(secret) {
		t.Errorf("apps were deployed with a token whose sha256 is %s, want Doppler's %s", got, sha256Hex(secret))
	}
	if !strings.Contains(out.String(), "smoke test of "+endpoint) {
		t.Errorf("the smoke test did not get the apps' endpoint:\n%s", out)
	}
	// State stays in each configuration's directory.
	for _, d := range []string{"infra", "apps"} {
		if n := tfResources(t, filepath.Join(r.Dir, d, "terraform.tfstate")); n == 0 {
			t.Errorf("%s/terraform.tfstate holds no resources", d)
		}
	}
	// The secret is nowhere in what baton keeps or prints.
	if got := filesHolding(t, filepath.Join(r.Dir, ".baton"), secret); len(got) > 0 {
		t.Errorf("the secret is in %v", got)
	}
	if strings.Contains(out.String(), secret) {
		t.Error("the secret is in the console output")
	}

	// A second deploy changes nothing.
	mark := len(out.String())
	if err := Deploy(ctx); err != nil {
		t.Fatalf("second deploy: %v\n%s", err, since(out, mark))
	}
	for _, st := range []string{"terraform.infra", "terraform.apps"} {
		if !stageLine(since(out, mark), st, "skipped (unchanged)") {
			t.Errorf("second deploy: %s not skipped as unchanged:\n%s", st, since(out, mark))
		}
	}

	if err := Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	if up := listening(labAddrs(base, nHosts), port); len(up) > 0 {
		t.Errorf("still listening after destroy: %v", up)
	}
	if fileExists(inventory) {
		t.Error("destroy left the inventory infra wrote")
	}
	if got := filesHolding(t, filepath.Join(r.Dir, ".baton"), secret); len(got) > 0 {
		t.Errorf("the secret is in %v", got)
	}
}

// TestUserRepoMagefileE2E is the README's set-up in a repository outside
// this tree: a magefile importing the targets, baton's mage.go, and a
// go.mod pointing at this checkout; then `go run mage.go` lists, deploys
// and destroys the jump host repository.
func TestUserRepoMagefileE2E(t *testing.T) {
	goBin := testlab.Require(t, "go")
	r := newUserRepo(t, "jumphost", "terraform")
	checkout, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"magefile.go", "mage.go", "tools.go"} {
		copyFile(t, filepath.Join("testdata", "userrepo", "magefile", f), filepath.Join(r.Dir, f))
	}
	mod, err := os.ReadFile(filepath.Join("testdata", "userrepo", "magefile", "go.mod.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "go.mod"), []byte(strings.ReplaceAll(string(mod), "BATON_CHECKOUT", checkout)), 0o644); err != nil {
		t.Fatal(err)
	}

	// The Go caches are this machine's (the module cache has every
	// dependency); everything else is the user's.
	goEnv := map[string]string{}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		v, err := exec.Command(goBin, "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		goEnv[k] = strings.TrimSpace(string(v))
	}
	const base = 61
	port := testlab.FreePort(t, "127.0.0."+strconv.Itoa(base))
	testlab.Reap(t, r.Dir, labAddrs(base, 8), port)
	env := []string{"HOME=" + r.Home, "MAGEFILE_CACHE=" + filepath.Join(r.Home, ".magefile"),
		"GOFLAGS=-mod=mod", "UR_PORT=" + strconv.Itoa(port), "UR_BASE=" + strconv.Itoa(base)}
	for k, v := range goEnv {
		env = append(env, k+"="+v)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "BATON_") || k == "HOME" || k == "GOFLAGS" || k == "TF_CLI_CONFIG_FILE" || goEnv[k] != "" {
			continue
		}
		env = append(env, kv)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = r.Dir
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	run("mod", "tidy")
	r.commit("baton's targets, through Mage")
	state := filepath.Join(r.Dir, ".baton", "default")
	t.Cleanup(func() {
		// Whatever happened, leave no host running.
		cmd := exec.Command(goBin, "run", "mage.go", "destroy")
		cmd.Dir, cmd.Env = r.Dir, env
		_ = cmd.Run()
	})

	list := run("run", "mage.go", "-l")
	for _, target := range []string{"deploy", "plan", "validate", "rollback", "destroy", "stage"} {
		if !strings.Contains(list, "  "+target) {
			t.Errorf("mage -l lists no %s:\n%s", target, list)
		}
	}
	// The hosts accept the user's key: the lab authorizes its client_key.
	lab := filepath.Join(state, "lab")
	if err := os.MkdirAll(lab, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(r.Home, ".ssh", "ansible"), filepath.Join(lab, "client_key"))
	copyFile(t, filepath.Join(r.Home, ".ssh", "ansible.pub"), filepath.Join(lab, "client_key.pub"))
	os.Chmod(filepath.Join(lab, "client_key"), 0o600)

	deploy := run("run", "mage.go", "deploy")
	if !strings.Contains(deploy, "ssh to one:") {
		t.Errorf("deploy did not say how to reach a host:\n%s", deploy)
	}
	p := &Project{State: state}
	checkHosts(t, p, "etc/baton/configured-by", 2, map[string]string{"role": "acme.jumphost.base", "release": "one", "template": "8025"})

	run("run", "mage.go", "destroy")
	if up := listening(labAddrs(base, 2), port); len(up) > 0 {
		t.Errorf("still listening after destroy: %v", up)
	}
	if n := tfResources(t, filepath.Join(r.Dir, "terraform", "terraform.tfstate")); n != 0 {
		t.Errorf("%d resources left after destroy", n)
	}
}
