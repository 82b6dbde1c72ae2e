package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
)

// runRow is a run as a line of a table shows it.
type runRow struct {
	Env, ID, Target, Mode, Status, User, Host string
	Trigger                                   string
	When, Short, Ago, Duration                string
	Commit, CommitShort, CommitURL            string
	Dirty                                     bool
	TemplateID                                string
	RollbackOf                                string
	Error                                     string
}

// Link is the run's page.
func (r *runRow) Link() string { return runPath(r.Env, r.ID) }

func runPath(env, id string) string {
	return "/envs/" + url.PathEscape(env) + "/runs/" + url.PathEscape(id)
}

func (h *Handler) row(r *ledger.Record) *runRow {
	row := &runRow{
		Env: h.mask(r.Env), ID: h.mask(r.RunID), Target: h.mask(r.Target), Mode: h.mask(r.Mode),
		Status: h.mask(r.Status), User: h.mask(r.User), Host: h.mask(r.Host), Trigger: h.mask(trigger(r)),
		When: r.Start.Format(timeFormat), Short: r.Start.Format("2006-01-02 15:04"), Ago: ago(h.opts.Now().Sub(r.Start)),
		Duration: duration(h.duration(r)), Dirty: r.GitDirty,
		TemplateID: h.mask(r.Handoffs["template_id"].Display), RollbackOf: h.mask(r.RollbackOf),
		Error: h.mask(firstLine(r.Error)),
	}
	row.Commit, row.CommitShort, row.CommitURL = h.commit(r.GitCommit)
	return row
}

// duration is how long a run took, or has taken by the view's clock.
func (h *Handler) duration(r *ledger.Record) time.Duration {
	if r.End.IsZero() {
		if r.Status != ledger.StatusRunning {
			return 0
		}
		return h.opts.Now().Sub(r.Start)
	}
	return r.End.Sub(r.Start)
}

// commit is a commit's hash, its short form and its link.
func (h *Handler) commit(c string) (full, short, link string) {
	full = h.mask(c)
	short = full
	if len(short) > 12 {
		short = short[:12]
	}
	if h.opts.CommitURL != "" && full != "" && isHex(full) {
		link = strings.ReplaceAll(h.opts.CommitURL, "{commit}", full)
	}
	return full, short, link
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// trigger says how a run was started: cli, or webhook:<sender> with how
// many more deliveries it deployed.
func trigger(r *ledger.Record) string {
	t := r.Trigger
	if t == "" {
		t = "cli"
	}
	if r.Sender != "" {
		t += ":" + r.Sender
	}
	if n := len(r.Coalesced); n > 0 {
		t += fmt.Sprintf(" (+%d coalesced)", n)
	}
	return t
}

// historyPage is the History page's data.
type historyPage struct {
	Filter  filter
	Choices choices
	Rows    []*runRow
	Total   int
	Page    int
	Pages   int
	First   int // the ordinals of the first and last rows shown
	Last    int
	Prev    string
	Next    string
	Errors  []string
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	envs, err := h.opts.Envs()
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "listing the environments: "+err.Error())
		return
	}
	q := r.URL.Query()
	f := filter{Env: trimmed(q.Get("env")), Target: trimmed(q.Get("target")), Result: trimmed(q.Get("result")), User: trimmed(q.Get("user"))}
	n := 1
	if s := q.Get("page"); s != "" {
		n, err = strconv.Atoi(s)
		if err != nil || n < 1 {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("page=%q: want a page number from 1", trimmed(s)))
			return
		}
	}
	recs, errs := h.hist.list(r.Context(), envs, f)
	size := h.opts.PageSize
	p := historyPage{Filter: h.maskFilter(f), Choices: h.hist.choices(envs), Total: len(recs), Page: n,
		Pages: max(1, (len(recs)+size-1)/size)}
	for i, e := range errs {
		if i == 3 {
			p.Errors = append(p.Errors, fmt.Sprintf("…and %d more", len(errs)-3))
			break
		}
		p.Errors = append(p.Errors, h.mask(e.Error()))
	}
	lo := min((n-1)*size, len(recs))
	hi := min(lo+size, len(recs))
	p.First, p.Last = lo+1, hi
	p.Rows = make([]*runRow, 0, hi-lo)
	for _, rec := range recs[lo:hi] {
		p.Rows = append(p.Rows, h.row(rec))
	}
	if n > 1 {
		p.Prev = pageLink(p.Filter, min(n-1, p.Pages))
	}
	if n < p.Pages {
		p.Next = pageLink(p.Filter, n+1)
	}
	h.render(w, r, http.StatusOK, "history", page{Title: "History", Nav: "history", Body: p})
}

func (h *Handler) maskFilter(f filter) filter {
	return filter{Env: h.mask(f.Env), Target: h.mask(f.Target), Result: h.mask(f.Result), User: h.mask(f.User)}
}

// pageLink is the history's page n under filter f.
func pageLink(f filter, n int) string {
	v := url.Values{}
	for k, s := range map[string]string{"env": f.Env, "target": f.Target, "result": f.Result, "user": f.User} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return "/history"
	}
	return "/history?" + v.Encode()
}

// ago says how long ago d was, roughly.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// duration shows d to a sensible precision.
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
