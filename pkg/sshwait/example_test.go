package sshwait_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/internal/sshtest"
	"github.com/baton-deploy/baton/pkg/sshwait"
)

// startedServer is an in-process SSH server standing in for a new machine.
func startedServer(opts sshtest.Options) *sshtest.Server {
	s, err := sshtest.NewServer(opts)
	if err != nil {
		panic(err)
	}
	if err := s.Start(); err != nil {
		panic(err)
	}
	return s
}

// A readiness command makes "ready" mean more than "sshd answers":
// cloud-init has finished. Its exit status 2 — done, with warnings — counts
// as ready by default; anything else is probed again until the timeout.
func ExampleWait_readyCommand() {
	server := startedServer(sshtest.Options{Exec: func(cmd string) (string, int) {
		return "status: done\n", 2
	}})
	defer server.Close()

	hosts := []sshwait.Host{{Name: "web-1", Addr: server.Addr, User: "ubuntu"}}
	err := sshwait.Wait(context.Background(), hosts, sshwait.Options{
		Signers:      []ssh.Signer{server.Client},
		HostKeys:     sshwait.PinnedHostKeys(server.HostKey),
		ReadyCommand: "cloud-init status --wait",
		Timeout:      time.Minute,
		OnReady: func(h sshwait.Host, attempts int, _ time.Duration) {
			fmt.Printf("%s is ready after %d probe\n", h.Name, attempts)
		},
	})
	fmt.Println("error:", err)
	// Output:
	// web-1 is ready after 1 probe
	// error: <nil>
}

// When the wait ends — it times out, or, as here, it is given up — the
// *Error lists every host that never became ready, each with its
// last error; the hosts that did are not in it.
func ExampleError() {
	up := startedServer(sshtest.Options{})
	defer up.Close()
	stuck := startedServer(sshtest.Options{Stall: true}) // accepts, never answers
	defer stuck.Close()

	hosts := []sshwait.Host{
		{Name: "web-1", Addr: up.Addr, User: "root"},
		{Name: "db-1", Addr: stuck.Addr, User: "root"},
	}
	// Give up once web-1 is ready and db-1 has failed a whole probe (its
	// second has begun): by those events, not a clock, however slow the
	// machine.
	ctx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	ready := make(chan struct{})
	go func() {
		<-ready
		for i := 0; stuck.Accepted.Load() < 2 && i < 6000; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		giveUp()
	}()
	err := sshwait.Wait(ctx, hosts, sshwait.Options{
		Signers:          []ssh.Signer{up.Client},
		HostKeys:         sshwait.PinnedHostKeys(up.HostKey, stuck.HostKey),
		HandshakeTimeout: 100 * time.Millisecond,
		Timeout:          time.Minute,
		OnReady:          func(sshwait.Host, int, time.Duration) { close(ready) },
	})
	var wait *sshwait.Error
	if errors.As(err, &wait) {
		for _, h := range wait.NotReady {
			fmt.Println("not ready:", h.Host.Name, "-", strings.Contains(h.Err.Error(), "handshake timed out"))
		}
	}
	// Output:
	// not ready: db-1 - true
}

// Trust on first use records each new host's key in a known_hosts file (a
// key that later changes is refused); from then on KnownHosts can check the
// same file strictly.
func ExampleTrustOnFirstUse() {
	server := startedServer(sshtest.Options{})
	defer server.Close()
	dir, err := os.MkdirTemp("", "known_hosts")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "known_hosts")

	hosts := []sshwait.Host{{Name: "web-1", Addr: server.Addr, User: "root"}}
	for _, step := range []struct {
		name   string
		policy sshwait.HostKeyPolicy
	}{
		{"first use", sshwait.TrustOnFirstUse(path)},
		{"strict", sshwait.KnownHosts(path)},
	} {
		err := sshwait.Wait(context.Background(), hosts, sshwait.Options{
			Signers:  []ssh.Signer{server.Client},
			HostKeys: step.policy,
			Timeout:  time.Minute,
		})
		data, _ := os.ReadFile(path)
		fmt.Printf("%s: error %v, keys recorded: %d\n", step.name, err, strings.Count(string(data), "\n"))
	}
	// Output:
	// first use: error <nil>, keys recorded: 1
	// strict: error <nil>, keys recorded: 1
}
