package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// DeadHost is a host of an inventory that did not answer on its SSH port.
type DeadHost struct {
	Name string // its inventory name
	Addr string // host:port dialled
	Err  error  // why: refused, timed out, no SSH banner
}

// String is "db-1 (127.0.0.11:2222: connection refused)".
func (d DeadHost) String() string { return fmt.Sprintf("%s (%s: %v)", d.Name, d.Addr, d.Err) }

// DeadHostList renders hosts for a message: "db-1 (…), web-1 (…)".
func DeadHostList(dead []DeadHost) string {
	s := make([]string, len(dead))
	for i, d := range dead {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}

// ProbeOptions bounds DeadHosts. The zero value dials each host once for
// at most 3 seconds.
type ProbeOptions struct {
	// Timeout bounds one dial and the wait for the SSH banner; 0 means 3 s.
	Timeout time.Duration
	// Attempts is how many times a host that does not answer is dialled
	// before it counts as dead; 0 means 1. A host that answers once is
	// alive.
	Attempts int
	// Interval is the pause between attempts; 0 means 1 s.
	Interval time.Duration
}

// maxProbes bounds the dials in flight, so that a large inventory cannot
// use up file descriptors.
const maxProbes = 32

// DeadHosts dials the SSH address of every host of inv, concurrently, and
// returns those that do not answer with an SSH banner, sorted by name. It
// is the cheap question "are the hosts I made still there?": no
// authentication, no host key check. Hosts it cannot judge from here are
// left out, never reported dead: those reached through a proxy or jump
// host (ProxyJump, ProxyCommand or -J in their ssh arguments) and those
// whose ansible_connection is not ssh. A cancelled ctx ends every dial;
// what was not judged by then is not reported.
func DeadHosts(ctx context.Context, inv *handoff.AnsibleInventory, opts ProbeOptions) []DeadHost {
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Second
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 1
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	var (
		mu   sync.Mutex
		dead []DeadHost
		wg   sync.WaitGroup
		sem  = make(chan struct{}, maxProbes)
	)
	for _, h := range inv.Hosts() {
		if !directSSH(h) {
			continue
		}
		wg.Add(1)
		go func(h handoff.InventoryHost) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			addr := h.SSHAddr()
			var err error
			for i := 0; i < opts.Attempts; i++ {
				if i > 0 {
					t := time.NewTimer(opts.Interval)
					select {
					case <-ctx.Done():
						t.Stop()
						return
					case <-t.C:
					}
				}
				if err = probeBanner(ctx, addr, opts.Timeout); err == nil {
					return
				}
				if ctx.Err() != nil {
					return
				}
			}
			mu.Lock()
			dead = append(dead, DeadHost{Name: h.Name, Addr: addr, Err: err})
			mu.Unlock()
		}(h)
	}
	wg.Wait()
	sort.Slice(dead, func(i, j int) bool { return dead[i].Name < dead[j].Name })
	return dead
}

// directSSH reports whether baton can reach h's SSH port itself, as the
// wait for SSH does.
func directSSH(h handoff.InventoryHost) bool {
	if c, ok := h.Vars["ansible_connection"].(string); ok && c != "" && c != "ssh" && c != "paramiko" && c != "smart" {
		return false
	}
	for _, k := range []string{"ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args"} {
		s, _ := h.Vars[k].(string)
		l := strings.ToLower(s)
		if strings.Contains(l, "proxyjump") || strings.Contains(l, "proxycommand") || strings.Contains(s, "-J") {
			return false
		}
	}
	return h.Address != ""
}

// probeBanner connects to addr and reads the server's first line, which
// an SSH server sends unasked ("SSH-2.0-OpenSSH_9.2").
func probeBanner(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return op.Err
		}
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	// RFC 4253 lets a server send other lines before its version line.
	r := bufio.NewReaderSize(c, 256)
	for i := 0; i < 5; i++ {
		line, err := r.ReadSlice('\n')
		if strings.HasPrefix(string(line), "SSH-") {
			return nil
		}
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("closed the connection without an SSH banner")
		case err != nil && (ctx.Err() != nil || isTimeout(err)):
			return fmt.Errorf("no SSH banner within %s", timeout)
		case err != nil:
			return fmt.Errorf("no SSH banner: %w", err)
		}
	}
	return errors.New("no SSH banner in its first lines")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
