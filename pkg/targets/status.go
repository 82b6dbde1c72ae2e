package targets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/baton-deploy/baton/pkg/deploy"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/ledger"
)

// Status shows every environment of the project side by side — the
// release each runs, where it came from, its latest run — then says of
// each environment with requires whether it runs what those run or is
// behind them, and last each environment's release and handoffs.
func Status(ctx context.Context) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	defer p.Close()
	envs := statusEnvs(p)
	if len(envs) == 0 {
		fmt.Fprintln(stdout, "nothing deployed yet: no environment has a run history")
		return nil
	}
	hist := map[string][]*ledger.Record{}
	for _, env := range envs {
		if hist[env], err = envHistory(ctx, p, env); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tRELEASE\tARTIFACT\tCOMMIT\tHOW\tLATEST RUN")
	for _, env := range envs {
		rel, destroyed := current(hist[env])
		latest := "-"
		if recs := hist[env]; len(recs) > 0 {
			latest = recs[0].Target + " " + recs[0].Status
		}
		switch {
		case destroyed != nil:
			fmt.Fprintf(tw, "%s\t(destroyed)\t-\t-\tdestroy %s\t%s\n", env, destroyed.RunID, latest)
		case rel == nil:
			fmt.Fprintf(tw, "%s\t(none)\t-\t-\t-\t%s\n", env, latest)
		default:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", env, rel.RunID, orDash(deploy.ArtifactText(rel)), short(rel.GitCommit), how(rel), latest)
		}
	}
	tw.Flush()
	for _, env := range p.Config.EnvNames() {
		for _, req := range p.Config.Environment(env).Requires {
			fmt.Fprintf(stdout, "%s\n", behind(env, req, hist[env], hist[req]))
		}
	}
	for _, env := range envs {
		statusDetail(env, hist[env])
		storeNotes(filepath.Join(p.Root, ".baton", env, "handoffs"), hist[env])
	}
	return nil
}

// statusEnvs lists the declared environments in the file's order, then
// any other that has run here.
func statusEnvs(p *Project) []string {
	envs := p.Config.EnvNames()
	seen := map[string]bool{}
	for _, e := range envs {
		seen[e] = true
	}
	dirs, _ := filepath.Glob(filepath.Join(p.Root, ".baton", "*", "runs"))
	sort.Strings(dirs)
	for _, d := range dirs {
		if e := filepath.Base(filepath.Dir(d)); !seen[e] {
			seen[e] = true
			envs = append(envs, e)
		}
	}
	return envs
}

// current is what an environment runs: its last release, unless a
// destroy came after it.
func current(recs []*ledger.Record) (rel, destroyed *ledger.Record) {
	for _, r := range recs {
		if r.Target == "destroy" && r.Succeeded() && destroyed == nil {
			destroyed = r
		}
		if deploy.IsRelease(r) {
			return r, destroyed
		}
	}
	return nil, destroyed
}

// how says how a release came: deploy, rollback to a run, promotion.
func how(r *ledger.Record) string {
	switch {
	case r.PromotedFrom != nil:
		return "promoted from " + r.PromotedFrom.Env + " " + r.PromotedFrom.RunID
	case r.RollbackOf != "":
		return "rollback to " + r.RollbackOf
	}
	return r.Target
}

// behind compares env's release with req's, one of those it requires.
func behind(env, req string, envRecs, reqRecs []*ledger.Record) string {
	mine, gone := current(envRecs)
	theirs, theirsGone := current(reqRecs)
	if gone != nil {
		mine = nil
	}
	if theirsGone != nil {
		theirs = nil
	}
	switch {
	case theirs == nil:
		return fmt.Sprintf("%s runs no release, so %s has none to take from it", req, env)
	case mine != nil && deploy.ReleaseKey(mine) == deploy.ReleaseKey(theirs):
		return fmt.Sprintf("%s runs what %s runs (%s, commit %s)", env, req, orDash(deploy.ArtifactText(theirs)), short(theirs.GitCommit))
	}
	return fmt.Sprintf("%s is behind %s, which runs %s (commit %s): go run mage.go promote %s %s", env, req, orDash(deploy.ArtifactText(theirs)), short(theirs.GitCommit), req, env)
}

// statusDetail prints one environment's release and its handoffs.
func statusDetail(env string, recs []*ledger.Record) {
	fmt.Fprintf(stdout, "\n%s:\n", env)
	last, destroyed := current(recs)
	switch {
	case destroyed != nil:
		// Newer than any release: nothing of it runs now.
		fmt.Fprintf(stdout, "  destroyed by run %s (%s@%s) at %s", destroyed.RunID, destroyed.User, destroyed.Host, destroyed.End.Local().Format(time.RFC3339))
		if last != nil {
			fmt.Fprintf(stdout, "; the last release was run %s (%s, commit %s)", last.RunID, orDash(deploy.ArtifactText(last)), short(last.GitCommit))
		}
		fmt.Fprintln(stdout)
	case last == nil:
		fmt.Fprintln(stdout, "  no successful release")
	default:
		fmt.Fprintf(stdout, "  release   run %s by %s@%s at %s (%s, commit %s)\n", last.RunID, last.User, last.Host, last.End.Local().Format(time.RFC3339), how(last), short(last.GitCommit))
		names := make([]string, 0, len(last.Handoffs))
		for n := range last.Handoffs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stdout, "  %-9s %s\n", n, last.Handoffs[n].Display)
		}
	}
	if len(recs) > 0 && recs[0] != last {
		fmt.Fprintf(stdout, "  latest    run %s: %s %s\n", recs[0].RunID, recs[0].Target, recs[0].Status)
	}
}

// storeNotes says what the next run would find wrong or new in an
// environment's handoff store (dir): a file it cannot use, and a value
// that is not the one its release ran (a stage run alone, or a run that
// failed after giving it). The store is only read.
func storeNotes(dir string, recs []*ledger.Record) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return
	}
	s, err := handoff.OpenStore(dir)
	if err != nil {
		return
	}
	vals, err := s.List()
	for _, e := range flatten(err) {
		fmt.Fprintf(stdout, "  damaged   %v\n", e)
	}
	rel, destroyed := current(recs)
	if rel == nil || destroyed != nil {
		return
	}
	for _, v := range vals {
		h, ok := rel.Handoffs[v.Name]
		if !ok || h.SHA256 == v.SHA256() {
			continue
		}
		by := "a value given by hand"
		if v.Stage != "" {
			by = fmt.Sprintf("given by %s in run %s", v.Stage, orDash(v.RunID))
		}
		fmt.Fprintf(stdout, "  changed   %s in the store is not the release's (%s): a run that skips its stage takes this one\n", v.Name, by)
	}
}

// flatten lists the errors an errors.Join holds, or err alone.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
