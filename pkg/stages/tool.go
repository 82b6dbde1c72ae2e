package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Exec is how the stages start their tools. The zero Exec runs each tool
// found on PATH with the process environment.
type Exec struct {
	// Env is added to the process environment of every tool ("KEY=value").
	Env []string
	// Wrapper, when set, is put in front of every command, e.g.
	// ["doppler", "run", "--"], so that tools get their secrets from it.
	// On cancel the wrapper alone is sent SIGINT: it must pass it on to
	// the tool, as doppler run, op run and exec-style wrappers do. Logs
	// show only its program, not its arguments.
	Wrapper []string
	// Grace is how long a tool may take to stop after SIGINT; 0 means
	// 4 seconds, less than the 5 Mage gives a target after Ctrl-C, so the
	// tool is stopped (and its lock released) before Mage exits.
	Grace time.Duration
}

// ToolError reports a tool run that failed: the tool, its arguments, its
// exit code (-1 when it did not exit on its own) and the tail of its
// standard error, redacted.
type ToolError struct {
	Tool     string
	Args     []string
	ExitCode int
	Stderr   string
	Err      error
}

func (e *ToolError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Tool, strings.Join(e.Args, " "))
	switch {
	case e.ExitCode >= 0:
		fmt.Fprintf(&b, ": exit status %d", e.ExitCode)
	case e.Err != nil:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if tail := strings.TrimSpace(e.Stderr); tail != "" {
		b.WriteString(":\n" + tail)
	}
	return b.String()
}

func (e *ToolError) Unwrap() error { return e.Err }

// MissingToolError reports a tool the stages could not find: Tool, the
// tool's name ("packer"); Path, the path or name it was configured as,
// "" when it was looked for by its name on PATH; and Install, how to
// install it without any front end. A front end that can install tools
// itself adds its own way when it shows the error.
type MissingToolError struct {
	Tool    string
	Path    string
	Install string
}

func (e *MissingToolError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s was configured as %s, which is not an executable file: set the path of %s's executable, or leave it empty to find %s on PATH", e.Tool, e.Path, e.Tool, e.Tool)
	}
	return fmt.Sprintf("%s is not installed (not on PATH): %s", e.Tool, e.Install)
}

// installHints say how to install the tools the stages run.
var installHints = map[string]string{
	"packer":            "install it with `apt-get install -y packer` or from https://developer.hashicorp.com/packer/install",
	"terraform":         "install it with `go install github.com/hashicorp/terraform@v1.5.7` (and put $GOBIN on PATH) or from https://developer.hashicorp.com/terraform/install",
	"tofu":              "install OpenTofu from https://opentofu.org/docs/intro/install/",
	"ansible-playbook":  "install it with `apt-get install -y ansible-core` or `pipx install ansible-core`",
	"ansible":           "it comes with Ansible: install it with `apt-get install -y ansible-core` or `pipx install ansible-core`",
	"ansible-inventory": "it comes with Ansible: install it with `apt-get install -y ansible-core` or `pipx install ansible-core`",
	"tflint":            "install it with `go install github.com/terraform-linters/tflint@v0.53.0`",
}

// lookTool finds a tool: path when it is set (a path or a name on PATH),
// else name on PATH. A missing tool is a *MissingToolError.
func lookTool(name, path string) (string, error) {
	configured := path
	if configured == name {
		configured = ""
	}
	if path == "" {
		path = name
	}
	p, err := exec.LookPath(path)
	if err != nil {
		hint := installHints[name]
		if hint == "" {
			hint = "install it or set its path"
		}
		return "", &MissingToolError{Tool: name, Path: configured, Install: hint}
	}
	return p, nil
}

// command is one run of a tool.
type command struct {
	tool   string // the name in errors and stream names: "packer"
	path   string // the executable
	dir    string
	args   []string
	env    []string
	stream string    // output stream prefix: "build" gives build.stdout, build.stderr
	stdout io.Writer // also receives stdout, unredacted, when set
	// show, when set, turns each stdout line into the line people see, or
	// drops it; the raw output is then kept whole in <stream>.raw.log.
	show func(line string) (string, bool)
}

// stderrTail is how much of a failed tool's standard error its error keeps.
const stderrTail = proc.DefaultTail

// run starts c, streams its output line by line into j's events and run
// directory, and waits for it. Cancelling ctx sends SIGINT to the tool's
// process group (to the wrapper alone, which passes it on) and SIGKILL to
// the group after the grace period.
func (x Exec) run(ctx context.Context, j *pipeline.Job, c command) error {
	argv := append(append(append([]string(nil), x.Wrapper...), c.path), c.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(append(os.Environ(), x.Env...), c.env...)
	// proc.Run gives it a process group of its own — a Ctrl-C in the
	// terminal reaches baton only, and baton decides how the tool is
	// stopped (Terraform exits hard on a second SIGINT) — and ends the
	// group when baton dies.
	o := openStreams(j, c)
	cmd.Stdout, cmd.Stderr = o.stdout, o.stderr
	j.Printf("$ %s", shellQuote(x.shown(j, c)))
	err := proc.Run(ctx, cmd, proc.Options{
		Grace:      x.Grace,
		LeaderOnly: len(x.Wrapper) > 0, // the wrapper passes the signal on: the tool gets one, not two
		Tail:       stderrTail,
		OnStop: func(grace time.Duration) {
			j.Printf("asked %s to stop (SIGINT); killing it in %s if it does not", c.tool, grace)
		},
	})
	o.close()
	if err == nil {
		return nil
	}
	te := &ToolError{Tool: c.tool, Args: redactAll(j, c.args), ExitCode: -1, Err: err}
	if pe, ok := errors.AsType[*proc.Error](err); ok {
		te.ExitCode, te.Err = pe.ExitCode, pe.Err
		// Some tools (tflint, Packer with -machine-readable) report on stdout.
		why := pe.Stderr
		if strings.TrimSpace(why) == "" {
			why = o.outTail.String()
		}
		te.Stderr = j.Redact(why)
	}
	return te
}

// toolStreams is where one run of a tool writes: its job's streams, the tail
// of what people saw of its stdout, and the raw log of a shown stream.
type toolStreams struct {
	out, errOut io.WriteCloser
	stdout      io.Writer
	stderr      io.Writer
	outTail     *proc.Tail
	lines       *proc.Lines
	raw         *os.File
}

func openStreams(j *pipeline.Job, c command) *toolStreams {
	stream := c.stream
	if stream == "" {
		stream = c.tool
	}
	o := &toolStreams{out: j.Output(stream + ".stdout"), errOut: j.Output(stream + ".stderr"), outTail: proc.NewTail(stderrTail)}
	o.stderr = o.errOut
	shown := io.MultiWriter(o.out, o.outTail)
	var w io.Writer = shown
	if c.show != nil {
		if j.Dir != "" {
			f, err := os.OpenFile(filepath.Join(j.Dir, stream+".raw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err == nil {
				o.raw = f
			}
		}
		o.lines = &proc.Lines{Fn: func(line string) {
			if o.raw != nil {
				_, _ = io.WriteString(o.raw, j.Redact(line)+"\n")
			}
			if s, ok := c.show(line); ok {
				_, _ = io.WriteString(shown, s+"\n")
			}
		}}
		w = o.lines
	}
	if c.stdout != nil {
		w = io.MultiWriter(w, c.stdout)
	}
	o.stdout = w
	return o
}

// close passes on an unfinished last line and closes the streams.
func (o *toolStreams) close() {
	if o.lines != nil {
		o.lines.Flush()
	}
	if o.raw != nil {
		o.raw.Close()
	}
	o.out.Close()
	o.errOut.Close()
}

// toolOutput runs a short query of a tool (its version) and returns its
// standard output. A run stopped by ctx gives ctx's error, so that a
// Ctrl-C reads as one.
func toolOutput(ctx context.Context, bin string, args ...string) ([]byte, error) {
	out, err := proc.Output(ctx, exec.Command(bin, args...), 0, proc.Options{})
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return out, err
}

// shown is c's command line as the log shows it: each argument masked
// before quoting (a quoted secret would no longer match), and the wrapper
// as its program only, since its arguments may hold a token.
func (x Exec) shown(j *pipeline.Job, c command) []string {
	var argv []string
	if len(x.Wrapper) > 0 {
		argv = append(argv, x.Wrapper[0])
		if len(x.Wrapper) > 1 {
			argv = append(argv, "…")
		}
	}
	return append(append(argv, c.path), redactAll(j, c.args)...)
}

func redactAll(j *pipeline.Job, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = j.Redact(a)
	}
	return out
}

// shellQuote shows a command the way a user could paste it.
func shellQuote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n\"'\\$`*?[]{}()<>|&;#~") {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}
