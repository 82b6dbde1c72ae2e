package targets

import (
	"context"
	"errors"
	"fmt"

	"github.com/baton-deploy/baton/pkg/deploy"
	"github.com/baton-deploy/baton/pkg/notify"
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
	defer p.Close()
	return rollbackTo(ctx, p, "", false, nil)
}

// RollbackTo returns to the release a given run made: `rollbackto
// 20261123T021745-f3cf` (a unique prefix of the run ID is enough).
func RollbackTo(ctx context.Context, run string) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	return rollbackTo(ctx, p, run, false, nil)
}

// rollbackTo rolls p back to run, or to the release before the current
// one; n, when set, is the notifier of the deploy that failed.
func rollbackTo(ctx context.Context, p *Project, run string, afterFailure bool, n *notify.Notifier) error {
	target, err := p.PickRelease(ctx, run, afterFailure)
	if err != nil {
		return releaseHint(err)
	}
	fmt.Fprintf(stdout, "rolling back %s to run %s: %s, commit %s\n", p.Env, target.RunID, orDash(deploy.ArtifactText(target)), short(target.GitCommit))
	if target.GitDirty {
		fmt.Fprintf(stdout, "note: run %s was deployed from uncommitted changes; its files are taken from commit %s as committed\n", target.RunID, short(target.GitCommit))
	}
	if _, err := p.Rollback(ctx, target, deploy.Job{Notify: n, Hints: hints(p)}); err != nil {
		return interrupted(p, toolsHint(err))
	}
	fmt.Fprintln(stdout, "\nvalidating the rolled-back release:")
	return Validate(ctx)
}

// releaseHint adds to PickRelease's errors what to run instead.
func releaseHint(err error) error {
	if _, ok := errors.AsType[*deploy.NotReleaseError](err); ok {
		return fmt.Errorf("%w: pick one from `go run mage.go history`", err)
	}
	if errors.Is(err, deploy.ErrNoRelease) {
		return fmt.Errorf("%w: `go run mage.go destroy` removes everything", err)
	}
	return historyHint(err)
}

func short(commit string) string { return deploy.ShortCommit(commit) }
