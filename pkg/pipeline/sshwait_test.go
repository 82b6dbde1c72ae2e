package pipeline_test

// These tests complement waitssh_test.go: host key policies one by one,
// a stall in the middle of the handshake, readiness commands that pass on
// a later probe, and many hosts at once.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/baton-deploy/baton/internal/sshtest"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// waitBound is how long any test here waits for WaitForSSH to return
// before failing instead of hanging; the waits themselves are shorter.
const waitBound = 30 * time.Second

// waitFor runs WaitForSSH and fails the test if it has not returned within
// waitBound.
func waitFor(t *testing.T, ctx context.Context, hosts []pipeline.SSHHost, o pipeline.SSHWaitOptions) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- pipeline.WaitForSSH(ctx, hosts, o) }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitBound):
		t.Fatalf("WaitForSSH did not return within %s", waitBound)
		return nil
	}
}

func sshHost(name string, s *sshtest.Server) pipeline.SSHHost {
	return pipeline.SSHHost{Name: name, Addr: s.Addr, User: "root"}
}

// writeKnownHosts writes a known_hosts file with one line per key for s.
func writeKnownHosts(t *testing.T, s *sshtest.Server, keys ...ssh.PublicKey) string {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, k) + "\n")
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func ecdsaKey(t *testing.T) ssh.Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWaitForSSHHostKeyPolicies(t *testing.T) {
	stranger := sshtest.New(t, sshtest.Options{}) // only its host key is used
	extra := ecdsaKey(t)
	tests := []struct {
		name   string
		server sshtest.Options
		policy func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy
		// wantErr is "" when the host must be ready, else a permanent
		// error holding it, found after a single probe.
		wantErr string
	}{
		{name: "pinned key", policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
			return pipeline.PinnedHostKeys(s.HostKey)
		}},
		{name: "pinned among several", policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
			return pipeline.PinnedHostKeys(stranger.HostKey, s.HostKey)
		}},
		{name: "pinned key of another host", policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
			return pipeline.PinnedHostKeys(stranger.HostKey)
		}, wantErr: "not one of the pinned keys"},
		{name: "known_hosts lists the key", policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
			return pipeline.KnownHosts(writeKnownHosts(t, s, s.HostKey))
		}},
		{name: "known_hosts has another key for the host", policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
			return pipeline.KnownHosts(writeKnownHosts(t, s, stranger.HostKey))
		}, wantErr: "key mismatch"},
		{name: "known_hosts does not list the host", policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
			return pipeline.KnownHosts(writeKnownHosts(t, stranger, stranger.HostKey))
		}, wantErr: "key is unknown"},
		{name: "known_hosts missing", policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
			return pipeline.KnownHosts(filepath.Join(t.TempDir(), "known_hosts"))
		}, wantErr: "cannot read"},
		{name: "insecure, asked for by name", policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
			return pipeline.InsecureIgnoreHostKey()
		}},
		// A real sshd offers ECDSA and RSA keys besides ed25519, and
		// x/crypto prefers ECDSA: a client that knows only the ed25519 key
		// must ask for that algorithm.
		{name: "known_hosts lists ed25519, host offers ECDSA too", server: sshtest.Options{ExtraHostKeys: []ssh.Signer{extra}},
			policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
				return pipeline.KnownHosts(writeKnownHosts(t, s, s.HostKey))
			}},
		{name: "pinned ed25519, host offers ECDSA too", server: sshtest.Options{ExtraHostKeys: []ssh.Signer{extra}},
			policy: func(t *testing.T, s *sshtest.Server) pipeline.HostKeyPolicy {
				return pipeline.PinnedHostKeys(s.HostKey)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sshtest.Start(t, tt.server)
			o := pipeline.SSHWaitOptions{Signers: []ssh.Signer{s.Client}, HostKeys: tt.policy(t, s), Timeout: time.Minute}
			err := waitFor(t, context.Background(), []pipeline.SSHHost{sshHost("web-1", s)}, o)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v, want the host ready", err)
				}
				return
			}
			checkPermanent(t, err, "web-1", tt.wantErr)
		})
	}
}

// checkPermanent checks that err stopped the wait at the first probe of the
// named host, without waiting for the timeout.
func checkPermanent(t *testing.T, err error, name, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("err = nil, want a permanent error")
	}
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), name) {
		t.Errorf("err = %q, want it to name %s and contain %q", err, name, want)
	}
	var he *pipeline.HostWaitError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want a *HostWaitError", err)
	}
	if got := he.Host.Name; got != name {
		t.Errorf("failed host = %s, want %s", got, name)
	}
	if got := he.Attempts; got != 1 {
		t.Errorf("attempts = %d, want 1: a permanent error is not retried", got)
	}
	var we *pipeline.SSHWaitError
	if errors.As(err, &we) {
		t.Errorf("err is an *SSHWaitError (a timeout), want the permanent error alone: %v", err)
	}
}

func TestWaitForSSHPermanentFailureStopsEveryHost(t *testing.T) {
	up := sshtest.Start(t, sshtest.Options{})
	refuses := sshtest.Start(t, sshtest.Options{RejectKey: true})
	down := sshtest.New(t, sshtest.Options{}) // never started
	o := pipeline.SSHWaitOptions{
		Signers:  []ssh.Signer{up.Client, refuses.Client},
		HostKeys: pipeline.PinnedHostKeys(up.HostKey, refuses.HostKey, down.HostKey),
		Timeout:  time.Minute, // far longer than waitBound allows: the wait must stop early
	}
	hosts := []pipeline.SSHHost{sshHost("up", up), sshHost("refuses", refuses), sshHost("down", down)}
	err := waitFor(t, context.Background(), hosts, o)
	checkPermanent(t, err, "refuses", "refused every key")
	if !errors.Is(err, pipeline.ErrSSHAuth) {
		t.Errorf("errors.Is(err, ErrSSHAuth) = false for %v", err)
	}
	if strings.Contains(err.Error(), "down") {
		t.Errorf("err = %q, want only the host that failed for good", err)
	}
	if got, want := refuses.Handshakes.Load(), int64(1); got != want {
		t.Errorf("handshakes with the refusing host = %d, want %d", got, want)
	}
}

// sshd drops a client after six refused keys (MaxAuthTries); so does
// x/crypto's server. Offering the same keys again cannot help.
func TestWaitForSSHTooManyKeys(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	var signers []ssh.Signer
	for range 7 {
		signers = append(signers, ecdsaKey(t))
	}
	o := pipeline.SSHWaitOptions{
		Signers:  append(signers, s.Client), // the good key comes too late
		HostKeys: pipeline.PinnedHostKeys(s.HostKey),
		Timeout:  time.Minute,
	}
	err := waitFor(t, context.Background(), []pipeline.SSHHost{sshHost("web-1", s)}, o)
	checkPermanent(t, err, "web-1", "too many authentication failures")
	if !errors.Is(err, pipeline.ErrSSHAuth) {
		t.Errorf("errors.Is(err, ErrSSHAuth) = false for %v", err)
	}
}

func TestWaitForSSHStalledHandshake(t *testing.T) {
	tests := []struct {
		name   string
		server sshtest.Options
	}{
		{name: "no version", server: sshtest.Options{Stall: true}},
		{name: "mid-handshake", server: sshtest.Options{StallAfterVersion: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sshtest.Start(t, tt.server)
			o := pipeline.SSHWaitOptions{
				Signers:          []ssh.Signer{s.Client},
				HostKeys:         pipeline.PinnedHostKeys(s.HostKey),
				HandshakeTimeout: 50 * time.Millisecond,
				Timeout:          2 * time.Second,
			}
			err := waitFor(t, context.Background(), []pipeline.SSHHost{sshHost("stuck", s)}, o)
			var we *pipeline.SSHWaitError
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want an *SSHWaitError", err)
			}
			if len(we.NotReady) != 1 || we.NotReady[0].Host.Name != "stuck" {
				t.Fatalf("not ready = %v, want just stuck", we.NotReady)
			}
			if !strings.Contains(err.Error(), "handshake") {
				t.Errorf("err = %q, want it to name the handshake", err)
			}
			// A stall is a network error: probed again, each time on a new
			// connection.
			if got := s.Accepted.Load(); got < 2 {
				t.Errorf("connections = %d, want a stalled host probed more than once", got)
			}
		})
	}
}

// The last error of a host that timed out is that of its last whole probe,
// not of the probe the timeout cut short.
func TestWaitForSSHLastErrorIsNotTheInterruption(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{StallAfterVersion: true})
	o := pipeline.SSHWaitOptions{
		Signers:          []ssh.Signer{s.Client},
		HostKeys:         pipeline.PinnedHostKeys(s.HostKey),
		HandshakeTimeout: 200 * time.Millisecond,
		Timeout:          time.Second,
	}
	for i := range 5 { // the timeout lands in a different place each time
		err := waitFor(t, context.Background(), []pipeline.SSHHost{sshHost("stuck", s)}, o)
		if err == nil || !strings.Contains(err.Error(), "handshake timed out") {
			t.Fatalf("run %d: err = %v, want it to say the handshake timed out", i, err)
		}
	}
}

func TestWaitForSSHReadinessCommand(t *testing.T) {
	tests := []struct {
		name         string
		exits        []int // one per probe; the last repeats
		codes        []int // ReadyExitCodes
		stopAfter    int   // when set, the wait is cancelled as probe stopAfter runs
		wantErr      string
		wantAttempts int // when ready
	}{
		{name: "fails, then passes", exits: []int{1, 1, 0}, wantAttempts: 3},
		{name: "done with warnings", exits: []int{1, 2}, wantAttempts: 2},
		{name: "2 not accepted when only 0 is", exits: []int{2}, codes: []int{0}, stopAfter: 2, wantErr: "exited 2"},
		{name: "a code of the caller's", exits: []int{3}, codes: []int{3}, wantAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				calls atomic.Int64
				cmds  sync.Map
			)
			// A host that never passes is given up on when a second probe
			// runs, i.e. once a whole probe has failed: by that event, not
			// by a timeout a slow machine could reach before any probe ends.
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			s := sshtest.Start(t, sshtest.Options{Exec: func(cmd string) (string, int) {
				cmds.Store(cmd, true)
				n := int(calls.Add(1)) - 1
				if tt.stopAfter > 0 && n+1 >= tt.stopAfter {
					stop()
				}
				code := tt.exits[min(n, len(tt.exits)-1)]
				return fmt.Sprintf("probe %d: exit %d\n", n+1, code), code
			}})
			var attempts atomic.Int64
			o := pipeline.SSHWaitOptions{
				Signers:        []ssh.Signer{s.Client},
				HostKeys:       pipeline.PinnedHostKeys(s.HostKey),
				Timeout:        time.Minute,
				ReadyCommand:   "cloud-init status --wait",
				ReadyExitCodes: tt.codes,
				OnReady:        func(_ pipeline.SSHHost, n int, _ time.Duration) { attempts.Store(int64(n)) },
			}
			err := waitFor(t, ctx, []pipeline.SSHHost{sshHost("web-1", s)}, o)
			if _, ok := cmds.Load("cloud-init status --wait"); !ok {
				t.Error("the readiness command never ran")
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "probe ") {
					t.Fatalf("err = %v, want it to contain %q and the command's output", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := int(attempts.Load()); got != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", got, tt.wantAttempts)
			}
		})
	}
}

func TestWaitForSSHOptions(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	tests := []struct {
		name    string
		hosts   []pipeline.SSHHost
		opts    pipeline.SSHWaitOptions
		wantErr string // "" means no error
	}{
		{name: "no signers", hosts: []pipeline.SSHHost{sshHost("h", s)},
			opts: pipeline.SSHWaitOptions{HostKeys: pipeline.InsecureIgnoreHostKey()}, wantErr: "no client key"},
		{name: "no host key policy names the choices", hosts: []pipeline.SSHHost{sshHost("h", s)},
			opts: pipeline.SSHWaitOptions{Signers: []ssh.Signer{s.Client}}, wantErr: "KnownHosts, PinnedHostKeys or TrustOnFirstUse"},
		{name: "no hosts", opts: pipeline.SSHWaitOptions{Signers: []ssh.Signer{s.Client}, HostKeys: pipeline.InsecureIgnoreHostKey()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := waitFor(t, context.Background(), tt.hosts, tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	if got := s.Accepted.Load(); got != 0 {
		t.Errorf("connections = %d, want none when the options are wrong", got)
	}
}

func TestWaitForSSHParentDeadline(t *testing.T) {
	down := sshtest.New(t, sshtest.Options{}) // never started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	o := pipeline.SSHWaitOptions{Signers: []ssh.Signer{down.Client}, HostKeys: pipeline.PinnedHostKeys(down.HostKey), Timeout: time.Minute}
	err := waitFor(t, ctx, []pipeline.SSHHost{sshHost("down", down)}, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	var we *pipeline.SSHWaitError
	if !errors.As(err, &we) || len(we.NotReady) != 1 || we.NotReady[0].Host.Name != "down" {
		t.Errorf("err = %v, want an *SSHWaitError listing down", err)
	}
}

func TestTrustOnFirstUseManyHostsAtOnce(t *testing.T) {
	const n = 8
	path := filepath.Join(t.TempDir(), "ssh", "known_hosts") // the directory is made too
	// One client key for every host: sshd, like sshtest, drops a client
	// after six refused keys.
	client := ecdsaKey(t)
	var (
		hosts   []pipeline.SSHHost
		servers []*sshtest.Server
	)
	for i := range n {
		s := sshtest.Start(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{client.PublicKey()}})
		servers = append(servers, s)
		hosts = append(hosts, sshHost(fmt.Sprintf("web-%d", i+1), s))
	}
	for round := 1; round <= 2; round++ {
		var (
			mu    sync.Mutex
			ready = map[string]int{}
		)
		o := pipeline.SSHWaitOptions{
			Signers:  []ssh.Signer{client},
			HostKeys: pipeline.TrustOnFirstUse(path),
			Timeout:  time.Minute,
			OnReady: func(h pipeline.SSHHost, _ int, _ time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				ready[h.Name]++
			},
		}
		if err := waitFor(t, context.Background(), hosts, o); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, h := range hosts {
			if got := ready[h.Name]; got != 1 {
				t.Errorf("round %d: OnReady called %d times for %s, want once", round, got, h.Name)
			}
		}
		// Every key is recorded once, on a line of its own, and a second
		// round adds nothing.
		lines := readLines(t, path)
		if len(lines) != n {
			t.Errorf("round %d: known_hosts has %d lines, want %d:\n%s", round, len(lines), n, strings.Join(lines, "\n"))
		}
		for _, s := range servers {
			want := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
			if count := countLine(lines, want); count != 1 {
				t.Errorf("round %d: %q recorded %d times, want once", round, want, count)
			}
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func countLine(lines []string, want string) int {
	n := 0
	for _, l := range lines {
		if l == want {
			n++
		}
	}
	return n
}
