package webhook

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/baton-deploy/baton/pkg/ledger"
)

// The read-only endpoints: GET /healthz, /runs and /runs/{id}.

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	queues := map[string]any{}
	for env, q := range s.queues {
		running, pending, waiting := q.state()
		queues[env] = map[string]any{"running": running, "pending": pending, "pending_deliveries": waiting}
	}
	status, code := "ok", http.StatusOK
	if s.draining.Load() {
		status, code = "stopping", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "queues": queues})
}

// handleRuns lists the hooks' environments' runs, newest first:
// ?env= picks one, ?limit= (default 50, at most 1000).
func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, reject(http.StatusBadRequest, "limit=%q: want a number from 1 to 1000", v))
			return
		}
		limit = n
	}
	var all []*ledger.Record
	for env := range s.queues {
		if want := r.URL.Query().Get("env"); want != "" && want != env {
			continue
		}
		recs, e := s.records(r.Context(), env)
		if e != nil {
			writeError(w, e)
			return
		}
		all = append(all, recs...)
	}
	slices.SortFunc(all, func(a, b *ledger.Record) int { return b.Start.Compare(a.Start) })
	writeJSON(w, http.StatusOK, map[string]any{"runs": all[:min(limit, len(all))]})
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for env := range s.queues {
		recs, e := s.records(r.Context(), env)
		if e != nil {
			writeError(w, e)
			return
		}
		for _, rec := range recs {
			if rec.RunID == id {
				writeJSON(w, http.StatusOK, rec)
				return
			}
		}
	}
	writeError(w, reject(http.StatusNotFound, "no run %q in the history of %s (a queued run appears once it starts)", id, strings.Join(s.envs(), ", ")))
}

func (s *Server) records(ctx context.Context, env string) ([]*ledger.Record, *Error) {
	if s.opts.History == nil {
		return nil, nil
	}
	led, err := s.opts.History(env)
	if err != nil {
		return nil, reject(http.StatusInternalServerError, "run history of %s: %v", env, err)
	}
	recs, _, err := led.List(ctx)
	if err != nil {
		return nil, reject(http.StatusInternalServerError, "run history of %s: %v", env, err)
	}
	return recs, nil
}

func (s *Server) envs() []string {
	var envs []string
	for env := range s.queues {
		envs = append(envs, env)
	}
	slices.Sort(envs)
	return envs
}
