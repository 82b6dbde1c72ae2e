// Package ui is baton's read-only web view: what is deployed where, who
// deployed it and how each run went, over the run history (pkg/ledger)
// and each run's files (.baton/<env>/runs/<id>: summary.json, log.jsonl
// and every stage's output).
//
// The pages are rendered on the server with html/template and need no
// script: Environments (each one's current release, whether its hosts
// answered the last validate, who holds its lock, its webhook queue; a
// destroyed environment says by which run), History (every run, newest
// first, filtered and paged) and Run (stages, attempts, durations, the
// handoffs each used and gave with their SHA-256, a timeline drawn as
// SVG, each stage's output with the last lines first; a running run's
// page reloads itself until the run ends).
//
// The view changes nothing: it answers GET and HEAD only, reads the lock
// file without locking it, and sends a Content-Security-Policy that
// allows only its own stylesheet. It masks every text with the run's
// redactor, as the run files are masked. Off loopback it wants an Auth
// (CheckListen refuses to start without one): a bearer token or basic
// credentials from a 0600 file, compared in constant time.
//
// A page costs what it shows, not the length of the history: each
// environment's history is read once and again only when its ledger file
// changes, and the filtered lists are kept until then.
package ui
