package deploy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/ledger/postgres"
)

// connectTimeout bounds connecting to the shared ledger.
const connectTimeout = 30 * time.Second

// Ledger opens the environment's run history: the embedded one in
// .baton/<env>/ledger, or the shared PostgreSQL one that BATON_LEDGER
// names (postgres://user@host/db).
func (p *Project) Ledger() (ledger.Ledger, error) { return p.LedgerOf(p.Env) }

// LedgerOf opens the run history of another environment under the same
// root, as Ledger does. A shared ledger is connected once per environment
// and kept until Close.
func (p *Project) LedgerOf(env string) (ledger.Ledger, error) {
	url := p.opts.Getenv("BATON_LEDGER")
	if url == "" {
		return ledger.Open(filepath.Join(p.Root, ".baton", env, "ledger"))
	}
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, fmt.Errorf("BATON_LEDGER must be a postgres:// URL (or unset for the embedded ledger), got %q", strings.SplitN(url, ":", 2)[0]+":…")
	}
	return p.ledgers.get(url, env)
}

// ledgers are the shared ledgers a project and those made from it have
// connected, one per URL and environment.
type ledgers struct {
	mu     sync.Mutex
	byKey  map[string]*postgres.Ledger
	closed bool
}

func newLedgers() *ledgers { return &ledgers{byKey: map[string]*postgres.Ledger{}} }

func (ls *ledgers) get(url, env string) (*postgres.Ledger, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return nil, errors.New("ledger: the project is closed")
	}
	key := env + "\x00" + url
	if l, ok := ls.byKey[key]; ok {
		return l, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	l, err := postgres.Open(ctx, url, env)
	if err != nil {
		return nil, fmt.Errorf("BATON_LEDGER: %w", err)
	}
	ls.byKey[key] = l
	return l, nil
}

func (ls *ledgers) close() error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for k, l := range ls.byKey {
		l.Close()
		delete(ls.byKey, k)
	}
	ls.closed = true
	return nil
}
