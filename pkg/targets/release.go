package targets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/baton-deploy/baton/pkg/handoff"
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

// isRelease reports whether a record deployed a template: a successful
// run that used or gave a template ID and ran Terraform.
func isRelease(r *ledger.Record) bool {
	if !r.Succeeded() || r.Mode != string(pipeline.ModeRun) || r.Handoffs[handoff.TemplateID.Name()].Text == "" {
		return false
	}
	for _, s := range r.Stages {
		if s.Name == StageTerraform && (s.Status == pipeline.StatusSucceeded || s.Status == pipeline.StatusSkipped) {
			return true
		}
	}
	return false
}

// pickRelease finds the release to go back to: the run named, or the last
// release whose template differs from the current one's.
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
	current := releases[0].Handoffs[handoff.TemplateID.Name()].Text
	for _, r := range releases[1:] {
		if r.Handoffs[handoff.TemplateID.Name()].Text != current {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no release before the current one (template %s) in the history", current)
}

// rollbackTo rolls p back to run, or to the release before the current
// one; n, when set, is the notifier of the deploy that failed.
func rollbackTo(ctx context.Context, p *Project, run string, afterFailure bool, n *notify.Notifier) error {
	led, err := p.Ledger()
	if err != nil {
		return err
	}
	recs, _, err := led.List()
	if err != nil {
		return err
	}
	target, err := pickRelease(recs, run, afterFailure)
	if err != nil {
		return err
	}
	tid := target.Handoffs[handoff.TemplateID.Name()].Text
	fmt.Fprintf(stdout, "rolling back %s to run %s: template %s, commit %s\n", p.Env, target.RunID, tid, short(target.GitCommit))
	if target.GitDirty {
		fmt.Fprintf(stdout, "note: run %s was deployed from uncommitted changes; its playbooks are taken from commit %s as committed\n", target.RunID, short(target.GitCommit))
	}
	if target.GitCommit != "" {
		// The working tree may differ from the release's commit even at the
		// same HEAD (uncommitted changes): take the commit as it was.
		if head, dirty := gitState(p.Root); head != target.GitCommit || dirty {
			dir, cleanup, err := worktree(ctx, p.Root, target.GitCommit)
			if err != nil {
				return err
			}
			defer cleanup()
			p.AnsibleRoot = dir
		}
	}
	_, err = execute(ctx, p, job{
		target: "rollback", mode: pipeline.ModeRun, force: true, rollbackOf: target.RunID,
		only:   []string{StageTerraform, StageWait, StageAnsible},
		args:   map[string]string{handoff.TemplateID.Name(): tid},
		notify: n,
	})
	if err != nil {
		return interrupted(p, err)
	}
	fmt.Fprintln(stdout, "\nvalidating the rolled-back release:")
	return Validate(ctx)
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
