package targets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/deploy"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/ui"
)

// UI serves the read-only web view of the project's environments — what
// is deployed where, the history, each run — on BATON_UI_LISTEN
// (127.0.0.1:8098). Off loopback it needs BATON_UI_AUTH, a 0600 file
// holding "bearer TOKEN" or "basic USER:PASSWORD"; BATON_COMMIT_URL
// (https://git.example/org/repo/commit/{commit}) links commits. Pages are
// masked as the run files are (BATON_SECRETS, BATON_WRAPPER).
func UI(ctx context.Context) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	defer p.Close()
	addr := orDefault(os.Getenv("BATON_UI_LISTEN"), "127.0.0.1:8098")
	var auth *ui.Auth
	if path := os.Getenv("BATON_UI_AUTH"); path != "" {
		if auth, err = ui.LoadAuth(path); err != nil {
			return err
		}
	}
	if err := ui.CheckListen(addr, auth); err != nil {
		return fmt.Errorf("%w (BATON_UI_LISTEN, BATON_UI_AUTH)", err)
	}
	secrets, err := p.Secrets(ctx)
	if err != nil {
		return err
	}
	view, err := view(p, secrets, auth, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ui: %w (BATON_UI_LISTEN)", err)
	}
	fmt.Fprintf(stdout, "baton ui: http://%s/ (read-only; Ctrl-C stops it)\n", ln.Addr())
	srv := &http.Server{Handler: view, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute, IdleTimeout: time.Minute}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// view is the web view of the project's environments, masking secrets;
// queue, when set, is serve's webhook queue.
func view(p *Project, secrets []string, auth *ui.Auth, queue func(env string) (ui.QueueState, bool)) (*ui.Handler, error) {
	return ui.New(ui.Options{Envs: func() ([]ui.Env, error) { return uiEnvs(p) }, Queue: queue, Secrets: pipeline.NewRedactor(secrets...), Auth: auth,
		Release: deploy.IsRelease, CommitURL: os.Getenv("BATON_COMMIT_URL")})
}

// uiEnvs are the project's environments: the current one and every one
// with a run history under .baton.
func uiEnvs(p *Project) ([]ui.Env, error) {
	names := []string{p.Env}
	for _, pattern := range []string{"*/runs", "*/ledger"} {
		dirs, _ := filepath.Glob(filepath.Join(p.Root, ".baton", pattern))
		for _, d := range dirs {
			if env := filepath.Base(filepath.Dir(d)); config.ValidEnv(env) == nil {
				names = append(names, env)
			}
		}
	}
	slices.Sort(names)
	var envs []ui.Env
	for _, env := range slices.Compact(names) {
		state := filepath.Join(p.Root, ".baton", env)
		var led ledger.Ledger = &ledger.File{Dir: filepath.Join(state, "ledger")}
		// Opening an embedded ledger makes its directory: a view writes
		// nothing, and an environment without one has no history.
		if _, err := os.Stat(filepath.Join(state, "ledger")); err == nil || os.Getenv("BATON_LEDGER") != "" {
			if led, err = p.LedgerOf(env); err != nil {
				return nil, fmt.Errorf("environment %s: %w", env, err)
			}
		}
		envs = append(envs, ui.Env{Name: env, State: state, Ledger: led})
	}
	return envs, nil
}
