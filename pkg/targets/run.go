package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/baton-deploy/baton/internal/atomicfile"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/notify"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// stdout is where targets write.
var stdout io.Writer = os.Stdout

// SetOutput sends what the targets print to w instead of standard output,
// for programs that run them (benchmarks, tests); it returns the old one.
func SetOutput(w io.Writer) io.Writer {
	old := stdout
	stdout = w
	return old
}

// job is one invocation of the runner by a target.
type job struct {
	target     string // the target's name, for the run record
	mode       pipeline.Mode
	only       []string
	args       map[string]string
	force      bool
	rollbackOf string
	// promotedFrom, for a promotion, is the release's environment and run.
	promotedFrom *ledger.Promotion

	// runID, when set, is the run's ID (a webhook's response named it).
	runID string
	// trigger is who started the run: "cli" (default, or BATON_TRIGGER)
	// or "webhook", with the sender and the deliveries.
	trigger    string
	sender     string
	deliveries []string
	// before runs once the run is recorded and holds the lock, before the
	// pipeline: a webhook hook's update command.
	before func(ctx context.Context, out io.Writer) error
	// notify, when set, is told how a run that changes things ended;
	// without one, execute makes its own from the settings.
	notify *notify.Notifier
}

// execute runs j on the project's pipeline with the console and a JSON-lines
// log, and keeps the run's summary in its run directory.
func execute(ctx context.Context, p *Project, j job) (sum *pipeline.Summary, err error) {
	x, err := toolExec()
	if err != nil {
		return nil, err
	}
	store, err := p.Store()
	if err != nil {
		return nil, err
	}
	if j.notify == nil {
		n, closeN, err := openNotifier(ctx)
		if err != nil {
			return nil, err
		}
		// After finish (deferred below), which sends.
		defer closeN()
		j.notify = n
	}
	runID := j.runID
	if runID == "" {
		runID = pipeline.NewRunID()
	}
	// Every run is recorded; those that change things hold the lock. From
	// here on, a failure is recorded and notified, masked.
	_, _, finish, err := begin(p, j, runID)
	if err != nil {
		return nil, err
	}
	var redact *pipeline.Redactor
	defer func() {
		err = redact.Error(err)
		finish(sum, err)
	}()
	if j.before != nil {
		// What the hook prints is masked with what is known before the
		// pipeline file is read again: BATON_SECRETS and baton's own.
		known, err := runSecrets(ctx, x.Wrapper)
		if err != nil {
			return nil, err
		}
		redact = pipeline.NewRedactor(known...)
		w := &maskedLines{r: redact, w: stdout}
		err = j.before(ctx, w)
		w.flush()
		if err != nil {
			return nil, err
		}
		// The hook may have pulled a new pipeline file.
		if err := p.reload(); err != nil {
			return nil, err
		}
	}
	pl, err := p.Config.Build(x)
	if err != nil {
		return nil, err
	}
	if j.mode == pipeline.ModeRun {
		// Found out now, not after Terraform has replaced every host and
		// cannot record the inventory it made.
		if err := storeWritable(store.Dir()); err != nil {
			return nil, fmt.Errorf("the handoff store cannot be written, so nothing was run: %w", err)
		}
	}
	// Asking the wrappers what they give may fail (a secrets manager out of
	// reach): that is a failed run, which a webhook's caller can look up.
	secrets, err := runSecrets(ctx, p.Config.Wrappers(x.Wrapper)...)
	if err != nil {
		return nil, err
	}
	redact = pipeline.NewRedactor(secrets...)
	dir := p.RunDir(runID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "log.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	opts := pipeline.Options{
		RunID:    runID,
		RunDir:   dir,
		Only:     j.only,
		Args:     j.args,
		Store:    store,
		Hints:    p.hints(),
		Policies: p.Config.Policies(),
		// Masked from the start: in the console, log.jsonl, each tool's
		// output file, summary.json and so the run's record.
		Secrets: secrets,
		Sinks:   []pipeline.Sink{pipeline.NewConsole(stdout, pipeline.ConsoleOptions{}), pipeline.NewJSONSink(logFile)},
		// Tools get 4 s after SIGINT; Mage exits 5 s after Ctrl-C.
		Grace:        4500 * time.Millisecond,
		Fingerprints: pipeline.FileFingerprints{Dir: filepath.Join(p.State, "fingerprints")},
		// Ansible corrects drift, so it runs even when nothing changed.
		SkipUnchanged: p.skipUnchanged(),
		Force:         j.force || os.Getenv("BATON_FORCE") == "1",
	}
	switch j.mode {
	case pipeline.ModePlan:
		sum, err = pl.Plan(ctx, opts)
	case pipeline.ModeCheck:
		sum, err = pl.Check(ctx, opts)
	case pipeline.ModeRollback:
		sum, err = pl.Rollback(ctx, opts)
	default:
		sum, err = pl.Run(ctx, opts)
	}
	if sum != nil {
		if data, merr := json.MarshalIndent(sum, "", "  "); merr == nil {
			if werr := atomicfile.Write(filepath.Join(dir, "summary.json"), data, 0o600); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "\nrun %s failed; its log and each tool's whole output are in %s\n", runID, rel(p.Root, dir))
		return sum, err
	}
	return sum, nil
}

// storeWritable checks the handoff store before a run that changes things;
// a variable so that a test can stand for a read-only disk, which root
// cannot make here.
var storeWritable = writable

// writable checks that a file can be made in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// rel shows path relative to root when it is under it.
func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return r
	}
	return path
}

// printHosts tells where the deployed hosts are and how to reach one.
func printHosts(p *Project) {
	s, def, err := p.ansibleStage()
	if err != nil || def == nil {
		return
	}
	store, err := p.Store()
	if err != nil {
		return
	}
	v, err := store.Get(def)
	if err != nil {
		return
	}
	inv, err := handoff.Inventory.Decode(v.Raw)
	if err != nil {
		return
	}
	hosts := inv.Hosts()
	fmt.Fprintf(stdout, "\n%d hosts are up:\n", len(hosts))
	for _, h := range hosts {
		fmt.Fprintf(stdout, "  %-10s %s  (%v)\n", h.Name, h.SSHAddr(), h.Groups)
	}
	if len(hosts) == 0 {
		return
	}
	h := hosts[0]
	port := h.Port
	if port == 0 {
		port = 22
	}
	var opts []string
	if k := s.KeyFile(); k != "" {
		opts = append(opts, "-i "+rel(p.Root, k))
	}
	opts = append(opts, "-o UserKnownHostsFile="+rel(p.Root, p.Config.KnownHosts(s)))
	if port != 22 {
		opts = append(opts, fmt.Sprintf("-p %d", port))
	}
	fmt.Fprintf(stdout, "ssh to one:\n  ssh %s %s@%s\n", strings.Join(opts, " "), orDefault(h.User, orDefault(s.Wait.User, "root")), h.Address)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// interrupted explains, after Ctrl-C, what state things are in.
func interrupted(p *Project, err error) error {
	if !errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w\ninterrupted: tools were asked to stop (SIGINT) and handoffs are only written whole, so the store holds the last complete values; run `go run mage.go validate` to see what state the %s environment is in", err, p.Env)
}

// maskedLines writes what it is given to w a line at a time, masked.
type maskedLines struct {
	r   *pipeline.Redactor
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

func (m *maskedLines) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf = append(m.buf, p...)
	for {
		i := bytes.IndexByte(m.buf, '\n')
		if i < 0 {
			break
		}
		_, _ = io.WriteString(m.w, m.r.Redact(string(m.buf[:i]))+"\n")
		m.buf = m.buf[i+1:]
	}
	return len(p), nil
}

func (m *maskedLines) flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.buf) > 0 {
		_, _ = io.WriteString(m.w, m.r.Redact(string(m.buf))+"\n")
		m.buf = nil
	}
}
