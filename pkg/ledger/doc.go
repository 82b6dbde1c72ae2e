// Package ledger keeps the history of runs — who ran what, when, from
// which commit, with which handoffs and result — and the lock that lets
// one deploy at a time change an environment.
//
// The embedded ledger is an append-only log of JSON lines in the
// environment's directory, each line checksummed and fsynced before a run
// goes on. It needs no server and no dependency, survives kill -9 (a run
// that began and never finished reads back as interrupted), and a torn or
// edited line is detected and reported with its line number instead of
// being silently dropped.
//
// Ledger is the contract of a backend; File is the embedded one, package
// postgres (pkg/ledger/postgres) the shared one, and package ledgertest
// the conformance suite both pass. Every method takes a context, so a
// cancelled run does not wait on a hung database. See docs/ledger.md.
package ledger
