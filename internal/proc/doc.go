// Package proc starts and stops every program baton runs, so that none
// outlives baton and each stops the same way.
//
// [Run] is the one way to run a program: it starts it with [Start], and
// when its context ends sends SIGINT to the program's process group (or,
// for a wrapper that passes signals on, to the program alone), SIGKILL to
// the group after a grace period, and keeps the tail of its standard error
// for the [*Error]. [Tail], [Lines] and [Buffer] are the writers the
// callers put on a program's output.
//
// A tool is started in its own process group (a Ctrl-C in the terminal
// reaches baton only, and baton decides how the tool is stopped). When
// baton dies without stopping it — kill -9, an OOM kill, a crash — two
// things end the tool and everything it started in its group:
//
//   - on Linux, the tool is given a parent-death signal (SIGKILL), and it
//     is started from an OS thread that stays locked to the goroutine that
//     waits for it: the kernel sends the signal when the thread that forked
//     the child exits, not the process (golang/go#27505), and the Go
//     runtime ends a thread when a goroutine locked to it exits;
//   - a supervisor, a small /bin/sh process in a group of its own, holds
//     the read end of a pipe whose write end only baton has. When baton
//     dies the pipe closes without the "done" line that a normal end
//     writes, and the supervisor kills the tool's whole process group, so
//     that grandchildren (ansible-playbook's workers, a wrapper's tool) do
//     not survive either.
//
// Processes that leave the group on purpose (setsid, as ssh's ControlPersist
// masters do) are out of reach of both and must be bounded by their own
// means.
package proc
