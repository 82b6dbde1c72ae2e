package targets

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/deploy"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/notify"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/ui"
	"github.com/baton-deploy/baton/pkg/webhook"
)

// Serve deploys when a push lands: it receives webhook deliveries from
// GitHub, Gitea/Forgejo, GitLab or a signed script and runs deploy, one
// at a time per environment. Its configuration is baton-serve.yml in the
// project (or the file BATON_SERVE_CONFIG names; see pkg/webhook.Config);
// BATON_SERVE_ADDR overrides the address it listens on (127.0.0.1:8099).
// On SIGTERM it stops taking deliveries and gives a running deploy the
// configured grace before cancelling it; on Ctrl-C it cancels at once,
// since Mage allows a target 5 s after an interrupt.
func Serve(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	cfg, err := serveConfig(p)
	if err != nil {
		return err
	}
	logger := zerolog.New(zerolog.ConsoleWriter{Out: stdout, NoColor: true, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	// One notifier for every deploy the server starts, checked now.
	n, closeN, err := p.Notifier(ctx)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer closeN()
	// And the secrets settings, by reading them once as a deploy will.
	secrets, err := p.Secrets(ctx)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// The view shows the queues of the server it is part of, which serves
	// it: srv is set before any request comes.
	var srv *webhook.Server
	view, err := serveView(p, cfg.Listen, secrets, func(env string) (ui.QueueState, bool) {
		r, pd, w, ok := srv.Queue(env)
		return ui.QueueState{Running: r, Pending: pd, Waiting: w}, ok
	})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv, err = newServer(p, cfg, &logger, n, view)
	if err != nil {
		return err
	}
	// SIGTERM: graceful. Mage's cancel (Ctrl-C): no grace, since Mage
	// exits 5 s later whatever happens; the deploy's tools get SIGINT and
	// its record says cancelled.
	term, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	ln, err := listen(cfg)
	if err != nil {
		return errors.Join(fmt.Errorf("serve: %w", err), srv.Drain(ctx))
	}
	printEndpoints(p, cfg, ln.Addr())
	return drain(ctx, cfg, srv, srv.Serve(term, ln))
}

// serveConfig reads serve's configuration: baton-serve.yml in the project
// or the file BATON_SERVE_CONFIG names, with BATON_SERVE_ADDR's address.
func serveConfig(p *Project) (*webhook.Config, error) {
	path := os.Getenv("BATON_SERVE_CONFIG")
	if path == "" {
		path = filepath.Join(p.Root, "baton-serve.yml")
	}
	cfg, err := webhook.LoadConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("serve: no configuration at %s: write one (examples/webhook/baton-serve.yml is a start) or name it with BATON_SERVE_CONFIG", path)
	}
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if a := os.Getenv("BATON_SERVE_ADDR"); a != "" {
		cfg.Listen = a
	}
	return cfg, nil
}

// printEndpoints tells where serve listens and what it answers.
func printEndpoints(p *Project, cfg *webhook.Config, addr net.Addr) {
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "baton serve: listening on %s://%s\n", scheme, addr)
	for _, name := range slices.Sorted(maps.Keys(cfg.Hooks)) {
		h := cfg.Hooks[name]
		fmt.Fprintf(stdout, "  POST /hooks/%s  (%s, deploys %s)\n", name, h.Provider, orDefault(h.Env, p.Env))
	}
	fmt.Fprintf(stdout, "  GET  /healthz, /runs, /runs/<id>\n")
}

// drain stops srv once Serve returned err: a running deploy gets the
// configured grace after SIGTERM, none after Mage's cancel.
func drain(ctx context.Context, cfg *webhook.Config, srv *webhook.Server, err error) error {
	grace := time.Duration(cfg.Grace)
	if grace == 0 {
		grace = 2 * time.Minute
	}
	if ctx.Err() != nil {
		grace = 0
		fmt.Fprintf(stdout, "baton serve: interrupted: cancelling a running deploy\n")
	} else {
		fmt.Fprintf(stdout, "baton serve: stopping: no more deliveries; a running deploy has %s to finish\n", grace)
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err = errors.Join(err, srv.Drain(drainCtx))
	fmt.Fprintf(stdout, "baton serve: stopped\n")
	return err
}

// serveView is the web view serve shows at /: on loopback always, elsewhere
// only with BATON_UI_AUTH; without it the hooks are served alone.
func serveView(p *Project, listen string, secrets []string, queue func(env string) (ui.QueueState, bool)) (http.Handler, error) {
	var auth *ui.Auth
	if path := os.Getenv("BATON_UI_AUTH"); path != "" {
		var err error
		if auth, err = ui.LoadAuth(path); err != nil {
			return nil, err
		}
	}
	if err := ui.CheckListen(listen, auth); err != nil {
		fmt.Fprintf(stdout, "serve: no web view at / (%v; set BATON_UI_AUTH to show it)\n", err)
		return nil, nil
	}
	return view(p, secrets, auth, queue)
}

// newServer makes the webhook server of project p.
func newServer(p *Project, cfg *webhook.Config, logger *zerolog.Logger, n *notify.Notifier, view http.Handler) (*webhook.Server, error) {
	opts, err := cfg.Options(os.Getenv, p.Env)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	for _, h := range opts.Hooks {
		if err := config.ValidEnv(h.Env); err != nil {
			return nil, fmt.Errorf("serve: hook %s: env %q: %w", h.Name, h.Env, err)
		}
	}
	// The tools that deploys start need not see the hooks' secrets.
	for _, hc := range cfg.Hooks {
		if hc.SecretEnv != "" {
			os.Unsetenv(hc.SecretEnv)
		}
	}
	opts.StateDir = filepath.Join(p.Root, ".baton", "webhook")
	opts.Logger = logger
	opts.View = view
	opts.History = func(env string) (ledger.Ledger, error) {
		q, err := p.ForEnv(env)
		if err != nil {
			return nil, err
		}
		return q.Ledger()
	}
	opts.Deploy = func(ctx context.Context, r *webhook.Run) error {
		j := deploy.Job{Target: "deploy", Mode: pipeline.ModeRun, RunID: r.ID, Trigger: "webhook", Sender: r.Deliveries[0].Sender, Notify: n}
		for _, d := range r.Deliveries {
			j.Deliveries = append(j.Deliveries, d.ID)
		}
		q, err := p.ForEnv(r.Env)
		if err == nil {
			err = webhookDeploy(ctx, q, cfg.Hooks[r.Hook], r, j)
		}
		// The sender was told the run was accepted: it is in the history
		// even when it failed before it could start.
		if err != nil {
			if rerr := p.Unstarted(ctx, r.Env, j, err); rerr != nil {
				fmt.Fprintf(stdout, "warning: run %s failed before it was recorded, and recording it failed too: %v\n", r.ID, rerr)
			}
		}
		return err
	}
	return webhook.New(opts)
}

// webhookDeploy runs j, the deploy of a webhook run, after the hook's
// update command. When another run holds the environment (a deploy from
// the command line), it waits for it, within the run's timeout.
func webhookDeploy(ctx context.Context, p *Project, hc *webhook.HookConfig, r *webhook.Run, j deploy.Job) error {
	if hc != nil && len(hc.Update) > 0 {
		last := r.Deliveries[len(r.Deliveries)-1]
		j.Before = func(ctx context.Context, out io.Writer) error { return runUpdate(ctx, p.Root, hc.Update, last, out) }
	}
	for {
		_, err := execute(ctx, p, j)
		if _, locked := errors.AsType[*ledger.LockedError](err); !locked {
			return err
		}
		fmt.Fprintf(stdout, "run %s waits: %v\n", r.ID, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (while waiting for the environment's lock)", ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

// runUpdate runs a hook's update command in the project with the pushed
// ref and commit in BATON_REF and BATON_COMMIT.
func runUpdate(ctx context.Context, dir string, argv []string, d webhook.Delivery, out io.Writer) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BATON_REF="+d.Ref, "BATON_COMMIT="+d.Commit)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, stopped as a whole: a `git pull` it starts
	// does not outlive a cancelled deploy.
	if err := proc.Run(ctx, cmd, proc.Options{}); err != nil {
		return fmt.Errorf("the hook's update command (%s) failed: %w; nothing was deployed", strings.Join(argv, " "), err)
	}
	return nil
}

// listen opens the configured address, with TLS when given a certificate.
func listen(cfg *webhook.Config) (net.Listener, error) {
	if cfg.TLSCert == "" {
		return net.Listen("tcp", cfg.Listen)
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls_cert/tls_key: %w", err)
	}
	return tls.Listen("tcp", cfg.Listen, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
}
