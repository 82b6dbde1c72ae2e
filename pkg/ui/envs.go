package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// IsRelease is the default Options.Release: a successful run of the run
// mode whose template ID a stage used (Terraform made hosts from it),
// rather than only built (Packer alone) or checked.
func IsRelease(r *ledger.Record) bool {
	if !r.Succeeded() || r.Mode != string(pipeline.ModeRun) || r.Handoffs["template_id"].Text == "" {
		return false
	}
	for _, s := range r.Stages {
		if s.Status != pipeline.StatusSucceeded && s.Status != pipeline.StatusSkipped {
			continue
		}
		for _, u := range s.Used {
			if u.Name == "template_id" {
				return true
			}
		}
	}
	return false
}

// isDestroy reports whether a run removed what the environment had.
func isDestroy(r *ledger.Record) bool {
	return r.Succeeded() && (r.Target == "destroy" || r.Mode == string(pipeline.ModeRollback))
}

// envSummary is what the environments page says of one environment.
type envSummary struct {
	Name      string
	Runs      int
	Release   *runRow
	Handoffs  []handoffView
	Destroyed *runRow // the destroy after the last release, if any
	Check     *runRow // the last validate
	// CheckStale: the last validate is older than the release or destroy.
	CheckStale bool
	CheckNotes []stageView
	Latest     *runRow
	Holder     *ledger.Holder
	Queue      *QueueState
	Problems   []string
	Err        string
}

func (h *Handler) environments(w http.ResponseWriter, r *http.Request) {
	envs, err := h.opts.Envs()
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "listing the environments: "+err.Error())
		return
	}
	out := make([]envSummary, 0, len(envs))
	for _, env := range envs {
		out = append(out, h.summarize(r.Context(), env))
	}
	h.render(w, r, http.StatusOK, "envs", page{Title: "Environments", Nav: "envs", Body: out})
}

// summarize describes env. The runs it needs are found walking back from
// the newest; how far it walks is kept with the history read.
func (h *Handler) summarize(ctx context.Context, env Env) envSummary {
	eh := h.hist.get(ctx, env)
	s := envSummary{Name: env.Name, Runs: len(eh.recs)}
	if eh.err != nil {
		s.Err = h.mask(eh.err.Error())
	}
	for i, p := range eh.problems {
		if i == 3 {
			s.Problems = append(s.Problems, fmt.Sprintf("…and %d more: the environment's history lists them all", len(eh.problems)-i))
			break
		}
		s.Problems = append(s.Problems, h.mask(p.Error()))
	}
	if len(eh.recs) > 0 {
		s.Latest = h.row(eh.recs[0])
	}
	release, destroy, check := eh.release, eh.destroy, eh.check
	if release != nil {
		s.Release = h.row(release)
		s.Handoffs = h.handoffs(release.Handoffs)
	}
	if destroy != nil {
		s.Destroyed = h.row(destroy)
	}
	if check != nil {
		s.Check = h.row(check)
		latest := release
		if destroy != nil {
			latest = destroy
		}
		s.CheckStale = latest != nil && check.Start.Before(latest.Start)
		for _, st := range check.Stages {
			s.CheckNotes = append(s.CheckNotes, h.stage(st, check.Start))
		}
	}
	s.Holder = h.holder(env, eh)
	if h.opts.Queue != nil {
		if q, ok := h.opts.Queue(env.Name); ok {
			q.Running, q.Pending = h.mask(q.Running), h.mask(q.Pending)
			s.Queue = &q
		}
	}
	return s
}

// holder is who holds env's lock now, or nil.
func (h *Handler) holder(env Env, eh *envHistory) *ledger.Holder {
	var hd *ledger.Holder
	switch f, isFile := env.Ledger.(*ledger.File); {
	case env.Holder != nil:
		hd, _ = env.Holder()
	case isFile:
		hd = lockFile(filepath.Join(f.Dir, env.Name+".lock"), h.hist.host)
	default:
		for _, r := range eh.running {
			if r.Mode == string(pipeline.ModeRun) || r.Mode == string(pipeline.ModeRollback) {
				hd = &ledger.Holder{RunID: r.RunID, User: r.User, Host: r.Host, PID: r.PID, Target: r.Target, Since: r.Start}
				break
			}
		}
	}
	if hd == nil {
		return nil
	}
	c := *hd
	c.RunID, c.User, c.Host, c.Target = h.mask(c.RunID), h.mask(c.User), h.mask(c.Host), h.mask(c.Target)
	return &c
}

// lockFile reads an embedded ledger's lock: its holder writes itself
// into the file and empties it when done. A holder killed before it could
// leaves its name behind, but not its lock (the kernel frees it), so a
// holder of this host whose process is gone holds nothing. The file is
// only read, never locked: a reader must not make a deploy fail.
func lockFile(path, host string) *ledger.Holder {
	data, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	var hd ledger.Holder
	if json.Unmarshal(data, &hd) != nil || hd.RunID == "" {
		return nil
	}
	if hd.Host == host && hd.PID > 0 && hd.PID != os.Getpid() {
		if err := syscall.Kill(hd.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
			return nil
		}
	}
	return &hd
}

// handoffView is a handoff as a page shows it.
type handoffView struct {
	Name, Display, SHA256, Short, Source, Origin string
	Sensitive                                    bool
}

func (h *Handler) handoffs(m map[string]ledger.Handoff) []handoffView {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]handoffView, 0, len(names))
	for _, n := range names {
		out = append(out, h.handoff(pipeline.HandoffInfo{Name: n, Display: m[n].Display, SHA256: m[n].SHA256}))
	}
	return out
}

func (h *Handler) handoff(i pipeline.HandoffInfo) handoffView {
	v := handoffView{Name: h.mask(i.Name), Display: h.mask(i.Display), SHA256: h.mask(i.SHA256),
		Source: h.mask(i.Source), Origin: h.mask(i.Origin), Sensitive: i.Sensitive}
	v.Short = v.SHA256
	if len(v.Short) > 12 {
		v.Short = v.Short[:12]
	}
	return v
}
