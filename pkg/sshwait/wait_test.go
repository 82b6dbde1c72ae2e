package sshwait_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/internal/sshtest"
	"github.com/baton-deploy/baton/pkg/sshwait"
)

func host(name string, s *sshtest.Server) sshwait.Host {
	return sshwait.Host{Name: name, Addr: s.Addr, User: "root"}
}

func opts(s *sshtest.Server, keys ...ssh.PublicKey) sshwait.Options {
	if len(keys) == 0 {
		keys = []ssh.PublicKey{s.HostKey}
	}
	return sshwait.Options{Signers: []ssh.Signer{s.Client}, HostKeys: sshwait.PinnedHostKeys(keys...), Timeout: 20 * time.Second}
}

func TestWaitReadyAtOnce(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	var attempts int
	o := opts(s)
	o.OnReady = func(h sshwait.Host, n int, _ time.Duration) { attempts = n }
	if err := sshwait.Wait(context.Background(), []sshwait.Host{host("a", s)}, o); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Errorf("attempts = %d, want 1: the first probe is immediate", attempts)
	}
}

func TestWaitHostThatStartsLate(t *testing.T) {
	s := sshtest.New(t, sshtest.Options{})
	o := opts(s)
	var attempts atomic.Int64
	o.OnReady = func(h sshwait.Host, n int, _ time.Duration) { attempts.Store(int64(n)) }
	done := make(chan error, 1)
	go func() { done <- sshwait.Wait(context.Background(), []sshwait.Host{host("late", s)}, o) }()
	// Start once the wait has been refused a few times (bounded by count).
	for i := 0; i < 200 && s.Accepted.Load() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		if i == 30 {
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no result within 20s")
	}
	if attempts.Load() < 2 {
		t.Errorf("attempts = %d, want more than one for a host that starts late", attempts.Load())
	}
}

func TestWaitFailures(t *testing.T) {
	// stop ends the current case's wait; a host that keeps failing its
	// readiness command calls it from its second probe on, so the error
	// is a whole probe's however slow the machine, not a timeout's.
	var stop context.CancelFunc
	var execs atomic.Int32
	tests := []struct {
		name   string
		server sshtest.Options
		edit   func(o *sshwait.Options, s *sshtest.Server)
		want   []string
		// permanent failures stop after one probe.
		permanent bool
	}{
		{name: "key rejected", server: sshtest.Options{RejectKey: true}, want: []string{"refused every key"}, permanent: true},
		{name: "host key mismatch", edit: func(o *sshwait.Options, s *sshtest.Server) {
			other := sshtest.New(t, sshtest.Options{})
			o.HostKeys = sshwait.PinnedHostKeys(other.HostKey)
		}, want: []string{"not one of the pinned keys"}, permanent: true},
		{name: "stalled handshake", server: sshtest.Options{Stall: true}, edit: func(o *sshwait.Options, s *sshtest.Server) {
			o.HandshakeTimeout, o.Timeout = 200*time.Millisecond, time.Second
		}, want: []string{"h1 never became ready", "timed out"}},
		{name: "readiness command fails", server: sshtest.Options{Exec: func(string) (string, int) {
			if execs.Add(1) >= 2 {
				stop()
			}
			return "status: error", 1
		}}, edit: func(o *sshwait.Options, s *sshtest.Server) {
			o.ReadyCommand = "cloud-init status --wait"
		}, want: []string{"exited 1", "status: error"}},
		{name: "no host key policy", edit: func(o *sshwait.Options, s *sshtest.Server) {
			o.HostKeys = sshwait.HostKeyPolicy{}
		}, want: []string{"no host key policy"}, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sshtest.Start(t, tt.server)
			o := opts(s)
			if tt.edit != nil {
				tt.edit(&o, s)
			}
			var ctx context.Context
			ctx, stop = context.WithCancel(context.Background())
			defer stop()
			execs.Store(0)
			err := sshwait.Wait(ctx, []sshwait.Host{host("h1", s)}, o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.permanent && s.Accepted.Load() > 1 {
				t.Errorf("%d connections for a permanent failure, want at most 1", s.Accepted.Load())
			}
		})
	}
}

func TestWaitReadinessExitCodes(t *testing.T) {
	for _, code := range []int{0, 2} {
		s := sshtest.Start(t, sshtest.Options{Exec: func(cmd string) (string, int) { return "", code }})
		o := opts(s)
		o.ReadyCommand = "cloud-init status --wait"
		if err := sshwait.Wait(context.Background(), []sshwait.Host{host("h", s)}, o); err != nil {
			t.Errorf("exit %d: %v, want ready", code, err)
		}
	}
}

func TestWaitListsHostsNeverReady(t *testing.T) {
	up1 := sshtest.Start(t, sshtest.Options{})
	up2 := sshtest.Start(t, sshtest.Options{})
	stuck := sshtest.Start(t, sshtest.Options{Stall: true}) // accepts, never answers
	o := opts(up1, up1.HostKey, up2.HostKey, stuck.HostKey)
	o.Signers = []ssh.Signer{up1.Client, up2.Client}
	o.HandshakeTimeout, o.Timeout = 100*time.Millisecond, time.Minute
	// The wait is given up once both up hosts are ready and the stuck one
	// has failed two whole probes (its third has begun): by events, not
	// by a timeout that a loaded machine reaches before a handshake ends.
	ctx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	var ready atomic.Int32
	readyBoth := make(chan struct{})
	o.OnReady = func(sshwait.Host, int, time.Duration) {
		if ready.Add(1) == 2 {
			close(readyBoth)
		}
	}
	go func() {
		<-readyBoth
		for i := 0; stuck.Accepted.Load() < 3 && i < 6000; i++ { // 6000 × 10ms: a hang guard
			time.Sleep(10 * time.Millisecond)
		}
		giveUp()
	}()
	err := sshwait.Wait(ctx, []sshwait.Host{host("up-1", up1), host("stuck", stuck), host("up-2", up2)}, o)
	var we *sshwait.Error
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if len(we.NotReady) != 1 || we.NotReady[0].Host.Name != "stuck" || we.NotReady[0].Attempts < 2 {
		t.Errorf("not ready = %v, want just stuck, probed more than once", we.NotReady)
	}
	if !strings.Contains(err.Error(), "handshake timed out") {
		t.Errorf("error %q does not carry the last error", err)
	}
}

func TestWaitCancel(t *testing.T) {
	down := sshtest.New(t, sshtest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(down)
	o.OnReady = func(sshwait.Host, int, time.Duration) {}
	go func() {
		for i := 0; i < 100 && down.Accepted.Load() == 0; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	err := sshwait.Wait(ctx, []sshwait.Host{host("down", down)}, o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// Wait replaces `sleep 30`: it returns as soon as every host accepts
// the key, and names the hosts that never did.
func ExampleWait() {
	t := &testing.T{}
	server := sshtest.Start(t, sshtest.Options{})
	defer server.Close()
	hosts := []sshwait.Host{{Name: "web-1", Addr: server.Addr, User: "root"}}
	err := sshwait.Wait(context.Background(), hosts, sshwait.Options{
		Signers:  []ssh.Signer{server.Client},
		HostKeys: sshwait.PinnedHostKeys(server.HostKey), // or KnownHosts(path), TrustOnFirstUse(path)
		Timeout:  time.Minute,
		OnReady:  func(h sshwait.Host, attempts int, _ time.Duration) { fmt.Println(h.Name, "is ready") },
	})
	fmt.Println(err)
	// Output:
	// web-1 is ready
	// <nil>
}

// waitBound is how long any test here waits for Wait to return
// before failing instead of hanging; the waits themselves are shorter.
const waitBound = 30 * time.Second

// waitFor runs Wait and fails the test if it has not returned within
// waitBound.
func waitFor(t *testing.T, ctx context.Context, hosts []sshwait.Host, o sshwait.Options) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- sshwait.Wait(ctx, hosts, o) }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitBound):
		t.Fatalf("Wait did not return within %s", waitBound)
		return nil
	}
}

func sshHost(name string, s *sshtest.Server) sshwait.Host {
	return sshwait.Host{Name: name, Addr: s.Addr, User: "root"}
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
	var he *sshwait.HostError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want a *HostWaitError", err)
	}
	if got := he.Host.Name; got != name {
		t.Errorf("failed host = %s, want %s", got, name)
	}
	if got := he.Attempts; got != 1 {
		t.Errorf("attempts = %d, want 1: a permanent error is not retried", got)
	}
	var we *sshwait.Error
	if errors.As(err, &we) {
		t.Errorf("err is an *Error (a timeout), want the permanent error alone: %v", err)
	}
}

func TestWaitPermanentFailureStopsEveryHost(t *testing.T) {
	up := sshtest.Start(t, sshtest.Options{})
	refuses := sshtest.Start(t, sshtest.Options{RejectKey: true})
	down := sshtest.New(t, sshtest.Options{}) // never started
	o := sshwait.Options{
		Signers:  []ssh.Signer{up.Client, refuses.Client},
		HostKeys: sshwait.PinnedHostKeys(up.HostKey, refuses.HostKey, down.HostKey),
		Timeout:  time.Minute, // far longer than waitBound allows: the wait must stop early
	}
	hosts := []sshwait.Host{sshHost("up", up), sshHost("refuses", refuses), sshHost("down", down)}
	err := waitFor(t, context.Background(), hosts, o)
	checkPermanent(t, err, "refuses", "refused every key")
	if !errors.Is(err, sshwait.ErrAuth) {
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
func TestWaitTooManyKeys(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	var signers []ssh.Signer
	for range 7 {
		signers = append(signers, ecdsaKey(t))
	}
	o := sshwait.Options{
		Signers:  append(signers, s.Client), // the good key comes too late
		HostKeys: sshwait.PinnedHostKeys(s.HostKey),
		Timeout:  time.Minute,
	}
	err := waitFor(t, context.Background(), []sshwait.Host{sshHost("web-1", s)}, o)
	checkPermanent(t, err, "web-1", "too many authentication failures")
	if !errors.Is(err, sshwait.ErrAuth) {
		t.Errorf("errors.Is(err, ErrSSHAuth) = false for %v", err)
	}
}

func TestWaitStalledHandshake(t *testing.T) {
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
			o := sshwait.Options{
				Signers:          []ssh.Signer{s.Client},
				HostKeys:         sshwait.PinnedHostKeys(s.HostKey),
				HandshakeTimeout: 50 * time.Millisecond,
				Timeout:          2 * time.Second,
			}
			err := waitFor(t, context.Background(), []sshwait.Host{sshHost("stuck", s)}, o)
			var we *sshwait.Error
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want an *Error", err)
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
func TestWaitLastErrorIsNotTheInterruption(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{StallAfterVersion: true})
	o := sshwait.Options{
		Signers:          []ssh.Signer{s.Client},
		HostKeys:         sshwait.PinnedHostKeys(s.HostKey),
		HandshakeTimeout: 200 * time.Millisecond,
		Timeout:          time.Second,
	}
	for i := range 5 { // the timeout lands in a different place each time
		err := waitFor(t, context.Background(), []sshwait.Host{sshHost("stuck", s)}, o)
		if err == nil || !strings.Contains(err.Error(), "handshake timed out") {
			t.Fatalf("run %d: err = %v, want it to say the handshake timed out", i, err)
		}
	}
}

func TestWaitReadinessCommand(t *testing.T) {
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
			o := sshwait.Options{
				Signers:        []ssh.Signer{s.Client},
				HostKeys:       sshwait.PinnedHostKeys(s.HostKey),
				Timeout:        time.Minute,
				ReadyCommand:   "cloud-init status --wait",
				ReadyExitCodes: tt.codes,
				OnReady:        func(_ sshwait.Host, n int, _ time.Duration) { attempts.Store(int64(n)) },
			}
			err := waitFor(t, ctx, []sshwait.Host{sshHost("web-1", s)}, o)
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

func TestWaitOptions(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	tests := []struct {
		name    string
		hosts   []sshwait.Host
		opts    sshwait.Options
		wantErr string // "" means no error
	}{
		{name: "no signers", hosts: []sshwait.Host{sshHost("h", s)},
			opts: sshwait.Options{HostKeys: sshwait.InsecureIgnoreHostKey()}, wantErr: "no client key"},
		{name: "no host key policy names the choices", hosts: []sshwait.Host{sshHost("h", s)},
			opts: sshwait.Options{Signers: []ssh.Signer{s.Client}}, wantErr: "KnownHosts, PinnedHostKeys or TrustOnFirstUse"},
		{name: "no hosts", opts: sshwait.Options{Signers: []ssh.Signer{s.Client}, HostKeys: sshwait.InsecureIgnoreHostKey()}},
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

func TestWaitParentDeadline(t *testing.T) {
	down := sshtest.New(t, sshtest.Options{}) // never started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	o := sshwait.Options{Signers: []ssh.Signer{down.Client}, HostKeys: sshwait.PinnedHostKeys(down.HostKey), Timeout: time.Minute}
	err := waitFor(t, ctx, []sshwait.Host{sshHost("down", down)}, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	var we *sshwait.Error
	if !errors.As(err, &we) || len(we.NotReady) != 1 || we.NotReady[0].Host.Name != "down" {
		t.Errorf("err = %v, want an *Error listing down", err)
	}
}
