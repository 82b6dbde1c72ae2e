package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// histories keeps every environment's run history read, so that a page
// costs what it shows and not what the history holds: a ledger is read
// again only when it changed (an embedded ledger's file) or, for one that
// cannot say (the shared one), once its copy is older than reload.
type histories struct {
	reload  time.Duration
	now     func() time.Time
	release func(*ledger.Record) bool
	host    string

	mu   sync.Mutex
	envs map[string]*envHistory
	// all is every environment's runs merged, newest first, and views
	// the filtered lists, both for the current set of histories.
	all    []*ledger.Record
	views  map[filter][]*ledger.Record
	choice *choices
}

// envHistory is one environment's history as last read.
type envHistory struct {
	stamp   stamp
	read    time.Time
	recs    []*ledger.Record // newest first
	byID    map[string]*ledger.Record
	running []*ledger.Record
	// The last release, the destroy after it and the last validate.
	release, destroy, check *ledger.Record
	problems                []ledger.Problem
	err                     error
}

// stamp tells whether a ledger's file changed.
type stamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func newHistories(reload time.Duration, now func() time.Time, release func(*ledger.Record) bool) *histories {
	host, _ := os.Hostname()
	return &histories{reload: reload, now: now, release: release, host: host, envs: map[string]*envHistory{}, views: map[filter][]*ledger.Record{}}
}

// get returns env's history, read again if it changed.
func (hs *histories) get(ctx context.Context, env Env) *envHistory {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.getLocked(ctx, env)
}

func (hs *histories) getLocked(ctx context.Context, env Env) *envHistory {
	eh := hs.envs[env.Name]
	st, canStamp := ledgerStamp(env.Ledger)
	switch {
	case eh == nil:
	case eh.err != nil:
	case canStamp && st == eh.stamp && !hs.ended(eh):
		return eh
	case !canStamp && hs.now().Sub(eh.read) < hs.reload && !hs.ended(eh):
		return eh
	}
	recs, problems, err := env.Ledger.List(ctx)
	eh = &envHistory{stamp: st, read: hs.now(), recs: recs, problems: problems, err: err, byID: make(map[string]*ledger.Record, len(recs))}
	for _, r := range recs {
		eh.byID[r.RunID] = r
		if r.Status == ledger.StatusRunning {
			eh.running = append(eh.running, r)
		}
	}
	eh.mark(hs.release)
	hs.envs[env.Name] = eh
	hs.all, hs.views, hs.choice = nil, map[filter][]*ledger.Record{}, nil
	return eh
}

// mark finds the runs the environments page shows, walking back from
// the newest.
func (eh *envHistory) mark(release func(*ledger.Record) bool) {
	for _, r := range eh.recs {
		switch {
		case eh.release == nil && release(r):
			eh.release = r
		case eh.release == nil && eh.destroy == nil && isDestroy(r):
			eh.destroy = r
		case eh.check == nil && r.Mode == string(pipeline.ModeCheck) && r.Status != ledger.StatusRunning:
			eh.check = r
		}
		if eh.release != nil && eh.check != nil {
			return
		}
	}
}

// ended reports whether a run the history holds as running has lost its
// process since (killed): the ledger then reads it as interrupted, and
// the file does not change to say so.
func (hs *histories) ended(eh *envHistory) bool {
	for _, r := range eh.running {
		if r.Host == hs.host && r.PID > 0 && r.PID != os.Getpid() {
			if err := syscall.Kill(r.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
				return true
			}
		}
	}
	return false
}

// ledgerStamp is the state of an embedded ledger's file; ok is false for
// a ledger that is not one.
func ledgerStamp(l ledger.Ledger) (stamp, bool) {
	f, ok := l.(*ledger.File)
	if !ok {
		return stamp{}, false
	}
	fi, err := os.Stat(filepath.Join(f.Dir, "runs.jsonl"))
	if err != nil {
		return stamp{}, true // none yet: an empty history
	}
	st := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, true
}

// filter selects runs on the history page; empty fields select all.
type filter struct {
	Env, Target, Result, User string
}

func (f filter) match(r *ledger.Record) bool {
	return (f.Env == "" || r.Env == f.Env) && (f.Target == "" || r.Target == f.Target) &&
		(f.Result == "" || r.Status == f.Result) && (f.User == "" || r.User == f.User)
}

// maxViews bounds the filtered lists kept.
const maxViews = 64

// list returns the runs f selects, newest first, and the problems met
// reading them. A filtered list is made once per change of the histories
// and kept, so paging through it costs one page.
func (hs *histories) list(ctx context.Context, envs []Env, f filter) ([]*ledger.Record, []error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var errs []error
	var parts [][]*ledger.Record
	var base []*ledger.Record
	for _, env := range envs {
		eh := hs.getLocked(ctx, env)
		if f.Env != "" && env.Name != f.Env {
			continue
		}
		if eh.err != nil {
			errs = append(errs, eh.err)
		}
		for _, p := range eh.problems {
			errs = append(errs, p)
		}
		parts = append(parts, eh.recs)
		base = eh.recs
	}
	if f.Env == "" {
		if hs.all == nil {
			hs.all = merge(parts)
		}
		base = hs.all
	}
	if f == (filter{}) || (f == filter{Env: f.Env}) {
		return base, errs
	}
	if v, ok := hs.views[f]; ok {
		return v, errs
	}
	var out []*ledger.Record
	for _, r := range base {
		if f.match(r) {
			out = append(out, r)
		}
	}
	if len(hs.views) >= maxViews {
		clear(hs.views)
	}
	hs.views[f] = out
	return out, errs
}

// merge joins histories that are each newest first.
func merge(parts [][]*ledger.Record) []*ledger.Record {
	if len(parts) == 1 {
		return parts[0]
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]*ledger.Record, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out
}

// choices are the values each filter can take, for the history form.
type choices struct {
	Envs, Targets, Results, Users []string
}

// choices collects the distinct values of the runs' fields, once per
// change of the histories. Call it after list, which reads them.
func (hs *histories) choices(envs []Env) choices {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.choice != nil {
		return *hs.choice
	}
	var c choices
	seen := map[string]bool{}
	add := func(list *[]string, kind, v string) {
		if v != "" && !seen[kind+"\x00"+v] {
			seen[kind+"\x00"+v] = true
			*list = append(*list, v)
		}
	}
	for _, env := range envs {
		add(&c.Envs, "env", env.Name)
		eh := hs.envs[env.Name]
		if eh == nil {
			continue
		}
		for _, r := range eh.recs {
			add(&c.Targets, "target", r.Target)
			add(&c.Results, "result", r.Status)
			add(&c.Users, "user", r.User)
		}
	}
	for _, l := range []*[]string{&c.Envs, &c.Targets, &c.Results, &c.Users} {
		slices.Sort(*l)
	}
	hs.choice = &c
	return c
}

// trimmed keeps a filter value from the URL short and plain.
func trimmed(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}
