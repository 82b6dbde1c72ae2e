package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-deploy/baton/pkg/ledger"
)

var _ ledger.Ledger = (*Ledger)(nil)

// Ledger is the shared ledger of one environment in a PostgreSQL
// database; its lock is a session advisory lock, so a holder whose
// connection ends releases it. Its methods are safe for concurrent use;
// Close ends its connections.
type Ledger struct {
	pool     *pgxpool.Pool
	env      string
	hostname string
}

const schema = `
CREATE TABLE IF NOT EXISTS baton_runs (
	run_id text PRIMARY KEY,
	env    text NOT NULL,
	start  timestamptz NOT NULL,
	record jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS baton_runs_env_start ON baton_runs (env, start DESC);
CREATE TABLE IF NOT EXISTS baton_locks (
	env    text PRIMARY KEY,
	holder jsonb NOT NULL
);`

// unlockTimeout bounds releasing the lock, which runs when a run ends,
// however it ends: after a cancellation too.
const unlockTimeout = 30 * time.Second

// Open connects to url (postgres://user@host/db) for env's history and
// makes the tables when missing.
func Open(ctx context.Context, url, env string) (*Ledger, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if _, err := pool.Exec(ctx, schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ledger: %w", err)
	}
	host, _ := os.Hostname()
	return &Ledger{pool: pool, env: env, hostname: host}, nil
}

// Close closes the connections; a lock still held is released with them.
func (l *Ledger) Close() { l.pool.Close() }

func (l *Ledger) put(ctx context.Context, r *ledger.Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = l.pool.Exec(ctx, `INSERT INTO baton_runs (run_id, env, start, record) VALUES ($1, $2, $3, $4)
		ON CONFLICT (run_id) DO UPDATE SET record = EXCLUDED.record`, r.RunID, r.Env, r.Start, data)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Begin implements ledger.Ledger.
func (l *Ledger) Begin(ctx context.Context, r *ledger.Record) error { return l.put(ctx, r) }

// Finish implements ledger.Ledger.
func (l *Ledger) Finish(ctx context.Context, r *ledger.Record) error { return l.put(ctx, r) }

// List implements ledger.Ledger: the environment's runs, newest first.
func (l *Ledger) List(ctx context.Context) ([]*ledger.Record, []ledger.Problem, error) {
	rows, err := l.pool.Query(ctx, `SELECT run_id, record FROM baton_runs WHERE env = $1 ORDER BY start DESC`, l.env)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []*ledger.Record
	var problems []ledger.Problem
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, nil, fmt.Errorf("ledger: %w", err)
		}
		var r ledger.Record
		if err := json.Unmarshal(data, &r); err != nil {
			problems = append(problems, ledger.Problem{Path: "baton_runs " + id, What: err.Error()})
			continue
		}
		ledger.MarkInterrupted(&r, l.hostname)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	return out, problems, nil
}

// Get implements ledger.Ledger.
func (l *Ledger) Get(ctx context.Context, runID string) (*ledger.Record, error) {
	recs, _, err := l.List(ctx)
	if err != nil {
		return nil, err
	}
	return ledger.Find(recs, runID, "the baton_runs table")
}

// lockKey is the advisory lock's key for an environment.
func lockKey(env string) int64 {
	h := fnv.New64a()
	h.Write([]byte("baton:" + env))
	return int64(h.Sum64())
}

// Lock implements ledger.Ledger with pg_try_advisory_lock on a connection
// kept for the run: the lock lives as long as that session.
func (l *Ledger) Lock(ctx context.Context, env string, holder ledger.Holder) (func() error, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(env)).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, l.locked(ctx, env)
	}
	data, _ := json.Marshal(holder)
	if _, err := conn.Exec(ctx, `INSERT INTO baton_locks (env, holder) VALUES ($1, $2) ON CONFLICT (env) DO UPDATE SET holder = EXCLUDED.holder`, env, data); err != nil {
		conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(env))
		conn.Release()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
		defer cancel()
		defer conn.Release()
		_, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(env))
		return err
	}, nil
}

// locked is the *LockedError of env, naming its holder.
func (l *Ledger) locked(ctx context.Context, env string) error {
	var h ledger.Holder
	var data []byte
	if err := l.pool.QueryRow(ctx, `SELECT holder FROM baton_locks WHERE env = $1`, env).Scan(&data); err == nil {
		_ = json.Unmarshal(data, &h)
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("lock: %w", err)
	}
	return &ledger.LockedError{Env: env, Holder: h, Clear: fmt.Sprintf(
		"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = %d", lockKey(env))}
}
