package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// DefaultGrace is how long a tool has to stop after SIGINT before it is
// killed. It is shorter than the 5 seconds Mage gives a target after Ctrl-C,
// so the tool is stopped (and its lock released) before Mage exits.
const DefaultGrace = 4 * time.Second

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
	// DefaultGrace.
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

// MissingToolError reports a tool that is not installed, with how to
// install it.
type MissingToolError struct {
	Tool    string
	Install string
}

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("%s is not installed (not on PATH): %s", e.Tool, e.Install)
}

// Install hints for the tools the stages run.
var installHints = map[string]string{
	"packer":            "install it with `apt-get install -y packer` or from https://developer.hashicorp.com/packer/install, or run `go run mage.go tools`",
	"terraform":         "install it with `go install github.com/hashicorp/terraform@v1.5.7` (and put $GOBIN on PATH) or from https://developer.hashicorp.com/terraform/install, or run `go run mage.go tools`",
	"tofu":              "install OpenTofu from https://opentofu.org/docs/intro/install/",
	"ansible-playbook":  "install it with `apt-get install -y ansible-core` or `pipx install ansible-core`, or run `go run mage.go tools`",
	"ansible-inventory": "it comes with Ansible: install it with `apt-get install -y ansible-core` or `pipx install ansible-core`",
	"tflint":            "install it with `go install github.com/terraform-linters/tflint@v0.53.0`",
}

// LookTool finds a tool: path when it is set (a path or a name on PATH),
// else name on PATH. A missing tool is a *MissingToolError.
func LookTool(name, path string) (string, error) {
	if path == "" {
		path = name
	}
	p, err := exec.LookPath(path)
	if err != nil {
		hint := installHints[name]
		if hint == "" {
			hint = "install it or set its path"
		}
		if path != name {
			hint = fmt.Sprintf("%s was configured as %s, which is not an executable file", name, path)
		}
		return "", &MissingToolError{Tool: name, Install: hint}
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
const stderrTail = 4 << 10

// run starts c, streams its output line by line into j's events and run
// directory, and waits for it. Cancelling ctx sends SIGINT to the tool's
// process group and SIGKILL after the grace period.
func (x Exec) run(ctx context.Context, j *pipeline.Job, c command) error {
	argv := append(append(append([]string(nil), x.Wrapper...), c.path), c.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(append(os.Environ(), x.Env...), c.env...)
	// proc.Start gives it a process group of its own — a Ctrl-C in the
	// terminal reaches baton only, and baton decides how the tool is
	// stopped (Terraform exits hard on a second SIGINT) — and ends the
	// group when baton dies.
	cmd.Stdin = nil

	stream := c.stream
	if stream == "" {
		stream = c.tool
	}
	out := j.Output(stream + ".stdout")
	errOut := j.Output(stream + ".stderr")
	tail := &tailBuffer{max: stderrTail}
	outTail := &tailBuffer{max: stderrTail}
	var stdout io.Writer = io.MultiWriter(out, outTail)
	var raw *os.File
	if c.show != nil {
		if j.Dir != "" {
			f, err := os.OpenFile(filepath.Join(j.Dir, stream+".raw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err == nil {
				raw = f
			}
		}
		stdout = &lineFunc{fn: func(line string) {
			if raw != nil {
				_, _ = io.WriteString(raw, j.Redact(line)+"\n")
			}
			if s, ok := c.show(line); ok {
				_, _ = io.WriteString(out, s+"\n")
				_, _ = io.WriteString(outTail, s+"\n")
			}
		}}
	}
	if c.stdout != nil {
		stdout = io.MultiWriter(stdout, c.stdout)
	}
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(errOut, tail)
	grace := x.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	// Pipes are closed this long after the process exits, so a grandchild
	// that keeps them open cannot hang the stage.
	cmd.WaitDelay = grace + time.Second

	j.Printf("$ %s", shellQuote(x.shown(j, c)))
	p, err := proc.Start(cmd)
	if err != nil {
		out.Close()
		errOut.Close()
		return &ToolError{Tool: c.tool, Args: c.args, ExitCode: -1, Err: err}
	}
	stopped := make(chan struct{})
	var asked atomic.Bool // set once the tool was told to stop
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-stopped:
			return
		case <-ctx.Done():
		}
		pgid := cmd.Process.Pid
		asked.Store(true)
		if len(x.Wrapper) > 0 {
			// The wrapper passes the signal on: the tool gets one, not two.
			_ = syscall.Kill(pgid, syscall.SIGINT)
		} else {
			_ = syscall.Kill(-pgid, syscall.SIGINT)
		}
		j.Printf("asked %s to stop (SIGINT); killing it in %s if it does not", c.tool, grace)
		select {
		case <-stopped:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
	err = p.Wait()
	close(stopped)
	wg.Wait()
	if lf, ok := stdout.(*lineFunc); ok {
		lf.flush()
	}
	if raw != nil {
		raw.Close()
	}
	out.Close()
	errOut.Close()
	if err == nil && asked.Load() {
		// It exited 0 after SIGINT (Packer does, on some interrupts): it
		// stopped because we asked, not because it was done.
		return &ToolError{Tool: c.tool, Args: redactAll(j, c.args), ExitCode: -1, Err: ctx.Err()}
	}
	if err == nil {
		return nil
	}
	// Some tools (tflint, Packer with -machine-readable) report on stdout.
	why := tail.String()
	if strings.TrimSpace(why) == "" {
		why = outTail.String()
	}
	te := &ToolError{Tool: c.tool, Args: redactAll(j, c.args), ExitCode: -1, Stderr: j.Redact(why), Err: err}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		te.ExitCode = exitErr.ExitCode()
	}
	if ctx.Err() != nil {
		// The tool stopped because we asked: say so, and keep
		// errors.Is(err, context.Canceled) true.
		te.Err = ctx.Err()
	}
	return te
}

// toolOutput runs a short query of a tool (its version) and returns its
// standard output. A run stopped by ctx gives ctx's error, not the
// "signal: killed" of os/exec, so that a Ctrl-C reads as one.
func toolOutput(ctx context.Context, bin string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, bin, args...).Output()
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

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.buf)
	if len(t.buf) >= t.max {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = "…" + s[i+1:]
		}
	}
	return s
}

// lineFunc calls fn with each complete line written to it.
type lineFunc struct {
	fn  func(line string)
	buf []byte
}

func (l *lineFunc) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.fn(strings.TrimSuffix(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineFunc) flush() {
	if len(l.buf) > 0 {
		l.fn(string(l.buf))
		l.buf = nil
	}
}

// capture is a concurrency-safe buffer for a tool's whole stdout.
type capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capture) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.buf.Bytes()...)
}
