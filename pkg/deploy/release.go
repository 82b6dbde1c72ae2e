package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// ErrNoRelease is PickRelease's error when the history holds no release
// at all.
var ErrNoRelease = errors.New("no successful release in the history to roll back to")

// NotReleaseError is PickRelease's error for a run that deployed no
// release: a plan, a failed deploy, a stage alone without Terraform.
type NotReleaseError struct{ Run *ledger.Record }

func (e *NotReleaseError) Error() string {
	return fmt.Sprintf("run %s did not deploy a release (%s, %s)", e.Run.RunID, e.Run.Target, e.Run.Status)
}

// IsRelease reports whether a record deployed a release: a successful
// run that ran (or found unchanged) a Terraform stage.
func IsRelease(r *ledger.Record) bool {
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

// isArtifact tells a Packer artifact's handoff by its name.
func isArtifact(name string) bool {
	return strings.HasPrefix(name, "packer.") && strings.HasSuffix(name, ".artifact_id")
}

// ReleaseKey is what makes a release: its artifacts and its commit.
func ReleaseKey(r *ledger.Record) string {
	return ArtifactText(r) + "@" + r.GitCommit
}

// ArtifactText lists a record's artifact IDs: "8025", or
// "packer.a=8025 packer.b=8026" with several; "" with none.
func ArtifactText(r *ledger.Record) string {
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

// PickRelease finds the release to go back to in the environment's
// history: the run named (its ID or a prefix of 4 characters or more),
// else the last release whose artifacts or commit differ from the
// current one's; afterFailure, the last release (what a failed deploy
// replaced). A run it does not hold is a *ledger.NotFoundError, one that
// deployed no release a *NotReleaseError, an empty history ErrNoRelease.
func (p *Project) PickRelease(ctx context.Context, run string, afterFailure bool) (*ledger.Record, error) {
	led, err := p.Ledger()
	if err != nil {
		return nil, err
	}
	recs, _, err := led.List(ctx)
	if err != nil {
		return nil, err
	}
	return pickRelease(recs, run, afterFailure)
}

// pickRelease is PickRelease over recs, newest first.
func pickRelease(recs []*ledger.Record, run string, afterFailure bool) (*ledger.Record, error) {
	if run != "" {
		for _, r := range recs {
			if r.RunID == run || (len(run) >= 4 && strings.HasPrefix(r.RunID, run)) {
				if !IsRelease(r) {
					return nil, &NotReleaseError{Run: r}
				}
				return r, nil
			}
		}
		return nil, &ledger.NotFoundError{RunID: run, Where: "the history"}
	}
	var releases []*ledger.Record
	for _, r := range recs {
		if IsRelease(r) {
			releases = append(releases, r)
		}
	}
	if len(releases) == 0 {
		return nil, ErrNoRelease
	}
	if afterFailure {
		return releases[0], nil // the last good one: what the failed deploy replaced
	}
	current := ReleaseKey(releases[0])
	for _, r := range releases[1:] {
		if ReleaseKey(r) != current {
			return r, nil
		}
	}
	art := ArtifactText(releases[0])
	if art == "" {
		art = "-"
	}
	return nil, fmt.Errorf("no release before the current one (%s, commit %s) in the history", art, ShortCommit(releases[0].GitCommit))
}

// Rollback deploys release again, as a run of its own (j's Target, by
// default "rollback"; j's Mode, Only, Args and Force are its own): the
// release's commit is checked out (a temporary git worktree, removed
// after) when the working tree differs from it, and its pipeline file
// and directories run with the release's artifacts and p's environment.
// Every stage but the Packer builds runs.
func (p *Project) Rollback(ctx context.Context, release *ledger.Record, j Job) (*pipeline.Summary, error) {
	if j.Target == "" {
		j.Target = "rollback"
	}
	j.RollbackOf = release.RunID
	return p.redeploy(ctx, release, j)
}

// Promote deploys to p's environment the release that environment from
// made (a record of from's ledger), as a run "promote" whose record says
// where the release came from. It runs the release as Rollback does.
func (p *Project) Promote(ctx context.Context, from string, release *ledger.Record, j Job) (*pipeline.Summary, error) {
	j.Target = "promote"
	j.PromotedFrom = &ledger.Promotion{Env: from, RunID: release.RunID}
	sum, err := p.redeploy(ctx, release, j)
	if err != nil {
		return sum, err
	}
	// No build of this environment gave the artifacts, so its store would
	// not hold them: keep them as from's build gave them, for what reads
	// them later (destroy, stage2 -, the next promotion).
	return sum, p.storeArtifacts(release)
}

// storeArtifacts puts the artifact IDs of release into p's handoff store.
func (p *Project) storeArtifacts(release *ledger.Record) error {
	store, err := p.Store()
	if err != nil {
		return err
	}
	defs := p.Config.Defs()
	for name, h := range release.Handoffs {
		def, ok := defs[name]
		if !ok || !isArtifact(name) || h.Text == "" {
			continue
		}
		raw, err := def.ParseText(h.Text)
		if err != nil {
			return fmt.Errorf("the release's %s: %w", name, err)
		}
		v := handoff.Value{Name: name, Raw: raw, Source: handoff.FromStage, Stage: strings.TrimSuffix(name, ".artifact_id"), RunID: release.RunID}
		if err := store.Put(v); err != nil {
			return err
		}
	}
	return nil
}

// redeploy deploys release again in p's environment (j's Mode, Only, Args
// and Force are its own): the release's commit is checked out (a
// temporary git worktree, removed after) when the working tree differs
// from it, and its pipeline file and directories run with the release's
// artifacts and p's environment. Every stage but the Packer builds runs.
func (p *Project) redeploy(ctx context.Context, release *ledger.Record, j Job) (*pipeline.Summary, error) {
	rp := p
	if release.GitCommit != "" {
		// The working tree may differ from the release's commit even at the
		// same HEAD (uncommitted changes): take the commit as it was.
		if head, dirty := gitState(p.Config.Dir); head != release.GitCommit || dirty {
			q, cleanup, err := p.atCommit(ctx, release.GitCommit)
			if err != nil {
				return nil, err
			}
			defer cleanup()
			rp = q
		}
	}
	j.Args = map[string]string{}
	for name, h := range release.Handoffs {
		if isArtifact(name) && h.Text != "" {
			j.Args[name] = h.Text
		}
	}
	j.Only = nil
	for _, s := range rp.Config.Stages {
		if s.Kind != config.Packer {
			j.Only = append(j.Only, StageNames(s)...)
		}
	}
	j.Mode, j.Force = pipeline.ModeRun, true
	return rp.Run(ctx, j)
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
	q, err := open(p.opts, filepath.Join(dir, relFile), p.Env, p.ledgers)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("the pipeline file at commit %s: %w", ShortCommit(commit), err)
	}
	if err := linkState(p.Stages(config.Terraform), top, dir); err != nil {
		cleanup()
		return nil, nil, err
	}
	return q, cleanup, nil
}

// linkState links the Terraform state in the stages' directories under
// top into the same directories under dir.
func linkState(tf []*config.Stage, top, dir string) error {
	for _, s := range tf {
		relDir, err := filepath.Rel(top, s.Dir)
		if err != nil || strings.HasPrefix(relDir, "..") {
			continue
		}
		for _, name := range []string{"terraform.tfstate", "terraform.tfstate.d"} {
			live := filepath.Join(s.Dir, name)
			there := filepath.Join(dir, relDir, name)
			if exists(live) && !exists(there) {
				if err := os.Symlink(live, there); err != nil {
					return fmt.Errorf("linking %s into the release's checkout: %w", live, err)
				}
			}
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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
	// A checkout of a large tree takes a while: stopped as every program
	// baton runs is, when ctx ends.
	var out proc.Buffer
	cmd := exec.Command("git", "-C", root, "worktree", "add", "--detach", dir, commit)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := proc.Run(ctx, cmd, proc.Options{}); err != nil {
		return "", nil, fmt.Errorf("git worktree add %s: %v: %s", ShortCommit(commit), err, strings.TrimSpace(out.String()))
	}
	return dir, func() {
		_ = exec.Command("git", "-C", root, "worktree", "remove", "--force", dir).Run()
		_ = os.RemoveAll(dir)
	}, nil
}
