package sshwait_test

// Host key policies one by one: known_hosts, pinned keys, trust on first
// use (also for many hosts at once).

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/baton-deploy/baton/internal/sshtest"
	"github.com/baton-deploy/baton/pkg/sshwait"
)

func TestTrustOnFirstUseRecordsAndPins(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	path := filepath.Join(t.TempDir(), "known_hosts")
	o := opts(s)
	o.HostKeys = sshwait.TrustOnFirstUse(path)
	if err := sshwait.Wait(context.Background(), []sshwait.Host{host("h", s)}, o); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))) {
		t.Fatalf("known_hosts does not hold the host key:\n%s", data)
	}
	// The recorded file now works strictly, and a new key at that address is refused.
	o.HostKeys = sshwait.KnownHosts(path)
	if err := sshwait.Wait(context.Background(), []sshwait.Host{host("h", s)}, o); err != nil {
		t.Errorf("strict known_hosts after TOFU: %v", err)
	}
	s.Close()
	imposter := sshtest.New(t, sshtest.Options{})
	imposter.Addr = s.Addr
	if err := imposter.Start(); err != nil {
		t.Skipf("address taken again: %v", err)
	}
	o = opts(imposter)
	o.HostKeys = sshwait.TrustOnFirstUse(path)
	err := sshwait.Wait(context.Background(), []sshwait.Host{host("h", imposter)}, o)
	if err == nil || !strings.Contains(err.Error(), "changed since it was first trusted") {
		t.Errorf("changed key: %v, want it refused", err)
	}
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

func TestWaitHostKeyPolicies(t *testing.T) {
	stranger := sshtest.New(t, sshtest.Options{}) // only its host key is used
	extra := ecdsaKey(t)
	tests := []struct {
		name   string
		server sshtest.Options
		policy func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy
		// wantErr is "" when the host must be ready, else a permanent
		// error holding it, found after a single probe.
		wantErr string
	}{
		{name: "pinned key", policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
			return sshwait.PinnedHostKeys(s.HostKey)
		}},
		{name: "pinned among several", policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
			return sshwait.PinnedHostKeys(stranger.HostKey, s.HostKey)
		}},
		{name: "pinned key of another host", policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
			return sshwait.PinnedHostKeys(stranger.HostKey)
		}, wantErr: "not one of the pinned keys"},
		{name: "known_hosts lists the key", policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
			return sshwait.KnownHosts(writeKnownHosts(t, s, s.HostKey))
		}},
		{name: "known_hosts has another key for the host", policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
			return sshwait.KnownHosts(writeKnownHosts(t, s, stranger.HostKey))
		}, wantErr: "key mismatch"},
		{name: "known_hosts does not list the host", policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
			return sshwait.KnownHosts(writeKnownHosts(t, stranger, stranger.HostKey))
		}, wantErr: "key is unknown"},
		{name: "known_hosts missing", policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
			return sshwait.KnownHosts(filepath.Join(t.TempDir(), "known_hosts"))
		}, wantErr: "cannot read"},
		{name: "insecure, asked for by name", policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
			return sshwait.InsecureIgnoreHostKey()
		}},
		// A real sshd offers ECDSA and RSA keys besides ed25519, and
		// x/crypto prefers ECDSA: a client that knows only the ed25519 key
		// must ask for that algorithm.
		{name: "known_hosts lists ed25519, host offers ECDSA too", server: sshtest.Options{ExtraHostKeys: []ssh.Signer{extra}},
			policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
				return sshwait.KnownHosts(writeKnownHosts(t, s, s.HostKey))
			}},
		{name: "pinned ed25519, host offers ECDSA too", server: sshtest.Options{ExtraHostKeys: []ssh.Signer{extra}},
			policy: func(t *testing.T, s *sshtest.Server) sshwait.HostKeyPolicy {
				return sshwait.PinnedHostKeys(s.HostKey)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sshtest.Start(t, tt.server)
			o := sshwait.Options{Signers: []ssh.Signer{s.Client}, HostKeys: tt.policy(t, s), Timeout: time.Minute}
			err := waitFor(t, context.Background(), []sshwait.Host{sshHost("web-1", s)}, o)
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

func TestTrustOnFirstUseManyHostsAtOnce(t *testing.T) {
	const n = 8
	path := filepath.Join(t.TempDir(), "ssh", "known_hosts") // the directory is made too
	// One client key for every host: sshd, like sshtest, drops a client
	// after six refused keys.
	client := ecdsaKey(t)
	var (
		hosts   []sshwait.Host
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
		o := sshwait.Options{
			Signers:  []ssh.Signer{client},
			HostKeys: sshwait.TrustOnFirstUse(path),
			Timeout:  time.Minute,
			OnReady: func(h sshwait.Host, _ int, _ time.Duration) {
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
