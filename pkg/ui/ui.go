package ui

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Env is one environment the view shows.
type Env struct {
	Name string
	// State is the environment's directory, .baton/<env>: each run's
	// files are in State/runs/<run-id>.
	State  string
	Ledger ledger.Ledger
	// Holder, when set, says who holds the environment's lock (nil: no
	// one). Without it the lock file of an embedded ledger is read; for
	// another ledger the holder is the running run that changes things.
	Holder func() (*ledger.Holder, error)
}

// QueueState is an environment's webhook queue: the running deploy, the
// pending one and how many deliveries wait in it (the first queued it,
// the others coalesced into it).
type QueueState struct {
	Running, Pending string
	Waiting          int
}

// Options configure the view. Only Envs is required.
type Options struct {
	// Envs lists the environments, read on every request so that a new
	// one shows up without a restart.
	Envs func() ([]Env, error)
	// Queue, when set, gives an environment's webhook queue (serve has
	// one); ok is false for an environment no hook deploys.
	Queue func(env string) (q QueueState, ok bool)
	// Secrets masks every text the pages show, as the run files are
	// masked; nil masks nothing more than the files already are.
	Secrets *pipeline.Redactor
	// Auth, when set, is required of every request.
	Auth *Auth
	// Release reports whether a run deployed a release; default: a
	// successful run whose template ID a stage used.
	Release func(r *ledger.Record) bool
	// CommitURL, when set, links a commit: "{commit}" in it is replaced by
	// the full hash (https://github.com/org/repo/commit/{commit}).
	CommitURL string
	// PageSize is how many runs a history page shows; default 50.
	PageSize int
	// Refresh is how often a running run's page reloads; default 5 s.
	Refresh time.Duration
	// Reload is how long the history of a ledger that is not a file (the
	// shared one) is kept before it is read again; default 2 s. An
	// embedded ledger is read again when its file changes.
	Reload time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handler serves the view. Make one with New.
type Handler struct {
	opts  Options
	pages map[string]*template.Template
	hist  *histories
	mux   *http.ServeMux
}

// New checks opts and returns the view's handler.
func New(opts Options) (*Handler, error) {
	if opts.Envs == nil {
		return nil, errors.New("ui: Options.Envs is nil: give the function that lists the environments")
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.Reload <= 0 {
		opts.Reload = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Release == nil {
		opts.Release = IsRelease
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, pages: pages, hist: newHistories(opts.Reload, opts.Now, opts.Release)}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /{$}", h.environments)
	h.mux.HandleFunc("GET /history", h.history)
	h.mux.HandleFunc("GET /envs/{env}/runs/{id}", h.run)
	h.mux.HandleFunc("GET /envs/{env}/runs/{id}/files/{stage}/{file}", h.file)
	h.mux.HandleFunc("GET /ui.css", serveAsset("assets/ui.css", "text/css; charset=utf-8"))
	h.mux.HandleFunc("GET /favicon.svg", serveAsset("assets/favicon.svg", "image/svg+xml"))
	h.mux.HandleFunc("GET /favicon.ico", serveAsset("assets/favicon.svg", "image/svg+xml"))
	h.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "no such page: the view has / (environments), /history and the run pages linked from them")
	})
	return h, nil
}

// csp allows the page its own stylesheet and icon, and nothing else: no
// script, no frame, no form posting elsewhere.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// ServeHTTP serves a page: GET and HEAD only, after the security headers
// and, when configured, authentication.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "the view is read-only: only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	if h.opts.Auth != nil && !h.opts.Auth.Check(r) {
		hd.Set("WWW-Authenticate", h.opts.Auth.challenge())
		http.Error(w, "authentication required: "+h.opts.Auth.hint(), http.StatusUnauthorized)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// page is what every page's layout needs.
type page struct {
	Title   string
	Nav     string // environments or history
	Refresh int    // seconds; 0: none
	Now     string
	Body    any
}

// render writes a page, masked: the data was masked where it was read,
// and the whole page is masked again, so a secret that slipped into
// anything shown (a query echoed back) is still caught.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	p.Now = h.opts.Now().Format(timeFormat)
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		http.Error(w, "ui: rendering "+name+": "+h.mask(err.Error()), http.StatusInternalServerError)
		return
	}
	out := []byte(h.mask(buf.String()))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
}

// fail renders an error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h.render(w, r, code, "error", page{Title: http.StatusText(code), Body: struct {
		Code int
		Msg  string
	}{code, h.mask(msg)}})
}

func (h *Handler) mask(s string) string { return h.opts.Secrets.Redact(s) }

// env finds an environment by name.
func (h *Handler) env(name string) (*Env, error) {
	envs, err := h.opts.Envs()
	if err != nil {
		return nil, err
	}
	for i := range envs {
		if envs[i].Name == name {
			return &envs[i], nil
		}
	}
	return nil, fmt.Errorf("no environment %q: the environments page lists them", name)
}

// safeName is a run ID, stage or file name that may name a directory.
var safeName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$`)

const timeFormat = "2006-01-02 15:04:05 MST"
