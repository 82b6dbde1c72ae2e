package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// envPrefix starts the names of the settings FromEnv reads and of the
// variables a Command is given.
const envPrefix = "BATON_NOTIFY_"

// ExitTempFail is the exit status (sysexits' EX_TEMPFAIL) by which a
// Command asks to be run again later; any other failure is final.
const ExitTempFail = 75

// stderrTail is how much of a failed command's standard error its error
// keeps.
const stderrTail = 1024

// commandGrace is how long a Command may take to stop after SIGINT when
// the attempt's time is up.
const commandGrace = 2 * time.Second

// Command runs a program for each event — a script that pages someone,
// posts to another chat, writes a file. It is run directly, not by a shell.
// Its standard input is the event's JSON document (see the package
// documentation) and a newline; its environment is baton's, less any
// BATON_NOTIFY_* settings (which hold webhook URLs), plus the event's
// fields as BATON_NOTIFY_EVENT, BATON_NOTIFY_ENV, BATON_NOTIFY_RUN_ID and
// so on: one variable per JSON field, named in upper case, times in
// RFC 3339. Its standard output is discarded.
//
// When the attempt's time is up, the program's process group is sent
// SIGINT, and SIGKILL two seconds later; when baton dies, the group is
// killed at once.
type Command struct {
	// Argv is the program and its arguments.
	Argv []string
}

var _ Channel = (*Command)(nil)

// CommandError is a Command that failed. It names only the program, not
// its arguments, which may hold secrets.
type CommandError struct {
	Program  string // the program's base name
	ExitCode int    // -1 when it did not start or was killed
	Stderr   string // the end of its standard error
	Err      error  // the cause: an *exec.ExitError, or ctx's error when it was killed
}

// Error gives the program, the cause and the end of standard error.
func (e *CommandError) Error() string {
	msg := fmt.Sprintf("command %s: %v", e.Program, e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// Unwrap returns the cause.
func (e *CommandError) Unwrap() error { return e.Err }

// Name implements Channel.
func (c *Command) Name() string { return "command" }

// Deliver implements Channel. An exit status of ExitTempFail gives a
// retryable error.
func (c *Command) Deliver(ctx context.Context, ev Event) error {
	if len(c.Argv) == 0 {
		return errors.New("command: Argv is empty")
	}
	doc, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Stdin = bytes.NewReader(append(doc, '\n'))
	cmd.Env = append(inheritedEnv(os.Environ()), ev.environ()...)
	// proc.Run gives it its own process group, so that a script's
	// children end with it, also when baton dies.
	err = proc.Run(ctx, cmd, proc.Options{Grace: commandGrace, Tail: stderrTail})
	if err == nil {
		return nil
	}
	cerr := &CommandError{Program: filepath.Base(c.Argv[0]), ExitCode: -1, Err: err}
	if pe, ok := errors.AsType[*proc.Error](err); ok {
		cerr.ExitCode, cerr.Stderr, cerr.Err = pe.ExitCode, strings.TrimSpace(pe.Stderr), pe.Err
	}
	if ctx.Err() != nil {
		cerr.Err = fmt.Errorf("stopped: %w", ctx.Err())
	}
	if cerr.ExitCode == ExitTempFail {
		return pipeline.Retryable(cerr)
	}
	return cerr
}

// inheritedEnv is env without baton's notification settings.
func inheritedEnv(env []string) []string {
	kept := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, envPrefix) {
			kept = append(kept, kv)
		}
	}
	return kept
}
