package ledger

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
)

// Ledger is a run history with its lock, for one environment. File is the
// embedded one; Postgres is shared by every machine that deploys.
type Ledger interface {
	Begin(r *Record) error
	Finish(r *Record) error
	List() ([]*Record, []Problem, error)
	Get(runID string) (*Record, error)
	Lock(env string, holder Holder) (unlock func() error, err error)
}

var (
	_ Ledger = (*File)(nil)
	_ Ledger = (*Postgres)(nil)
)

// Postgres is the shared ledger of one environment in a PostgreSQL
// database, chosen with BATON_LEDGER=postgres://…; its lock is a session
// advisory lock, so a holder whose connection ends releases it.
type Postgres struct {
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

// OpenPostgres connects to url and makes the tables when missing.
func OpenPostgres(ctx context.Context, url, env string) (*Postgres, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("ledger: BATON_LEDGER: %w", err)
	}
	if _, err := pool.Exec(ctx, schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ledger: %w", err)
	}
	host, _ := os.Hostname()
	return &Postgres{pool: pool, env: env, hostname: host}, nil
}

// Close closes the connections.
func (p *Postgres) Close() { p.pool.Close() }

func (p *Postgres) put(r *Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = p.pool.Exec(ctx, `INSERT INTO baton_runs (run_id, env, start, record) VALUES ($1, $2, $3, $4)
		ON CONFLICT (run_id) DO UPDATE SET record = EXCLUDED.record`, r.RunID, r.Env, r.Start, data)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Begin implements Ledger.
func (p *Postgres) Begin(r *Record) error { return p.put(r) }

// Finish implements Ledger.
func (p *Postgres) Finish(r *Record) error { return p.put(r) }

// List implements Ledger: the environment's runs, newest first.
func (p *Postgres) List() ([]*Record, []Problem, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT run_id, record FROM baton_runs WHERE env = $1 ORDER BY start DESC`, p.env)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []*Record
	var problems []Problem
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, nil, fmt.Errorf("ledger: %w", err)
		}
		var r Record
		if err := json.Unmarshal(data, &r); err != nil {
			problems = append(problems, Problem{Path: "baton_runs " + id, What: err.Error()})
			continue
		}
		if r.Status == StatusRunning && r.Host == p.hostname && !pidAlive(r.PID) {
			r.Status = StatusInterrupted
			r.Error = "the run's process ended before it finished the run (killed, or the machine went down)"
		}
		out = append(out, &r)
	}
	return out, problems, rows.Err()
}

// Get implements Ledger.
func (p *Postgres) Get(runID string) (*Record, error) {
	recs, _, err := p.List()
	if err != nil {
		return nil, err
	}
	return pick(recs, runID, "the baton_runs table")
}

// lockKey is the advisory lock's key for an environment.
func lockKey(env string) int64 {
	h := fnv.New64a()
	h.Write([]byte("baton:" + env))
	return int64(h.Sum64())
}

// Lock implements Ledger with pg_try_advisory_lock on a connection kept
// for the run: the lock lives as long as that session.
func (p *Postgres) Lock(env string, holder Holder) (func() error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := p.pool.Acquire(ctx)
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
		var h Holder
		var data []byte
		if err := p.pool.QueryRow(ctx, `SELECT holder FROM baton_locks WHERE env = $1`, env).Scan(&data); err == nil {
			_ = json.Unmarshal(data, &h)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("lock: %w", err)
		}
		return nil, &LockedError{Env: env, Holder: h, Clear: fmt.Sprintf(
			"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = %d", lockKey(env))}
	}
	data, _ := json.Marshal(holder)
	if _, err := conn.Exec(ctx, `INSERT INTO baton_locks (env, holder) VALUES ($1, $2) ON CONFLICT (env) DO UPDATE SET holder = EXCLUDED.holder`, env, data); err != nil {
		conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(env))
		conn.Release()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		defer conn.Release()
		_, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(env))
		return err
	}, nil
}
