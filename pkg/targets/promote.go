package targets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/deploy"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Promote deploys to environment to the release that last succeeded on
// from: `promote staging production`. The release's artifact IDs are
// deployed again (no Packer build) from its commit of the repository,
// checked out in a temporary git worktree as rollback does, with to's own
// environment block. It is refused before anything runs when from has no
// successful release, its last validate after it failed, its release was
// a rollback, or to requires environments the release has not succeeded
// on. To's lock is held; from is only read.
func Promote(ctx context.Context, from, to string) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	tp, rel, err := planPromotion(ctx, p, from, to)
	if err != nil {
		return fmt.Errorf("promote %s → %s refused, nothing was run: %w", from, to, err)
	}
	if err := ensureTools(ctx, tp, false); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "promoting to %s the release of %s's run %s: %s, commit %s\n", to, from, rel.RunID, orDash(deploy.ArtifactText(rel)), short(rel.GitCommit))
	if rel.GitDirty {
		fmt.Fprintf(stdout, "note: run %s was deployed from uncommitted changes; its files are taken from commit %s as committed\n", rel.RunID, short(rel.GitCommit))
	}
	if _, err := tp.Promote(ctx, from, rel, deploy.Job{Hints: hints(tp)}); err != nil {
		return interrupted(tp, toolsHint(err))
	}
	printHosts(tp)
	return nil
}

// planPromotion checks a promotion and returns to's project and the
// release to deploy there.
func planPromotion(ctx context.Context, p *Project, from, to string) (*Project, *ledger.Record, error) {
	for _, e := range []string{from, to} {
		if err := config.ValidEnv(e); err != nil {
			return nil, nil, err
		}
	}
	if from == to {
		return nil, nil, fmt.Errorf("from and to are both %s: name two environments, such as `promote staging production`", from)
	}
	// Both must be environments the file declares (when it declares any).
	if _, err := p.ForEnv(from); err != nil {
		return nil, nil, err
	}
	tp, err := p.ForEnv(to)
	if err != nil {
		return nil, nil, err
	}
	pr := promotion{from: from, to: to, required: map[string][]*ledger.Record{}}
	if pr.fromRecs, err = envHistory(ctx, p, from); err != nil {
		return nil, nil, err
	}
	if e := tp.Config.Environment(to); e != nil {
		pr.requires = e.Requires
	}
	for _, r := range pr.requires {
		if r == from {
			continue
		}
		var err error
		if pr.required[r], err = envHistory(ctx, p, r); err != nil {
			return nil, nil, err
		}
	}
	rel, err := choosePromotion(pr)
	return tp, rel, err
}

// envHistory is an environment's runs, newest first; none when it has
// never run here (its state is not made by reading it).
func envHistory(ctx context.Context, p *Project, env string) ([]*ledger.Record, error) {
	if os.Getenv("BATON_LEDGER") == "" && !fileExists(filepath.Join(p.Root, ".baton", env, "ledger")) {
		return nil, nil
	}
	led, err := p.LedgerOf(env)
	if err != nil {
		return nil, err
	}
	recs, problems, err := led.List(ctx)
	reportProblems(problems)
	return recs, err
}

// promotion is what choosePromotion decides from: the history of the
// environment promoted from, newest first, the environments to requires,
// and the history of each of those but from.
type promotion struct {
	from, to string
	fromRecs []*ledger.Record
	requires []string
	required map[string][]*ledger.Record
}

// errNoRelease says the environment promoted from has nothing to give.
var errNoRelease = errors.New("no successful release")

// choosePromotion picks the release a promotion deploys: from's current
// one, unless something since says it should not go further.
func choosePromotion(pr promotion) (*ledger.Record, error) {
	var rel, validate, destroyed *ledger.Record
	for _, r := range pr.fromRecs {
		if deploy.IsRelease(r) {
			rel = r
			break
		}
		switch {
		case r.Target == "destroy" && r.Succeeded() && destroyed == nil:
			destroyed = r
		case r.Mode == string(pipeline.ModeCheck) && validate == nil:
			validate = r // the newest since the release
		}
	}
	switch {
	case rel == nil:
		return nil, fmt.Errorf("%w on %s to promote: deploy there first (BATON_ENV=%s go run mage.go deploy)", errNoRelease, pr.from, pr.from)
	case destroyed != nil:
		return nil, fmt.Errorf("%s was destroyed (run %s) after its last release, run %s: nothing runs there to promote", pr.from, destroyed.RunID, rel.RunID)
	case rel.RollbackOf != "" || rel.Target == "rollback":
		return nil, fmt.Errorf("%s's release was rolled back (run %s went back to run %s): deploy a release that works on %s, then promote it", pr.from, rel.RunID, orDash(rel.RollbackOf), pr.from)
	case validate != nil && !validate.Succeeded():
		return nil, fmt.Errorf("the last validate on %s (run %s) %s: %s; fix %s and validate it again before promoting its release", pr.from, validate.RunID, validate.Status, orDash(firstLine(validate.Error)), pr.from)
	case rel.GitCommit == "":
		return nil, fmt.Errorf("run %s on %s was not deployed from a git checkout, so its configuration cannot be checked out for %s", rel.RunID, pr.from, pr.to)
	}
	var unmet []string
	for _, env := range pr.requires {
		if env != pr.from && !hasRelease(pr.required[env], deploy.ReleaseKey(rel)) {
			unmet = append(unmet, env)
		}
	}
	if len(unmet) > 0 {
		return nil, fmt.Errorf("%s requires a release that succeeded on %s; run %s of %s (%s, commit %s) has not succeeded on %s: promote it there first", pr.to, strings.Join(pr.requires, ", "), rel.RunID, pr.from, orDash(deploy.ArtifactText(rel)), short(rel.GitCommit), strings.Join(unmet, ", "))
	}
	return rel, nil
}

// hasRelease reports whether recs hold a release with the given key.
func hasRelease(recs []*ledger.Record, key string) bool {
	for _, r := range recs {
		if deploy.IsRelease(r) && deploy.ReleaseKey(r) == key {
			return true
		}
	}
	return false
}

// requiresPromotion refuses a deploy, or a stage run alone, that would
// give an environment with requires what never succeeded where it must
// have: such an environment takes releases through promote only.
func requiresPromotion(p *Project, target string) error {
	e := p.Config.Environment(p.Env)
	if e == nil || len(e.Requires) == 0 || os.Getenv("BATON_SKIP_REQUIRES") == "1" {
		return nil
	}
	what := "a deploy builds a new one"
	if target != "deploy" {
		what = target + " runs this checkout's files there, not a release that succeeded on " + e.Requires[0]
	}
	return fmt.Errorf("%s requires releases that succeeded on %s (baton.hcl:%d), and %s: run `go run mage.go promote %s %s`, or BATON_SKIP_REQUIRES=1 to run it anyway", p.Env, strings.Join(e.Requires, ", "), e.Line, what, e.Requires[0], p.Env)
}
