package testlab

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestLabHostsAnswerSSH(t *testing.T) {
	lab := Start(t, 2)
	cb, err := knownhosts.New(lab.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range lab.Hosts {
		c, err := ssh.Dial("tcp", h.Addr(), &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(lab.Signer)}, HostKeyCallback: cb, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		s, _ := c.NewSession()
		out, err := s.Output("echo hi")
		c.Close()
		if err != nil || strings.TrimSpace(string(out)) != "hi" {
			t.Errorf("%s: echo = %q, %v", h.Name, out, err)
		}
	}
	// The OpenSSH client agrees, with the lab's files only.
	h := lab.Hosts[1]
	out, err := exec.Command("ssh", "-i", lab.ClientKey, "-o", "UserKnownHostsFile="+lab.KnownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", itoa(h.Port), "root@"+h.Address, "echo ok").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("ssh: %q, %v", out, err)
	}
	h.Stop()
	if c, err := net.DialTimeout("tcp", h.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("a stopped host still accepts connections")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
