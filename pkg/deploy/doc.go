// Package deploy is one recorded run of a baton pipeline, for every front
// end: the Mage targets (pkg/targets), the webhook server, the web view
// and any Go program. Open a Project (a pipeline file, an environment and
// where its state lives) and Run a Job on it; the run
//
//   - takes the environment's lock when it changes things (a deploy, a
//     rollback, a destroy), so that one run at a time changes it;
//   - is recorded in the environment's ledger (pkg/ledger): who, what,
//     when, from which commit, each stage and handoff, the result;
//   - finds the secrets to mask — every variable a wrapper gives the
//     tools, the BATON_SECRETS names, baton's own credentials — and masks
//     them in the console, the run's log.jsonl, each tool's output, the
//     summary.json and the record;
//   - notifies the channels the BATON_NOTIFY_* settings name of a run
//     that changes things.
//
// PickRelease and Rollback go back to an earlier release: its artifacts,
// and its pipeline file and directories from a git worktree of its commit.
//
// The package reads baton's settings (BATON_WRAPPER, BATON_SECRETS,
// BATON_LEDGER, BATON_FORCE, BATON_TRIGGER, BATON_NOTIFY_*, …) through
// Options.Getenv and never changes the process's environment. It prints
// only to Options.Stdout, and its errors carry no front end's commands:
// the front end adds how to run what they suggest.
package deploy
