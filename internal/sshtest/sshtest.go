// Package sshtest is an in-process SSH server for tests, built on
// golang.org/x/crypto/ssh: it can start late, refuse the client's key,
// stall in the handshake, and answer exec requests with a chosen exit code.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Options chooses how the server behaves.
type Options struct {
	// RejectKey refuses every client key.
	RejectKey bool
	// Stall accepts TCP connections and never says a word.
	Stall bool
	// Exec answers "exec" requests: what to print and the exit status. Nil
	// answers every command with exit status 0.
	Exec func(cmd string) (out string, status int)
}

// Server is one in-process SSH server on 127.0.0.1.
type Server struct {
	Addr    string
	HostKey ssh.PublicKey
	// Client is a key the server accepts (unless RejectKey).
	Client ssh.Signer

	opts   Options
	config *ssh.ServerConfig
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
	wg     sync.WaitGroup
	// Handshakes counts connections that reached authentication.
	Handshakes atomic.Int64
	// Accepted counts TCP connections.
	Accepted atomic.Int64
}

// New makes a server that is not listening yet: its address is reserved
// and Start makes it answer. It is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	_, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	client, _ := ssh.NewSignerFromKey(clientPriv)
	s := &Server{HostKey: hostSigner.PublicKey(), Client: client, opts: opts}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.Handshakes.Add(1)
			if !opts.RejectKey && string(key.Marshal()) == string(client.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errRejected
		},
	}
	s.config.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	ln.Close() // reserved: nothing listens until Start
	t.Cleanup(s.Close)
	return s
}

// Start makes a server answer at once.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(t, opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

type rejected struct{}

func (rejected) Error() string { return "key rejected" }

var errRejected = rejected{}

// Start listens on the reserved address and serves until Close.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.Accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			if s.opts.Stall {
				continue // hold it open, say nothing
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	return nil
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, creqs)
	}
}

func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			continue
		}
		var payload struct{ Cmd string }
		_ = ssh.Unmarshal(req.Payload, &payload)
		_ = req.Reply(true, nil)
		out, status := "", 0
		if s.opts.Exec != nil {
			out, status = s.opts.Exec(payload.Cmd)
		}
		_, _ = ch.Write([]byte(out))
		_ = ch.CloseWrite()
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(status))
		_, _ = ch.SendRequest("exit-status", false, b[:])
		return
	}
}

// Close stops the server and every connection it holds.
func (s *Server) Close() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}
