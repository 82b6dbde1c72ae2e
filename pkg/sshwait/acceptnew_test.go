package sshwait_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/baton-deploy/baton/internal/sshtest"
	"github.com/baton-deploy/baton/pkg/sshwait"
)

// acceptNewWait waits for hosts with the accept-new policy on path.
func acceptNewWait(t *testing.T, path string, client ssh.Signer, servers map[string]*sshtest.Server, forget func(string, []string) (bool, string)) error {
	t.Helper()
	names := map[string]string{}
	var hosts []sshwait.Host
	for name, s := range servers {
		names[s.Addr] = name
		hosts = append(hosts, sshHost(name, s))
	}
	return waitFor(t, context.Background(), hosts, sshwait.Options{
		Signers:  []ssh.Signer{client},
		HostKeys: sshwait.AcceptNew(path, sshwait.AcceptNewOptions{Names: names, Forget: forget}),
		Timeout:  20 * time.Second,
	})
}

func line(s *sshtest.Server, name string) string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey) + " baton:" + name
}

// restart replaces s by a server with a new host key at the same address,
// as a rebuilt host is.
func restart(t *testing.T, s *sshtest.Server, client ssh.Signer) *sshtest.Server {
	t.Helper()
	s.Close()
	n := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{client.PublicKey()}})
	n.Addr = s.Addr
	if err := n.Start(); err != nil {
		t.Skipf("the address %s was taken in between: %v", s.Addr, err)
	}
	return n
}

func TestAcceptNew(t *testing.T) {
	client := ecdsaKey(t)
	opts := sshtest.Options{AuthorizedKeys: []ssh.PublicKey{client.PublicKey()}}
	web, jump := sshtest.Start(t, opts), sshtest.Start(t, opts)
	path := filepath.Join(t.TempDir(), "env", "known_hosts") // the directory is made
	servers := map[string]*sshtest.Server{"web-1": web, "jump": jump}

	// First contact: both keys recorded, named.
	if err := acceptNewWait(t, path, client, servers, nil); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 2 || countLine(lines, line(web, "web-1")) != 1 || countLine(lines, line(jump, "jump")) != 1 {
		t.Fatalf("known_hosts after first contact:\n%s", strings.Join(lines, "\n"))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v, want 0600", fi.Mode().Perm())
	}
	// Second run: accepted, nothing added; ssh's strict check agrees.
	if err := acceptNewWait(t, path, client, servers, nil); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 2 {
		t.Errorf("second run changed known_hosts:\n%s", strings.Join(got, "\n"))
	}

	// A changed key is refused, naming the host, the file and the fix.
	webLine := 1 + slices.Index(readLines(t, path), line(web, "web-1"))
	web = restart(t, web, client)
	servers["web-1"] = web
	var asked []string
	err := acceptNewWait(t, path, client, servers, func(addr string, recorded []string) (bool, string) {
		asked = append(asked, addr+"="+strings.Join(recorded, ","))
		return false, "terraform replaced nothing named web-1"
	})
	want := []string{"host key of web-1 (" + web.Addr + ") changed", fmt.Sprintf("%s line %d", path, webLine), "ssh-keygen -f " + path + " -R '" + knownhosts.Normalize(web.Addr) + "'", "terraform replaced nothing named web-1"}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("changed key: %v, want it refused with %q", err, w)
		}
	}
	if len(asked) == 0 || asked[0] != web.Addr+"=web-1" {
		t.Errorf("Forget was asked %q, want %q with the recorded name", asked, web.Addr+"=web-1")
	}
	if got := readLines(t, path); len(got) != 2 || countLine(got, line(jump, "jump")) != 1 {
		t.Errorf("a refused key changed known_hosts:\n%s", strings.Join(got, "\n"))
	}

	// The same change, for a host that was rebuilt: the old key is gone,
	// the new one recorded, the other host's line kept.
	if err := acceptNewWait(t, path, client, servers, func(string, []string) (bool, string) { return true, "" }); err != nil {
		t.Fatalf("rebuilt host: %v", err)
	}
	lines = readLines(t, path)
	if len(lines) != 2 || countLine(lines, line(web, "web-1")) != 1 || countLine(lines, line(jump, "jump")) != 1 {
		t.Errorf("known_hosts after forgetting web-1's old key:\n%s", strings.Join(lines, "\n"))
	}
	// The file is one ssh itself reads strictly.
	o := sshwait.Options{Signers: []ssh.Signer{client}, HostKeys: sshwait.KnownHosts(path), Timeout: 10 * time.Second}
	if err := waitFor(t, context.Background(), []sshwait.Host{sshHost("web-1", web), sshHost("jump", jump)}, o); err != nil {
		t.Errorf("strict check of the rewritten file: %v", err)
	}
}

// Lines ssh-keygen -H hashed are forgotten too; lines of other hosts and
// comments stay.
func TestAcceptNewForgetsHashedLines(t *testing.T) {
	client := ecdsaKey(t)
	s := sshtest.Start(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{client.PublicKey()}})
	other := ecdsaKey(t).PublicKey()
	path := filepath.Join(t.TempDir(), "known_hosts")
	hashed := knownhosts.Line([]string{knownhosts.HashHostname(knownhosts.Normalize(s.Addr))}, other)
	keep := []string{"# my hosts", knownhosts.Line([]string{"example.test"}, other)}
	os.WriteFile(path, []byte(keep[0]+"\n"+hashed+"\n"+keep[1]), 0o600) // no final newline
	if err := acceptNewWait(t, path, client, map[string]*sshtest.Server{"h": s}, func(string, []string) (bool, string) { return true, "" }); err != nil {
		t.Fatal(err)
	}
	got := readLines(t, path)
	if want := append(keep, line(s, "h")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Eight hosts seen for the first time at once: eight whole lines.
func TestAcceptNewManyHostsAtOnce(t *testing.T) {
	const n = 8
	client := ecdsaKey(t)
	path := filepath.Join(t.TempDir(), "known_hosts")
	servers := map[string]*sshtest.Server{}
	for i := range n {
		servers[fmt.Sprintf("web-%d", i+1)] = sshtest.Start(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{client.PublicKey()}})
	}
	// Two policies on the same file, as two stages of one run would have.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for k := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); errs[k] = acceptNewWait(t, path, client, servers, nil) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lines := readLines(t, path)
	if len(lines) != n {
		t.Errorf("known_hosts has %d lines, want %d:\n%s", len(lines), n, strings.Join(lines, "\n"))
	}
	for name, s := range servers {
		if c := countLine(lines, line(s, name)); c != 1 {
			t.Errorf("%s recorded %d times, want once", name, c)
		}
	}
	if _, err := knownhosts.New(path); err != nil {
		t.Errorf("known_hosts does not parse: %v", err)
	}
}
