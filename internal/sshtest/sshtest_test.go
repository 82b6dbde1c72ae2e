package sshtest_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/internal/sshtest"
)

// handshakeTimeout bounds every dial in these tests, so that a stalled
// server fails a test instead of hanging it.
const handshakeTimeout = 30 * time.Second

// dial connects, shakes hands and authenticates under one deadline, as a
// careful client does.
func dial(t *testing.T, s *sshtest.Server, key ssh.Signer, timeout time.Duration) (*ssh.Client, ssh.PublicKey, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr, timeout)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var hostKey ssh.PublicKey
	c, chans, reqs, err := ssh.NewClientConn(conn, s.Addr, &ssh.ClientConfig{
		User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			hostKey = k
			return nil
		},
	})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	t.Cleanup(func() { client.Close() })
	return client, hostKey, nil
}

func newKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthentication(t *testing.T) {
	other := newKey(t)
	tests := []struct {
		name    string
		opts    sshtest.Options
		key     func(s *sshtest.Server) ssh.Signer
		wantErr string // "" means accepted
	}{
		{name: "own client key", key: func(s *sshtest.Server) ssh.Signer { return s.Client }},
		{name: "authorized key", opts: sshtest.Options{AuthorizedKeys: []ssh.PublicKey{other.PublicKey()}},
			key: func(*sshtest.Server) ssh.Signer { return other }},
		{name: "unknown key", key: func(*sshtest.Server) ssh.Signer { return other }, wantErr: "unable to authenticate"},
		{name: "RejectKey refuses its own key", opts: sshtest.Options{RejectKey: true},
			key: func(s *sshtest.Server) ssh.Signer { return s.Client }, wantErr: "unable to authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sshtest.Start(t, tt.opts)
			_, hostKey, err := dial(t, s, tt.key(s), handshakeTimeout)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("dial: %v, want success", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("dial: %v, want an error containing %q", err, tt.wantErr)
			case err == nil && string(hostKey.Marshal()) != string(s.HostKey.Marshal()):
				t.Errorf("host key = %s, want HostKey %s", ssh.FingerprintSHA256(hostKey), ssh.FingerprintSHA256(s.HostKey))
			}
			if got, want := s.Accepted.Load(), int64(1); got != want {
				t.Errorf("Accepted = %d, want %d", got, want)
			}
			if got, want := s.Handshakes.Load(), int64(1); got != want {
				t.Errorf("Handshakes = %d, want %d", got, want)
			}
		})
	}
}

func TestHandshakesCountsConnectionsNotKeys(t *testing.T) {
	s := sshtest.Start(t, sshtest.Options{})
	if _, _, err := dial(t, s, newKey(t), handshakeTimeout); err == nil {
		t.Fatal("a key the server does not know was accepted")
	}
	conn, err := net.DialTimeout("tcp", s.Addr, handshakeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	c, _, _, err := ssh.NewClientConn(conn, s.Addr, &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(newKey(t), newKey(t), s.Client)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		t.Fatalf("three keys, the last one good: %v", err)
	}
	c.Close()
	if got, want := s.Handshakes.Load(), int64(2); got != want {
		t.Errorf("Handshakes = %d, want %d", got, want)
	}
}

func TestExec(t *testing.T) {
	tests := []struct {
		name       string
		exec       func(string) (string, int)
		wantOut    string
		wantStatus int
	}{
		{name: "nil Exec exits 0"},
		{name: "output and status 0", exec: func(cmd string) (string, int) { return "ran " + cmd, 0 }, wantOut: "ran cloud-init status --wait"},
		{name: "done with warnings", exec: func(string) (string, int) { return "status: done\n", 2 }, wantOut: "status: done\n", wantStatus: 2},
		{name: "failure", exec: func(string) (string, int) { return "status: error\n", 1 }, wantOut: "status: error\n", wantStatus: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sshtest.Start(t, sshtest.Options{Exec: tt.exec})
			client, _, err := dial(t, s, s.Client, handshakeTimeout)
			if err != nil {
				t.Fatal(err)
			}
			// Two sessions on one connection: each gets its own answer.
			for i := range 2 {
				sess, err := client.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				out, err := sess.CombinedOutput("cloud-init status --wait")
				sess.Close()
				status := 0
				var exit *ssh.ExitError
				switch {
				case errors.As(err, &exit):
					status = exit.ExitStatus()
				case err != nil:
					t.Fatalf("session %d: %v (a missing exit-status shows as ExitMissingError)", i, err)
				}
				if got := string(out); got != tt.wantOut {
					t.Errorf("session %d: output = %q, want %q", i, got, tt.wantOut)
				}
				if status != tt.wantStatus {
					t.Errorf("session %d: status = %d, want %d", i, status, tt.wantStatus)
				}
			}
		})
	}
}

func TestStalls(t *testing.T) {
	tests := []struct {
		name string
		opts sshtest.Options
	}{
		{name: "before its version", opts: sshtest.Options{Stall: true}},
		{name: "after its version", opts: sshtest.Options{StallAfterVersion: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sshtest.Start(t, tt.opts)
			_, _, err := dial(t, s, s.Client, 100*time.Millisecond)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("dial: %v, want a timeout", err)
			}
			// The server counts the connection in its own goroutine, which a
			// loaded machine may not have run yet when the client gives up.
			for i := 0; s.Accepted.Load() < 1 && i < 3000; i++ { // 3000 × 10ms: a hang guard
				time.Sleep(10 * time.Millisecond)
			}
			if got, want := s.Accepted.Load(), int64(1); got != want {
				t.Errorf("Accepted = %d, want %d", got, want)
			}
			if got := s.Handshakes.Load(); got != 0 {
				t.Errorf("Handshakes = %d, want 0: the handshake never got to keys", got)
			}
		})
	}
}

func TestStartLate(t *testing.T) {
	s := sshtest.New(t, sshtest.Options{})
	if _, _, err := dial(t, s, s.Client, handshakeTimeout); err == nil {
		t.Fatal("dial before Start succeeded")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("a second Start succeeded")
	}
	if _, _, err := dial(t, s, s.Client, handshakeTimeout); err != nil {
		t.Fatalf("dial after Start: %v", err)
	}
}

func TestExtraHostKeys(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	s := sshtest.Start(t, sshtest.Options{ExtraHostKeys: []ssh.Signer{extra}})
	// x/crypto prefers ECDSA to ed25519, as many clients do: a client that
	// knows only the ed25519 key must say so with HostKeyAlgorithms.
	_, got, err := dial(t, s, s.Client, handshakeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type() != ssh.KeyAlgoECDSA256 {
		t.Errorf("default client got a %s host key, want %s", got.Type(), ssh.KeyAlgoECDSA256)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	stalled := sshtest.Start(t, sshtest.Options{Stall: true})
	conn, err := net.DialTimeout("tcp", stalled.Addr, handshakeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	busy := sshtest.Start(t, sshtest.Options{})
	client, _, err := dial(t, busy, busy.Client, handshakeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := client.NewSession() // left open: Close must not wait for it
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	closed := make(chan struct{})
	go func() {
		stalled.Close()
		busy.Close()
		stalled.Close() // twice is fine
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s with connections open")
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("read from a closed server's connection: %v, want it hung up", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- client.Wait() }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("client connection still open 10s after Close")
	}
	if err := busy.Start(); !errors.Is(err, sshtest.ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
}
