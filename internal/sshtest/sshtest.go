// Package sshtest is an in-process SSH server for tests, built on
// golang.org/x/crypto/ssh: it can start late, refuse the client's key,
// stall before or in the middle of the handshake, and answer exec requests
// with chosen output and exit status. Like net/http/httptest, it listens on
// 127.0.0.1 and counts what it saw so that tests can assert on it.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Options chooses how a Server behaves. The zero value is a server that
// accepts its own Client key and answers every command with exit status 0.
type Options struct {
	// RejectKey refuses every client key.
	RejectKey bool
	// AuthorizedKeys are accepted besides the server's own Client key.
	AuthorizedKeys []ssh.PublicKey
	// Stall accepts TCP connections and never says a word, not even its
	// version: a handshake against it waits forever without a deadline.
	Stall bool
	// StallAfterVersion sends the server's version and then nothing more,
	// leaving the client stuck in the middle of the handshake.
	StallAfterVersion bool
	// ExtraHostKeys are host keys offered besides the server's ed25519
	// HostKey, as a real sshd offers ECDSA and RSA keys too. The client
	// chooses among them by its own preference.
	ExtraHostKeys []ssh.Signer
	// Exec answers "exec" requests with what the command prints and its
	// exit status. Nil answers every command with no output and status 0.
	// It is called from the connection's goroutine.
	Exec func(cmd string) (out string, status int)
}

// Server is an in-process SSH server on 127.0.0.1. Its exported fields are
// set by NewServer; tests may change Addr before the first Start.
type Server struct {
	// Addr is the server's host:port, reserved before Start.
	Addr string
	// HostKey is the server's ed25519 host key.
	HostKey ssh.PublicKey
	// Client is a client key the server accepts (unless RejectKey).
	Client ssh.Signer
	// Accepted counts TCP connections.
	Accepted atomic.Int64
	// Handshakes counts connections that reached key authentication,
	// however many keys they offered.
	Handshakes atomic.Int64

	opts       Options
	hostSigner ssh.Signer

	mu     sync.Mutex
	ln     net.Listener
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// ErrClosed is returned by Start on a server already closed.
var ErrClosed = errors.New("sshtest: server closed")

// NewServer makes a server that is not listening yet: its address is
// reserved and Start makes it answer. The caller must Close it; tests
// should use New, which does. NewServer is for Example functions, which
// have no testing.TB.
func NewServer(opts Options) (*Server, error) {
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	_, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	client, err := ssh.NewSignerFromKey(clientPriv)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close() // reserved: nothing listens until Start
	return &Server{
		Addr:       addr,
		HostKey:    hostSigner.PublicKey(),
		Client:     client,
		opts:       opts,
		hostSigner: hostSigner,
		conns:      map[net.Conn]struct{}{},
	}, nil
}

// New makes a server that is not listening yet, like NewServer, and closes
// it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start makes a server that answers at once and is closed when the test
// ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(t, opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Start listens on Addr and serves until Close. It fails if the server is
// already listening, was closed, or someone else took the address.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.ln != nil:
		return fmt.Errorf("sshtest: %s already started", s.Addr)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept(ln)
	return nil
}

// Close stops the server, closes every connection it holds and waits for
// its goroutines to end. It may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		s.Accepted.Add(1)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		// Added under the lock that Close takes first, so Close's Wait
		// never races this Add.
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer s.forget(c)
			s.serve(c)
		}()
	}
}

func (s *Server) forget(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) serve(c net.Conn) {
	switch {
	case s.opts.Stall:
		_, _ = io.Copy(io.Discard, c) // until the client or Close hangs up
		return
	case s.opts.StallAfterVersion:
		if _, err := io.WriteString(c, "SSH-2.0-sshtest\r\n"); err == nil {
			_, _ = io.Copy(io.Discard, c)
		}
		return
	}
	_, chans, reqs, err := ssh.NewServerConn(c, s.config())
	if err != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ssh.DiscardRequests(reqs)
	}()
	for nc := range chans { // ends when the connection does
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(ch, creqs)
		}()
	}
}

// config is made per connection so that Handshakes counts a connection
// once however many keys it offers.
func (s *Server) config() *ssh.ServerConfig {
	var counted atomic.Bool
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if !counted.Swap(true) {
				s.Handshakes.Add(1)
			}
			if s.authorized(key) {
				return nil, nil
			}
			return nil, errors.New("sshtest: key rejected")
		},
	}
	cfg.AddHostKey(s.hostSigner)
	for _, k := range s.opts.ExtraHostKeys {
		cfg.AddHostKey(k)
	}
	return cfg
}

func (s *Server) authorized(key ssh.PublicKey) bool {
	if s.opts.RejectKey {
		return false
	}
	want := key.Marshal()
	if string(want) == string(s.Client.PublicKey().Marshal()) {
		return true
	}
	for _, k := range s.opts.AuthorizedKeys {
		if string(want) == string(k.Marshal()) {
			return true
		}
	}
	return false
}

// session answers the first exec request of a channel the way sshd does:
// output, end of file, exit-status, close. Other requests are refused, and
// the channel's requests are drained until it ends so the connection never
// blocks on them.
func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	done := false
	for req := range reqs {
		var payload struct{ Cmd string }
		if done || req.Type != "exec" || ssh.Unmarshal(req.Payload, &payload) != nil {
			_ = req.Reply(false, nil)
			continue
		}
		_ = req.Reply(true, nil)
		out, status := "", 0
		if s.opts.Exec != nil {
			out, status = s.opts.Exec(payload.Cmd)
		}
		_, _ = io.WriteString(ch, out)
		_ = ch.CloseWrite()
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(status))
		_, _ = ch.SendRequest("exit-status", false, b[:])
		_ = ch.Close()
		done = true
	}
}
