package sshwait

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Host is a host to wait for: a name for messages, host:port, and the
// user to authenticate as.
type Host struct {
	Name string
	Addr string
	User string
}

// Options configures Wait. Signers and HostKeys are required;
// every other zero value has a useful default.
type Options struct {
	// Signers are the client keys to authenticate with.
	Signers []ssh.Signer
	// HostKeys says how host keys are checked: KnownHosts, PinnedHostKeys,
	// TrustOnFirstUse, or — asked for by name — InsecureIgnoreHostKey.
	HostKeys HostKeyPolicy
	// HandshakeTimeout bounds one probe: TCP connect, SSH handshake and
	// authentication, so a server that accepts TCP and never answers
	// cannot hang the wait. 0 means 5 seconds.
	HandshakeTimeout time.Duration
	// Timeout bounds the whole wait; 0 means 5 minutes.
	Timeout time.Duration
	// Interval is the first wait between probes of a host; it grows
	// exponentially (with jitter) up to MaxInterval. 0 means 100 ms and
	// 250 ms: probing a closed loopback or LAN port costs nothing, and a
	// host that comes up is noticed within a fraction of a second.
	Interval, MaxInterval time.Duration
	// ReadyCommand, when set, runs once a host authenticates, e.g.
	// "cloud-init status --wait"; the host is ready when it exits with one
	// of ReadyExitCodes (default 0 and 2 — cloud-init's done-with-warnings)
	// and is probed again otherwise.
	ReadyCommand   string
	ReadyExitCodes []int
	// OnReady, when set, is called as each host becomes ready, from the
	// host's own goroutine.
	OnReady func(h Host, attempts int, waited time.Duration)
}

// HostError is why one host did not become ready.
type HostError struct {
	Host     Host
	Attempts int
	Err      error
}

func (e *HostError) Error() string {
	return fmt.Sprintf("%s (%s) after %d attempts: %v", e.Host.Name, e.Host.Addr, e.Attempts, e.Err)
}

func (e *HostError) Unwrap() error { return e.Err }

// Error lists every host that never became ready, with its last
// error. It wraps the context's error when the wait was cancelled or
// timed out.
type Error struct {
	NotReady []*HostError
	Cause    error
}

func (e *Error) Error() string {
	names := make([]string, len(e.NotReady))
	for i, h := range e.NotReady {
		names[i] = h.Host.Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s never became ready", strings.Join(names, ", "))
	if e.Cause != nil {
		fmt.Fprintf(&b, " (%v)", e.Cause)
	}
	if len(e.NotReady) == 1 {
		fmt.Fprintf(&b, ": %v", e.NotReady[0])
		return b.String()
	}
	b.WriteString(":")
	for _, h := range e.NotReady {
		b.WriteString("\n  " + h.Error())
	}
	return b.String()
}

// Unwrap gives the cause and each host's error.
func (e *Error) Unwrap() []error {
	out := []error{}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	for _, h := range e.NotReady {
		out = append(out, h)
	}
	return out
}

// ErrAuth marks a host that refused every key: retrying cannot help.
var ErrAuth = errors.New("ssh authentication failed")

// Wait waits until every host accepts an SSH connection with one of
// the keys (and, when set, passes the readiness command), probing all of
// them at once: each host is probed at once, then after Interval, growing
// to MaxInterval. Network errors are retried; a refused key or a host key
// that does not match stops the wait at once, naming the host. On timeout
// the *Error lists every host that never became ready.
func Wait(ctx context.Context, hosts []Host, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	w := &waiter{opts: opts, start: time.Now(), cancel: cancel}
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.waitHost(wctx, h)
		}()
	}
	wg.Wait()
	if w.permanent != nil {
		return fmt.Errorf("wait for ssh: %w", w.permanent)
	}
	if len(w.notReady) == 0 {
		return nil
	}
	sort.Slice(w.notReady, func(i, j int) bool { return w.notReady[i].Host.Name < w.notReady[j].Host.Name })
	cause := ctx.Err()
	if cause == nil {
		cause = fmt.Errorf("timed out after %s", opts.Timeout)
	}
	return &Error{NotReady: w.notReady, Cause: cause}
}

// withDefaults checks the options Wait cannot do without and fills in the
// defaults of the others.
func (opts Options) withDefaults() (Options, error) {
	if len(opts.Signers) == 0 {
		return opts, errors.New("wait for ssh: no client key given")
	}
	if opts.HostKeys.callback == nil {
		return opts, errors.New("wait for ssh: no host key policy: use KnownHosts, PinnedHostKeys or TrustOnFirstUse (or InsecureIgnoreHostKey, by name)")
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 5 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.MaxInterval <= 0 {
		opts.MaxInterval = 250 * time.Millisecond
	}
	if len(opts.ReadyExitCodes) == 0 {
		opts.ReadyExitCodes = []int{0, 2}
	}
	return opts, nil
}

// waiter is one Wait: what the hosts' goroutines found.
type waiter struct {
	opts   Options
	start  time.Time
	cancel context.CancelFunc // ends the whole wait

	mu        sync.Mutex
	notReady  []*HostError
	permanent *HostError // the first host that retrying cannot help
}

// waitHost probes h until it is ready, the wait ends, or a probe fails in
// a way retrying cannot mend, which ends the wait for every host.
func (w *waiter) waitHost(ctx context.Context, h Host) {
	attempts, err := w.probeUntilReady(ctx, h)
	if err == nil {
		if w.opts.OnReady != nil {
			w.opts.OnReady(h, attempts, time.Since(w.start))
		}
		return
	}
	he := &HostError{Host: h, Attempts: attempts, Err: err}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.notReady = append(w.notReady, he)
	if !pipeline.IsRetryable(err) && ctx.Err() == nil && w.permanent == nil {
		w.permanent = he
		w.cancel() // a refused key will not be accepted later
	}
}

// probeUntilReady probes h, backing off between probes, until one
// succeeds, one fails for good, or ctx ends. When ctx cuts a probe short,
// the error is the previous probe's, which says more than a closed
// connection.
func (w *waiter) probeUntilReady(ctx context.Context, h Host) (attempts int, err error) {
	policy := pipeline.RetryPolicy{Attempts: 1 << 30, Base: w.opts.Interval, MaxWait: w.opts.MaxInterval}
	var prev error // of the last probe that ran its course
	return policy.Do(ctx, func(ctx context.Context, _ int) error {
		err := probeSSH(ctx, h, w.opts)
		if err != nil && prev != nil && ended(ctx) {
			cause := ctx.Err()
			if cause == nil { // past the deadline, before ctx's timer says so
				cause = context.DeadlineExceeded
			}
			return fmt.Errorf("%w; last attempt: %w", cause, prev)
		}
		prev = err
		return err
	})
}

// ended reports whether ctx is done or past its deadline: a dial that hits
// ctx's deadline can return before ctx's own timer marks it done.
func ended(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(d)
}

// probeSSH makes one connection: TCP, handshake and authentication under
// one deadline, then the readiness command. Errors worth retrying are
// marked pipeline.Retryable.
func probeSSH(ctx context.Context, h Host, opts Options) error {
	deadline := time.Now().Add(opts.HandshakeTimeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", h.Addr)
	if err != nil {
		return pipeline.Retryable(err)
	}
	// The deadline covers the handshake too; closing the connection when
	// ctx ends stops a probe that is stuck in it.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	cfg := &ssh.ClientConfig{
		User:            h.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(opts.Signers...)},
		HostKeyCallback: opts.HostKeys.callback,
		Timeout:         opts.HandshakeTimeout,
	}
	if opts.HostKeys.algorithms != nil {
		cfg.HostKeyAlgorithms = opts.HostKeys.algorithms(h.Addr, conn.RemoteAddr())
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, h.Addr, cfg)
	if err != nil {
		conn.Close()
		return classify(err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	_ = conn.SetDeadline(time.Time{})
	if opts.ReadyCommand == "" {
		return nil
	}
	return runReady(ctx, client, opts)
}

// classify tells a permanent failure (a refused key, a host key that does
// not match) from a transient one (the server is still starting).
func classify(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		return fmt.Errorf("%w: the host refused every key offered (%v)", ErrAuth, err)
	case strings.Contains(strings.ToLower(msg), "too many authentication failures"):
		// sshd drops a client after MaxAuthTries (6) refused keys; the
		// same keys in the same order will be dropped again.
		return fmt.Errorf("%w: the host refused the first keys offered and stopped listening (%v); offer fewer keys", ErrAuth, err)
	case errors.Is(err, errHostKey):
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return pipeline.Retryable(fmt.Errorf("ssh handshake timed out: %w", err))
	}
	return pipeline.Retryable(err)
}

func runReady(ctx context.Context, client *ssh.Client, opts Options) error {
	s, err := client.NewSession()
	if err != nil {
		return pipeline.Retryable(err)
	}
	defer s.Close()
	out := &proc.Buffer{}
	s.Stdout, s.Stderr = out, out
	done := make(chan error, 1)
	go func() { done <- s.Run(opts.ReadyCommand) }()
	select {
	case <-ctx.Done():
		client.Close()
		<-done
		return ctx.Err()
	case err = <-done:
	}
	code := 0
	var exit *ssh.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitStatus()
	case err != nil:
		return pipeline.Retryable(err)
	}
	if slices.Contains(opts.ReadyExitCodes, code) {
		return nil
	}
	text := strings.TrimSpace(out.String())
	if len(text) > 200 {
		text = "…" + text[len(text)-200:]
	}
	return pipeline.Retryable(fmt.Errorf("readiness command %q exited %d: %s", opts.ReadyCommand, code, text))
}
