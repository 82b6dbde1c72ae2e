package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/internal/sshtest"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func host(name string, s *sshtest.Server) pipeline.SSHHost {
	return pipeline.SSHHost{Name: name, Addr: s.Addr, User: "root"}
}

func opts(s *sshtest.Server, keys ...ssh.PublicKey) pipeline.SSHWaitOptions {
	if len(keys) == 0 {
		keys = []ssh.PublicKey{s.HostKey}
	}
	return pipeline.SSHWaitOptions{Signers: []ssh.Signer{s.Client}, HostKeys: pipeline.PinnedHostKeys(keys...), Timeout: 20 * time.Second}
}

func TestWaitForSSHReadyAtOnce(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	var attempts int
	o := opts(s)
	o.OnReady = func(h pipeline.SSHHost, n int, _ time.Duration) { attempts = n }
	if err := pipeline.WaitForSSH(context.Background(), []pipeline.SSHHost{host("a", s)}, o); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Errorf("attempts = %d, want 1: the first probe is immediate", attempts)
	}
}

func TestWaitForSSHHostThatStartsLate(t *testing.T) {
	s := sshtest.New(t, sshtest.Options{})
	o := opts(s)
	var attempts atomic.Int64
	o.OnReady = func(h pipeline.SSHHost, n int, _ time.Duration) { attempts.Store(int64(n)) }
	done := make(chan error, 1)
	go func() { done <- pipeline.WaitForSSH(context.Background(), []pipeline.SSHHost{host("late", s)}, o) }()
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

func TestWaitForSSHFailures(t *testing.T) {
	// stop ends the current case's wait; a host that keeps failing its
	// readiness command calls it from its second probe on, so the error
	// is a whole probe's however slow the machine, not a timeout's.
	var stop context.CancelFunc
	var execs atomic.Int32
	tests := []struct {
		name   string
		server sshtest.Options
		edit   func(o *pipeline.SSHWaitOptions, s *sshtest.Server)
		want   []string
		// permanent failures stop after one probe.
		permanent bool
	}{
		{name: "key rejected", server: sshtest.Options{RejectKey: true}, want: []string{"refused every key"}, permanent: true},
		{name: "host key mismatch", edit: func(o *pipeline.SSHWaitOptions, s *sshtest.Server) {
			other := sshtest.New(t, sshtest.Options{})
			o.HostKeys = pipeline.PinnedHostKeys(other.HostKey)
		}, want: []string{"not one of the pinned keys"}, permanent: true},
		{name: "stalled handshake", server: sshtest.Options{Stall: true}, edit: func(o *pipeline.SSHWaitOptions, s *sshtest.Server) {
			o.HandshakeTimeout, o.Timeout = 200*time.Millisecond, time.Second
		}, want: []string{"h1 never became ready", "timed out"}},
		{name: "readiness command fails", server: sshtest.Options{Exec: func(string) (string, int) {
			if execs.Add(1) >= 2 {
				stop()
			}
			return "status: error", 1
		}}, edit: func(o *pipeline.SSHWaitOptions, s *sshtest.Server) {
			o.ReadyCommand = "cloud-init status --wait"
		}, want: []string{"exited 1", "status: error"}},
		{name: "no host key policy", edit: func(o *pipeline.SSHWaitOptions, s *sshtest.Server) {
			o.HostKeys = pipeline.HostKeyPolicy{}
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
			err := pipeline.WaitForSSH(ctx, []pipeline.SSHHost{host("h1", s)}, o)
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

func TestWaitForSSHReadinessExitCodes(t *testing.T) {
	for _, code := range []int{0, 2} {
		s := sshtest.Start(t, sshtest.Options{Exec: func(cmd string) (string, int) { return "", code }})
		o := opts(s)
		o.ReadyCommand = "cloud-init status --wait"
		if err := pipeline.WaitForSSH(context.Background(), []pipeline.SSHHost{host("h", s)}, o); err != nil {
			t.Errorf("exit %d: %v, want ready", code, err)
		}
	}
}

func TestWaitForSSHListsHostsNeverReady(t *testing.T) {
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
	o.OnReady = func(pipeline.SSHHost, int, time.Duration) {
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
	err := pipeline.WaitForSSH(ctx, []pipeline.SSHHost{host("up-1", up1), host("stuck", stuck), host("up-2", up2)}, o)
	var we *pipeline.SSHWaitError
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want *SSHWaitError", err)
	}
	if len(we.NotReady) != 1 || we.NotReady[0].Host.Name != "stuck" || we.NotReady[0].Attempts < 2 {
		t.Errorf("not ready = %v, want just stuck, probed more than once", we.NotReady)
	}
	if !strings.Contains(err.Error(), "handshake timed out") {
		t.Errorf("error %q does not carry the last error", err)
	}
}

func TestWaitForSSHCancel(t *testing.T) {
	down := sshtest.New(t, sshtest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(down)
	o.OnReady = func(pipeline.SSHHost, int, time.Duration) {}
	go func() {
		for i := 0; i < 100 && down.Accepted.Load() == 0; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	err := pipeline.WaitForSSH(ctx, []pipeline.SSHHost{host("down", down)}, o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestTrustOnFirstUseRecordsAndPins(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	path := filepath.Join(t.TempDir(), "known_hosts")
	o := opts(s)
	o.HostKeys = pipeline.TrustOnFirstUse(path)
	if err := pipeline.WaitForSSH(context.Background(), []pipeline.SSHHost{host("h", s)}, o); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))) {
		t.Fatalf("known_hosts does not hold the host key:\n%s", data)
	}
	// The recorded file now works strictly, and a new key at that address is refused.
	o.HostKeys = pipeline.KnownHosts(path)
	if err := pipeline.WaitForSSH(context.Background(), []pipeline.SSHHost{host("h", s)}, o); err != nil {
		t.Errorf("strict known_hosts after TOFU: %v", err)
	}
	s.Close()
	imposter := sshtest.New(t, sshtest.Options{})
	imposter.Addr = s.Addr
	if err := imposter.Start(); err != nil {
		t.Skipf("address taken again: %v", err)
	}
	o = opts(imposter)
	o.HostKeys = pipeline.TrustOnFirstUse(path)
	err := pipeline.WaitForSSH(context.Background(), []pipeline.SSHHost{host("h", imposter)}, o)
	if err == nil || !strings.Contains(err.Error(), "changed since it was first trusted") {
		t.Errorf("changed key: %v, want it refused", err)
	}
}

// WaitForSSH replaces `sleep 30`: it returns as soon as every host accepts
// the key, and names the hosts that never did.
func ExampleWaitForSSH() {
	t := &testing.T{}
	server := sshtest.Start(t, sshtest.Options{})
	defer server.Close()
	hosts := []pipeline.SSHHost{{Name: "web-1", Addr: server.Addr, User: "root"}}
	err := pipeline.WaitForSSH(context.Background(), hosts, pipeline.SSHWaitOptions{
		Signers:  []ssh.Signer{server.Client},
		HostKeys: pipeline.PinnedHostKeys(server.HostKey), // or KnownHosts(path), TrustOnFirstUse(path)
		Timeout:  time.Minute,
		OnReady:  func(h pipeline.SSHHost, attempts int, _ time.Duration) { fmt.Println(h.Name, "is ready") },
	})
	fmt.Println(err)
	// Output:
	// web-1 is ready
	// <nil>
}
