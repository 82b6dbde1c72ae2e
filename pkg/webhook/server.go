package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Hook is one endpoint, POST /hooks/<Name>: whose deliveries it takes and
// which environment they deploy.
type Hook struct {
	Name     string
	Provider Provider
	// Secret is the shared secret (GitLab: the token). It comes from the
	// environment or a file, never from a configuration file or a URL.
	Secret []byte
	// Env is the environment the hook deploys; each environment has its
	// own queue.
	Env string
	// Events that deploy; default push.
	Events []string
	// Branches that deploy, as path.Match patterns ("release/*");
	// default main.
	Branches []string
	// Window is how far a generic delivery's timestamp may be from the
	// server's clock; default 5 minutes.
	Window time.Duration
}

// Options configure a Server. The zero values of the optional fields are
// the defaults named.
type Options struct {
	Hooks  []Hook
	Deploy DeployFunc
	// StateDir holds deliveries.jsonl, the delivery log.
	StateDir string
	// MaxBody is the largest body taken, in bytes; default 1 MiB.
	MaxBody int64
	// Allow, when not empty, are the only networks requests are taken
	// from (403 otherwise); TrustedProxies are the proxies whose
	// X-Forwarded-For names the client.
	Allow, TrustedProxies []netip.Prefix
	// Timeout bounds each deploy; default 30 minutes.
	Timeout time.Duration
	// Retention is how long delivery IDs are remembered to refuse
	// replays; default 7 days.
	Retention time.Duration
	// History gives an environment's run history for GET /runs.
	History func(env string) (ledger.Ledger, error)
	// Logger gets one line per request and per deploy; default none.
	Logger *zerolog.Logger
	// NewRunID names runs; default pipeline-style time-based IDs.
	NewRunID func() string
	// Ended, when set, is told of each deploy's end.
	Ended func(r *Run, err error)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// View, when set, answers GET and HEAD requests for every other path:
	// the web view of environments and runs.
	View http.Handler
}

// Server receives webhook deliveries and starts deploys. Make one with
// New; serve its Handler (or call Serve), and Drain it to stop: Drain
// records the pending deploys' deliveries as dropped, gives a running
// deploy until its context ends, then cancels it, and returns once
// everything is recorded.
type Server struct {
	opts     Options
	hooks    map[string]*Hook
	queues   map[string]*queue
	log      *deliveryLog
	logger   zerolog.Logger
	draining atomic.Bool
	mux      *http.ServeMux
}

// New checks opts, opens the delivery log and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Deploy == nil {
		return nil, errors.New("webhook: Options.Deploy is nil")
	}
	if len(opts.Hooks) == 0 {
		return nil, errors.New("webhook: no hooks configured")
	}
	setDefaults(&opts)
	s := &Server{opts: opts, hooks: map[string]*Hook{}, queues: map[string]*queue{}, logger: zerolog.Nop()}
	if opts.Logger != nil {
		s.logger = *opts.Logger
	}
	for i := range opts.Hooks {
		h := &opts.Hooks[i]
		if err := h.check(); err != nil {
			return nil, err
		}
		if _, dup := s.hooks[h.Name]; dup {
			return nil, fmt.Errorf("webhook: two hooks are named %q", h.Name)
		}
		s.hooks[h.Name] = h
		if s.queues[h.Env] == nil {
			s.queues[h.Env] = newQueue(h.Env, opts.Deploy, opts.Timeout, opts.NewRunID, s.ended)
		}
	}
	l, err := openLog(opts.StateDir, opts.Retention, opts.Now())
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	s.log = l
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/hooks/{name}", s.handleHook)
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /runs", s.handleRuns)
	s.mux.HandleFunc("GET /runs/{id}", s.handleRun)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.opts.View != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.opts.View.ServeHTTP(w, r)
			return
		}
		writeError(w, reject(http.StatusNotFound, "no such endpoint: hooks are POST /hooks/<name>; also GET /healthz, /runs, /runs/<id>"))
	})
	return s, nil
}

func setDefaults(o *Options) {
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewRunID == nil {
		o.NewRunID = pipeline.NewRunID
	}
	for i := range o.Hooks {
		h := &o.Hooks[i]
		if len(h.Events) == 0 {
			h.Events = []string{"push"}
		}
		if len(h.Branches) == 0 {
			h.Branches = []string{"main"}
		}
		if h.Window <= 0 {
			h.Window = 5 * time.Minute
		}
	}
}

func (h *Hook) check() error {
	if h.Name == "" || strings.ContainsAny(h.Name, "/?#% ") {
		return fmt.Errorf("webhook: hook name %q: want a non-empty name without / ? # %% or spaces (it is the path /hooks/<name>)", h.Name)
	}
	if _, err := ParseProvider(string(h.Provider)); err != nil {
		return fmt.Errorf("webhook: hook %s: %w", h.Name, err)
	}
	if len(h.Secret) < 16 {
		return fmt.Errorf("webhook: hook %s: its secret is %d bytes; use at least 16 (e.g. `openssl rand -hex 32`)", h.Name, len(h.Secret))
	}
	if h.Env == "" {
		return fmt.Errorf("webhook: hook %s: no environment to deploy", h.Name)
	}
	for _, b := range h.Branches {
		if _, err := path.Match(b, ""); err != nil {
			return fmt.Errorf("webhook: hook %s: branch pattern %q: %w", h.Name, b, err)
		}
	}
	return nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Queue tells what an environment's queue holds: the running and pending
// runs' IDs and how many deliveries the pending one carries; ok is false
// for an environment no hook deploys.
func (s *Server) Queue(env string) (running, pending string, waiting int, ok bool) {
	q, ok := s.queues[env]
	if !ok {
		return "", "", 0, false
	}
	running, pending, waiting = q.state()
	return running, pending, waiting, true
}

// ended is called when a run ends.
func (s *Server) ended(r *Run, err error) {
	ev := s.logger.Info()
	if err != nil {
		ev = s.logger.Error().Err(err)
	}
	ev.Str("run_id", r.ID).Str("env", r.Env).Int("deliveries", len(r.Deliveries)).Msg("webhook deploy ended")
	if s.opts.Ended != nil {
		s.opts.Ended(r, err)
	}
}

// handleHook takes one delivery: every check comes before anything is
// started, and nothing is started unless all pass.
func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) {
	hook := s.hooks[r.PathValue("name")]
	d, e := s.take(w, r, hook)
	lg := s.logger.Info().Str("hook", r.PathValue("name")).Str("remote", s.client(r).String())
	if e != nil {
		lg.Int("status", e.Status).Str("reason", e.Reason).Msg("webhook delivery rejected")
		writeError(w, e)
		return
	}
	entry := Entry{Time: d.Received, Delivery: d, Env: hook.Env}
	if reason := hook.ignores(d); reason != "" {
		entry.Outcome, entry.Reason = Ignored, reason
	} else if out, runID, ok := s.queues[hook.Env].submit(d); ok {
		entry.Outcome, entry.RunID = out, runID
	} else {
		s.log.unclaim(d)
		writeError(w, reject(http.StatusServiceUnavailable, "the server is stopping; send the delivery again once it is back"))
		return
	}
	if err := s.log.append(entry); err != nil {
		// The deploy is queued; only its record failed. Say so loudly.
		s.logger.Error().Err(err).Str("delivery_id", d.ID).Msg("webhook delivery not recorded")
	}
	lg.Str("delivery_id", d.ID).Str("outcome", string(entry.Outcome)).Str("run_id", entry.RunID).Msg("webhook delivery")
	resp := map[string]any{"status": entry.Outcome, "delivery_id": d.ID, "env": hook.Env}
	if entry.RunID != "" {
		resp["run_id"] = entry.RunID
	}
	if entry.Reason != "" {
		resp["reason"] = entry.Reason
	}
	writeJSON(w, http.StatusAccepted, resp)
}

// take runs the checks in order: source, method, content type, size,
// signature, freshness, the payload of an event that deploys, replay.
func (s *Server) take(w http.ResponseWriter, r *http.Request, hook *Hook) (Delivery, *Error) {
	if hook == nil {
		return Delivery{}, reject(http.StatusNotFound, "no hook named %q", r.PathValue("name"))
	}
	client := s.client(r)
	if len(s.opts.Allow) > 0 && !inAny(client, s.opts.Allow) {
		return Delivery{}, reject(http.StatusForbidden, "%s is not in the allowed networks", client)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return Delivery{}, reject(http.StatusMethodNotAllowed, "%s is not allowed: hooks take POST", r.Method)
	}
	if s.draining.Load() {
		return Delivery{}, reject(http.StatusServiceUnavailable, "the server is stopping; send the delivery again once it is back")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return Delivery{}, reject(http.StatusUnsupportedMediaType, "Content-Type is %q: send application/json (GitHub: set the webhook's content type to application/json)", r.Header.Get("Content-Type"))
	}
	if r.ContentLength > s.opts.MaxBody {
		return Delivery{}, reject(http.StatusRequestEntityTooLarge, "the body is %d bytes; the limit is %d", r.ContentLength, s.opts.MaxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return Delivery{}, reject(http.StatusRequestEntityTooLarge, "the body is over the limit of %d bytes", s.opts.MaxBody)
		}
		return Delivery{}, reject(http.StatusBadRequest, "reading the body: %v", err)
	}
	d, err := hook.Provider.Verify(r.Header, body, hook.Secret, s.opts.Now(), hook.Window)
	if err != nil {
		return d, asError(err)
	}
	d.Hook, d.Remote = hook.Name, client.String()
	// The payload is read only for an event that deploys: any other is
	// ignored whatever its shape (GitHub's status events have a commit
	// object where a push has a string).
	if slices.Contains(hook.Events, d.Event) {
		if err := hook.Provider.ReadPayload(body, &d); err != nil {
			return d, asError(err)
		}
	}
	if !s.log.claim(d) {
		return d, reject(http.StatusConflict, "delivery %s was received before: a replay (a redelivery of a deploy that ran is refused; push again to deploy again)", d.ID)
	}
	return d, nil
}

// ignores says why a hook does not deploy d, or "".
func (h *Hook) ignores(d Delivery) string {
	if !slices.Contains(h.Events, d.Event) {
		if d.Event == "ping" {
			return "ping: the hook is set up and its secret matches"
		}
		return fmt.Sprintf("event %q does not deploy (hook %s deploys on %s)", d.Event, h.Name, strings.Join(h.Events, ", "))
	}
	if d.Event != "push" && d.Event != "tag_push" {
		return ""
	}
	if d.Deleted {
		return fmt.Sprintf("the push deleted %s", d.Ref)
	}
	b := d.Branch()
	if b == "" {
		return fmt.Sprintf("ref %q is not a branch", d.Ref)
	}
	for _, pat := range h.Branches {
		if ok, _ := path.Match(pat, b); ok {
			return ""
		}
	}
	return fmt.Sprintf("branch %q does not deploy (hook %s deploys %s)", b, h.Name, strings.Join(h.Branches, ", "))
}

// client is the request's source: the peer, or, when the peer is a
// trusted proxy, the right-most address in X-Forwarded-For that is not one.
func (s *Server) client(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if !inAny(addr, s.opts.TrustedProxies) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = a.Unmap()
		if !inAny(addr, s.opts.TrustedProxies) {
			break
		}
	}
	return addr
}

func inAny(a netip.Addr, nets []netip.Prefix) bool {
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Serve serves on ln until ctx ends, then stops taking requests and lets
// those in flight finish (up to 10 s). Call Drain next to stop the deploys.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	s.draining.Store(true)
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutCtx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Drain stops taking deliveries (503), drops the pending deploys and
// records their deliveries as dropped — so they may be sent again — waits
// for the running deploys until ctx ends, then cancels them and waits for
// them to return, and closes the delivery log.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	var errs []error
	for _, q := range s.queues {
		r := q.close()
		if r == nil {
			continue
		}
		for _, d := range r.Deliveries {
			e := Entry{Time: s.opts.Now(), Delivery: d, Env: r.Env, Outcome: Dropped, RunID: r.ID,
				Reason: "the server stopped before this run started; send the delivery again"}
			if err := s.log.append(e); err != nil {
				errs = append(errs, err)
			}
		}
		s.logger.Warn().Str("run_id", r.ID).Int("deliveries", len(r.Deliveries)).Msg("pending webhook deploy dropped at shutdown")
	}
	for _, q := range s.queues {
		q.wait(ctx)
	}
	errs = append(errs, s.log.close())
	return errors.Join(errs...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, map[string]any{"status": "rejected", "error": e.Reason})
}
