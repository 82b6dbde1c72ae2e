package pipeline

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// sshBanner listens on loopback and greets every connection as an SSH
// server does, with greeting; it returns host:port. The listener closes
// with the test unless the test closes it first (close).
func sshBanner(t *testing.T, greeting string) (addr string, close func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if greeting != "" {
				fmt.Fprint(c, greeting)
				c.Close()
				continue
			}
			// Silent: hold the connection until the client gives up.
			go func() {
				buf := make([]byte, 1)
				c.Read(buf)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), func() { l.Close() }
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func inventoryOf(t *testing.T, hosts map[string]string, extra map[string]map[string]any) *handoff.AnsibleInventory {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"all":{"hosts":{`)
	first := true
	for name, addr := range hosts {
		host, port, _ := net.SplitHostPort(addr)
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, `%q:{"ansible_host":%q,"ansible_port":%s`, name, host, port)
		for k, v := range extra[name] {
			fmt.Fprintf(&b, `,%q:%q`, k, v)
		}
		b.WriteString("}")
	}
	b.WriteString("}}}")
	inv, err := handoff.ParseInventory([]byte(b.String()))
	if err != nil {
		t.Fatalf("inventory %s: %v", b.String(), err)
	}
	return inv
}

func TestDeadHostsDialsEveryHostAndReportsOnlyTheDead(t *testing.T) {
	up, _ := sshBanner(t, "SSH-2.0-OpenSSH_9.2\r\n")
	chatty, _ := sshBanner(t, "welcome to the lab\r\nSSH-2.0-OpenSSH_9.2\r\n")
	web, _ := sshBanner(t, "HTTP/1.1 400 Bad Request\r\n\r\n")
	silent, _ := sshBanner(t, "")
	refused := refusedAddr(t)
	inv := inventoryOf(t, map[string]string{
		"up": up, "chatty": chatty, "web": web, "silent": silent, "refused": refused,
		"jumped": refused, "local": refused,
	}, map[string]map[string]any{
		"jumped": {"ansible_ssh_common_args": "-o ProxyJump=bastion"},
		"local":  {"ansible_connection": "local"},
	})
	start := time.Now()
	dead := DeadHosts(context.Background(), inv, ProbeOptions{Timeout: 500 * time.Millisecond})
	var got []string
	for _, d := range dead {
		got = append(got, d.String())
	}
	want := []string{
		"refused (" + refused + ": connect: connection refused)",
		"silent (" + silent + ": no SSH banner within 500ms)",
		"web (" + web + ": closed the connection without an SSH banner)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dead hosts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Concurrent: the silent host's timeout is paid once, not per host.
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("DeadHosts took %s", d)
	}
}

func TestDeadHostsRetriesBeforeCallingAHostDead(t *testing.T) {
	refused := refusedAddr(t)
	inv := inventoryOf(t, map[string]string{"db-1": refused}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if dead := DeadHosts(ctx, inv, ProbeOptions{Attempts: 3}); len(dead) != 0 {
		t.Errorf("cancelled: %v, want nothing judged", dead)
	}
	dead := DeadHosts(context.Background(), inv, ProbeOptions{Attempts: 2, Interval: time.Millisecond})
	if len(dead) != 1 || dead[0].Name != "db-1" {
		t.Errorf("dead = %v, want db-1", dead)
	}
}

// A stage whose inputs are unchanged but whose hosts died runs again: the
// state of a Terraform configuration sees no drift in a dead VM.
func TestUnchangedStageWithDeadHostsRuns(t *testing.T) {
	dir := t.TempDir()
	store, _ := handoff.OpenStore(filepath.Join(dir, "h"))
	addr, stop := sshBanner(t, "SSH-2.0-OpenSSH_9.2\r\n")
	host, port, _ := net.SplitHostPort(addr)
	inv := fmt.Sprintf(`{"all":{"hosts":{"db-1":{"ansible_host":%q,"ansible_port":%s}}}}`, host, port)
	var runs atomic.Int64
	stage := fpStage{Func("hosts", nil, []handoff.Def{handoff.Inventory}, func(ctx context.Context, j *Job) error {
		runs.Add(1)
		return j.Out.PutRaw(handoff.Inventory, []byte(inv))
	})}
	p, err := New(stage)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lines []string
	)
	opts := Options{Store: store, Fingerprints: FileFingerprints{Dir: filepath.Join(dir, "fp")}, SkipUnchanged: map[string]bool{"hosts": true},
		Getenv: func(string) string { return "" },
		Sinks:  []Sink{SinkFunc(func(e Event) { mu.Lock(); lines = append(lines, e.Line); mu.Unlock() })}}
	run := func() *Summary {
		t.Helper()
		sum, err := p.Run(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	run()
	if sum := run(); runs.Load() != 1 || sum.Stages[0].Status != StatusSkipped {
		t.Fatalf("hosts up: runs=%d status=%s, want skipped", runs.Load(), sum.Stages[0].Status)
	}
	stop()
	if sum := run(); runs.Load() != 2 || sum.Stages[0].Status != StatusSucceeded {
		t.Fatalf("host dead: runs=%d status=%s, want the stage to run", runs.Load(), sum.Stages[0].Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if all := strings.Join(lines, "\n"); !strings.Contains(all, "hosts it made do not answer SSH: db-1 ("+addr+": connect: connection refused)") {
		t.Errorf("log does not say why the stage ran:\n%s", all)
	}
}

// fpStage is a Fingerprinter with fixed inputs and no Check: only the dial
// decides.
type fpStage struct{ Stage }

func (fpStage) Fingerprint(ctx context.Context, j *Job) (string, error) { return "fp", nil }
