package targets

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/ledger"
)

// The lab's staging and production, end to end: staging deploys (one
// Packer build); HEAD moves on; promote gives production staging's
// template from staging's commit with no build; status shows both; a
// failed staging validate, then a staging rollback, each stop the next
// promotion before anything runs.
func TestPromoteStagingToProductionE2E(t *testing.T) {
	labProject(t)
	root := os.Getenv("BATON_ROOT")
	port, _ := strconv.Atoi(os.Getenv("BATON_LAB_PORT"))
	testlab.Reap(t, root, append(testlab.Addrs(21, 22), testlab.Addrs(31, 32)...), port)
	t.Setenv("BATON_HOSTS", "1")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", root, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	os.WriteFile(filepath.Join(root, ".gitignore"), []byte(".baton/\n"), 0o644)
	git("add", "-A")
	git("commit", "-qm", "lab")
	staged := git("rev-parse", "HEAD")
	ctx := context.Background()
	t.Cleanup(func() {
		for _, env := range []string{"production", "staging"} {
			os.Setenv("BATON_ENV", env)
			_ = Destroy(context.Background())
		}
	})
	builds := func() int {
		ids, _ := filepath.Glob(filepath.Join(root, ".baton", "shared", "lab-registry", "*", "id"))
		return len(ids)
	}

	t.Setenv("BATON_ENV", "staging")
	if err := Deploy(ctx); err != nil {
		t.Fatalf("staging deploy: %v\n%s", err, stdout)
	}
	if n := builds(); n != 1 {
		t.Fatalf("staging's deploy made %d images, want 1", n)
	}
	sp, err := LoadProject()
	if err != nil {
		t.Fatal(err)
	}
	stagingTemplate := storedTemplate(t, sp)

	// HEAD moves on; production must still get what staging ran.
	site := filepath.Join(root, "examples", "local", "ansible", "site.yml")
	data, _ := os.ReadFile(site)
	os.WriteFile(site, append(data, []byte("# moved on\n")...), 0o644)
	git("commit", "-qam", "moved on")

	t.Setenv("BATON_ENV", "production")
	if err := Deploy(ctx); err == nil || !strings.Contains(err.Error(), "promote staging production") {
		t.Errorf("a plain deploy to production: %v, want a refusal naming promote", err)
	}
	if err := Promote(ctx, "staging", "production"); err != nil {
		t.Fatalf("promote: %v\n%s", err, stdout)
	}
	if n := builds(); n != 1 {
		t.Errorf("after the promotion there are %d images, want staging's 1 (no Packer build)", n)
	}
	pp, err := LoadProject()
	if err != nil {
		t.Fatal(err)
	}
	if got := storedTemplate(t, pp); got != stagingTemplate {
		t.Errorf("production runs template %d, staging ran %d", got, stagingTemplate)
	}
	checkAll(t, configuredFrom(t, pp), strconv.Itoa(stagingTemplate), 1)
	rec := latest(t, pp, "promote")
	if rec.PromotedFrom == nil || rec.PromotedFrom.Env != "staging" || rec.GitCommit != staged || !rec.Succeeded() {
		t.Errorf("promotion record: from %+v, commit %s, status %s; want from staging, commit %s, succeeded", rec.PromotedFrom, rec.GitCommit, rec.Status, staged)
	}

	// Staging is only read: its history holds its own runs alone.
	led, _ := sp.Ledger()
	recs, _, _ := led.List(ctx)
	for _, r := range recs {
		if r.Env != "staging" || r.Target == "promote" {
			t.Errorf("staging's history holds %s run %s of %s", r.Target, r.RunID, r.Env)
		}
	}
	// Production's lock is the promotion's: held by another, it is refused.
	pl, _ := pp.Ledger()
	unlock, err := pl.Lock(ctx, "production", ledger.Holder{RunID: "other", Target: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Promote(ctx, "staging", "production"); err == nil || !strings.Contains(err.Error(), "other") {
		t.Errorf("promote while production is locked: %v, want the holder named", err)
	}
	unlock()

	out := &syncBuffer{}
	old := stdout
	stdout = out
	err = Status(ctx)
	stdout = old
	if err != nil || !strings.Contains(out.String(), "production runs what staging runs") || !strings.Contains(out.String(), "promoted from staging") {
		t.Errorf("status: %v\n%s", err, out)
	}

	// Staging's host dies; its validate fails; no promotion after that.
	pid, _ := os.ReadFile(filepath.Join(labDir(sp), "hosts", "db-1", "sshd.pid"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
		t.Fatalf("killing staging's db-1: %v", err)
	}
	t.Setenv("BATON_ENV", "staging")
	if err := Validate(ctx); err == nil {
		t.Fatal("staging's validate passed with its host dead")
	}
	t.Setenv("BATON_ENV", "production")
	newest := func() string {
		recs, _, err := pl.List(ctx)
		if err != nil || len(recs) == 0 {
			t.Fatalf("production's history: %v, %d runs", err, len(recs))
		}
		return recs[0].RunID
	}
	before := newest()
	if err := Promote(ctx, "staging", "production"); err == nil || !strings.Contains(err.Error(), "the last validate on staging") {
		t.Errorf("promote after a failed validate: %v, want a refusal naming it", err)
	}
	if after := newest(); after != before {
		t.Errorf("a refused promotion was recorded as run %s", after)
	}

	// Staging deploys HEAD (recreating its dead host), then rolls back to
	// the release before: a rolled-back release is not promoted either.
	t.Setenv("BATON_ENV", "staging")
	if err := Deploy(ctx); err != nil {
		t.Fatalf("staging's second deploy: %v\n%s", err, stdout)
	}
	if err := Rollback(ctx); err != nil {
		t.Fatalf("staging's rollback: %v\n%s", err, stdout)
	}
	t.Setenv("BATON_ENV", "production")
	if err := Promote(ctx, "staging", "production"); err == nil || !strings.Contains(err.Error(), "staging's release was rolled back") {
		t.Errorf("promote after a staging rollback: %v, want a refusal naming it", err)
	}
	if after := newest(); after != before {
		t.Errorf("a refused promotion was recorded as run %s", after)
	}
}
