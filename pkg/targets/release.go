package targets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/notify"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Rollback returns to the last successful release before the current one:
// Terraform re-applies that release's template ID and Ansible runs that
// release's playbooks (from a temporary git worktree of its commit), then
// validate runs. It is recorded as a run of its own.
func Rollback(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	return rollbackTo(ctx, p, "", false, nil)
}

// RollbackTo returns to the release a given run made: `rollbackto
// 20261123T021745-f3cf` (a unique prefix of the run ID is enough).
func RollbackTo(ctx context.Context, run string) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	return rollbackTo(ctx, p, run, false, nil)
}

// isRelease reports whether a record deployed a release: a successful
// run that ran (or found unchanged) a Terraform stage.
func isRelease(r *ledger.Record) bool {
	if !r.Succeeded() || r.Mode != string(pipeline.ModeRun) {
		return false
	}
	for _, s := range r.Stages {
		if strings.HasPrefix(s.Name, "terraform.") && (s.Status == pipeline.StatusSucceeded || s.Status == pipeline.StatusSkipped) {
			return true
		}
	}
	return false
}

// releaseKey is what makes a release: its artifacts and its commit.
func releaseKey(r *ledger.Record) string {
	return artifactText(r) + "@" + r.GitCommit
}

// artifactText lists a record's artifact IDs: "8025", or
// "packer.a=8025 packer.b=8026" with several.
func artifactText(r *ledger.Record) string {
	var names []string
	for n, h := range r.Handoffs {
		if isArtifact(n) && h.Text != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 1 {
		return r.Handoffs[names[0]].Text
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = strings.TrimSuffix(n, ".artifact_id") + "=" + r.Handoffs[n].Text
	}
	return strings.Join(parts, " ")
}

// pickRelease finds the release to go back to: the run named, or the last
// release whose artifacts or commit differ from the current one's.
func pickRelease(recs []*ledger.Record, run string, afterFailure bool) (*ledger.Record, error) {
	var releases []*ledger.Record
	for _, r := range recs {
		if isRelease(r) {
			releases = append(releases, r)
		}
	}
	if run != "" {
		for _, r := range recs {
			if r.RunID == run || (len(run) >= 4 && strings.HasPrefix(r.RunID, run)) {
				if !isRelease(r) {
					return nil, fmt.Errorf("run %s did not deploy a release (%s, %s): pick one from `go run mage.go history`", r.RunID, r.Target, r.Status)
				}
				return r, nil
			}
		}
		return nil, fmt.Errorf("no run %q in the history: `go run mage.go history` lists them", run)
	}
	if len(releases) == 0 {
		return nil, errors.New("no successful release in the history to roll back to: `go run mage.go destroy` removes everything")
	}
	if afterFailure {
		return releases[0], nil // the last good one: what the failed deploy replaced
	}
	current := releaseKey(releases[0])
	for _, r := range releases[1:] {
		if releaseKey(r) != current {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no release before the current one (%s, commit %s) in the history", orDash(artifactText(releases[0])), short(releases[0].GitCommit))
}

// rollbackTo rolls p back to run, or to the release before the current
// one; n, when set, is the notifier of the deploy that failed. The
// release's commit is checked out (a temporary git worktree) and its
// pipeline file and directories run, with the release's artifacts: every
// stage but the Packer builds runs again.
func rollbackTo(ctx context.Context, p *Project, run string, afterFailure bool, n *notify.Notifier) error {
	led, err := p.Ledger()
	if err != nil {
		return err
	}
	recs, _, err := led.List(ctx)
	if err != nil {
		return err
	}
	target, err := pickRelease(recs, run, afterFailure)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rolling back %s to run %s: %s, commit %s\n", p.Env, target.RunID, orDash(artifactText(target)), short(target.GitCommit))
	if target.GitDirty {
		fmt.Fprintf(stdout, "note: run %s was deployed from uncommitted changes; its files are taken from commit %s as committed\n", target.RunID, short(target.GitCommit))
	}
	rp := p
	if target.GitCommit != "" {
		// The working tree may differ from the release's commit even at the
		// same HEAD (uncommitted changes): take the commit as it was.
		if head, dirty := gitState(p.Config.Dir); head != target.GitCommit || dirty {
			q, cleanup, err := p.atCommit(ctx, target.GitCommit)
			if err != nil {
				return err
			}
			defer cleanup()
			rp = q
		}
	}
	args := map[string]string{}
	for name, h := range target.Handoffs {
		if isArtifact(name) && h.Text != "" {
			args[name] = h.Text
		}
	}
	var only []string
	for _, s := range rp.Config.Stages {
		if s.Kind != config.Packer {
			only = append(only, names(s)...)
		}
	}
	_, err = execute(ctx, rp, job{
		target: "rollback", mode: pipeline.ModeRun, force: true, rollbackOf: target.RunID,
		only: only, args: args, notify: n,
	})
	if err != nil {
		return interrupted(p, err)
	}
	fmt.Fprintln(stdout, "\nvalidating the rolled-back release:")
	return Validate(ctx)
}

// atCommit is p with its pipeline file and directories as they were at
// commit, from a temporary git worktree; the state stays p's. Terraform
// state kept in a configuration's directory (no backend, or a local one)
// is linked into the worktree, so that the rollback changes the hosts the
// state knows instead of making new ones.
func (p *Project) atCommit(ctx context.Context, commit string) (*Project, func(), error) {
	top, err := gitTop(p.Config.Dir)
	if err != nil {
		return nil, nil, err
	}
	dir, cleanup, err := worktree(ctx, top, commit)
	if err != nil {
		return nil, nil, err
	}
	relFile, err := filepath.Rel(top, p.File)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	q, err := loadProject(p.Root, filepath.Join(dir, relFile), p.Env)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("the pipeline file at commit %s: %w", short(commit), err)
	}
	for _, s := range p.stagesOf(config.Terraform) {
		relDir, err := filepath.Rel(top, s.Dir)
		if err != nil || strings.HasPrefix(relDir, "..") {
			continue
		}
		for _, name := range []string{"terraform.tfstate", "terraform.tfstate.d"} {
			live := filepath.Join(s.Dir, name)
			there := filepath.Join(dir, relDir, name)
			if fileExists(live) && !fileExists(there) {
				if err := os.Symlink(live, there); err != nil {
					cleanup()
					return nil, nil, fmt.Errorf("linking %s into the release's checkout: %w", live, err)
				}
			}
		}
	}
	return q, cleanup, nil
}

// gitTop is the top of the git checkout that holds dir.
func gitTop(dir string) (string, error) {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("%s is not in a git checkout, so no release can be checked out: %w", dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// worktree checks out commit into a temporary git worktree.
func worktree(ctx context.Context, root, commit string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "baton-release-")
	if err != nil {
		return "", nil, err
	}
	os.Remove(dir) // git wants to make it
	out, err := exec.CommandContext(ctx, "git", "-C", root, "worktree", "add", "--detach", dir, commit).CombinedOutput()
	if err != nil {
		return "", nil, fmt.Errorf("git worktree add %s: %v: %s", short(commit), err, strings.TrimSpace(string(out)))
	}
	return dir, func() {
		_ = exec.Command("git", "-C", root, "worktree", "remove", "--force", dir).Run()
		_ = os.RemoveAll(dir)
	}, nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	if commit == "" {
		return "(unknown)"
	}
	return commit
}
