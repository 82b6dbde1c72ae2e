// Package postgres is the shared ledger: the run history and lock of
// every machine that deploys, in one PostgreSQL database (a baton_runs
// and a baton_locks table). A front end chooses it with a postgres://
// URL (baton's BATON_LEDGER setting); only a program that imports this
// package links pgx.
package postgres
