package ui

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// stageView is a stage as the run page shows it.
type stageView struct {
	Name, Status, Attempts   string
	Offset, Duration         string
	Note, Reason, Error      string
	Used, Given              []handoffView
	Fingerprint, Fingershort string
}

// runPage is the Run page's data.
type runPage struct {
	Run        *runRow
	Rec        *runDetail
	Rollback   *runRow // the release this run rolled back to
	Stages     []stageView
	From       string // where the stages were read: the record, summary.json or log.jsonl
	Timeline   timeline
	Handoffs   []handoffView
	Outputs    []output
	Running    bool
	RefreshSec int
}

// runDetail is what the run page says beyond a history row.
type runDetail struct {
	PID        int
	Sender     string
	DeliveryID string
	Coalesced  []string
	End        string
	Error      string
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request) {
	env, rec, ok := h.lookup(w, r)
	if !ok {
		return
	}
	p := runPage{Run: h.row(rec), Running: rec.Status == ledger.StatusRunning, Handoffs: h.handoffs(rec.Handoffs)}
	p.Rec = &runDetail{PID: rec.PID, Sender: h.mask(rec.Sender), DeliveryID: h.mask(rec.DeliveryID), Error: h.mask(rec.Error)}
	for _, c := range rec.Coalesced {
		p.Rec.Coalesced = append(p.Rec.Coalesced, h.mask(c))
	}
	if !rec.End.IsZero() {
		p.Rec.End = rec.End.Format(timeFormat)
	}
	if rec.RollbackOf != "" {
		if to := h.hist.get(r.Context(), *env).byID[rec.RollbackOf]; to != nil {
			p.Rollback = h.row(to)
		} else {
			p.Rollback = &runRow{Env: env.Name, ID: h.mask(rec.RollbackOf)}
		}
	}
	dir := filepath.Join(env.State, "runs", rec.RunID)
	stages, from := rec.Stages, "the run's record"
	if len(stages) == 0 {
		stages, from = readStages(dir)
	}
	end := rec.End
	if end.IsZero() {
		end = h.opts.Now()
	}
	for _, st := range stages {
		p.Stages = append(p.Stages, h.stage(st, rec.Start))
	}
	p.From = from
	p.Timeline = h.timeline(stages, rec.Start, end)
	p.Outputs = h.outputs(env.Name, rec.RunID, dir, stages)
	refresh := 0
	if p.Running {
		refresh = max(1, int(h.opts.Refresh/time.Second))
		p.RefreshSec = refresh
	}
	h.render(w, r, http.StatusOK, "run", page{Title: "Run " + p.Run.ID, Nav: "history", Refresh: refresh, Body: p})
}

// lookup finds the run a request names, or answers 404.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request) (*Env, *ledger.Record, bool) {
	env, err := h.env(r.PathValue("env"))
	if err != nil {
		h.fail(w, r, http.StatusNotFound, err.Error())
		return nil, nil, false
	}
	id := r.PathValue("id")
	eh := h.hist.get(r.Context(), *env)
	rec := eh.byID[id]
	if rec == nil || !safeName.MatchString(rec.RunID) {
		h.fail(w, r, http.StatusNotFound, "no run "+trimmed(id)+" in "+env.Name+": the history lists its runs")
		return nil, nil, false
	}
	return env, rec, true
}

func (h *Handler) stage(st pipeline.StageResult, start time.Time) stageView {
	v := stageView{Name: h.mask(st.Name), Status: h.mask(string(st.Status)), Note: h.mask(st.Note), Reason: h.mask(st.Reason),
		Error: h.mask(st.Error), Duration: duration(st.Duration), Fingerprint: h.mask(st.Fingerprint)}
	if st.Attempts > 0 {
		v.Attempts = strconv.Itoa(st.Attempts)
	}
	if !st.Start.IsZero() {
		v.Offset = "+0s"
		if d := st.Start.Sub(start); d > 0 {
			v.Offset = "+" + duration(d)
		}
	}
	v.Fingershort = v.Fingerprint
	if len(v.Fingershort) > 12 {
		v.Fingershort = v.Fingershort[:12]
	}
	for _, u := range st.Used {
		v.Used = append(v.Used, h.handoff(u))
	}
	for _, g := range st.Given {
		v.Given = append(v.Given, h.handoff(g))
	}
	return v
}

// file serves one output file of a stage whole, as text, masked.
func (h *Handler) file(w http.ResponseWriter, r *http.Request) {
	env, rec, ok := h.lookup(w, r)
	if !ok {
		return
	}
	stage, name := r.PathValue("stage"), r.PathValue("file")
	if !safeName.MatchString(stage) || !safeName.MatchString(name) || !strings.HasSuffix(name, ".log") {
		h.fail(w, r, http.StatusNotFound, "no such output file: the run page links each stage's files")
		return
	}
	root, err := os.OpenRoot(filepath.Join(env.State, "runs", rec.RunID))
	if err != nil {
		h.fail(w, r, http.StatusNotFound, "run "+rec.RunID+" kept no files here")
		return
	}
	defer root.Close()
	f, err := root.Open(filepath.Join(stage, name))
	if err != nil {
		h.fail(w, r, http.StatusNotFound, "no output "+stage+"/"+name+" in run "+rec.RunID)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	// Line by line, as the run wrote it, so the masking sees each whole.
	rd := bufio.NewReaderSize(f, 64<<10)
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	for {
		line, err := rd.ReadString('\n')
		if line != "" {
			_, _ = io.WriteString(bw, h.mask(line))
		}
		if err != nil {
			return
		}
	}
}
