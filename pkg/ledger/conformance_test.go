package ledger

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// conformance is what every Ledger must do.
func conformance(t *testing.T, open func(t *testing.T, env string) Ledger) {
	t.Run("records", func(t *testing.T) {
		l := open(t, "lab")
		t0 := time.Now().Round(time.Millisecond)
		a := &Record{RunID: "r-a", Env: "lab", Target: "deploy", Start: t0, Status: StatusRunning, PID: os.Getpid()}
		b := &Record{RunID: "r-b", Env: "lab", Target: "plan", Start: t0.Add(time.Second), Status: StatusRunning, PID: os.Getpid()}
		for _, err := range []error{l.Begin(a), l.Begin(b)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		a.Status, a.End = "succeeded", t0.Add(2*time.Second)
		a.Handoffs = map[string]Handoff{"template_id": {Display: "8025", Text: "8025"}}
		if err := l.Finish(a); err != nil {
			t.Fatal(err)
		}
		recs, problems, err := l.List()
		if err != nil || len(problems) > 0 {
			t.Fatal(err, problems)
		}
		if len(recs) != 2 || recs[0].RunID != "r-b" || recs[1].Status != "succeeded" || recs[1].Handoffs["template_id"].Text != "8025" {
			t.Errorf("records = %+v", recs)
		}
		if r, err := l.Get("r-a"); err != nil || r.Duration() != 2*time.Second {
			t.Errorf("Get = %+v, %v", r, err)
		}
	})
	t.Run("environments apart", func(t *testing.T) {
		l1, l2 := open(t, "one"), open(t, "two")
		l1.Begin(&Record{RunID: "in-one", Env: "one", Start: time.Now(), Status: "succeeded"})
		if recs, _, _ := l2.List(); len(recs) != 0 {
			t.Errorf("env two sees %v", recs)
		}
	})
	t.Run("dead process is interrupted", func(t *testing.T) {
		l := open(t, "lab")
		cmd := exec.Command("true")
		cmd.Run()
		host, _ := os.Hostname()
		l.Begin(&Record{RunID: "r-dead", Env: "lab", Host: host, PID: cmd.ProcessState.Pid(), Start: time.Now(), Status: StatusRunning})
		if r, err := l.Get("r-dead"); err != nil || r.Status != StatusInterrupted {
			t.Errorf("dead run = %+v, %v; want interrupted", r, err)
		}
	})
	t.Run("lock", func(t *testing.T) {
		l := open(t, "lab")
		other := open(t, "lab")
		unlock, err := l.Lock("lab", Holder{RunID: "first", User: "ann", Host: "box", PID: 42, Target: "deploy", Since: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = other.Lock("lab", Holder{RunID: "second"})
		var le *LockedError
		if !errors.As(err, &le) || le.Holder.RunID != "first" || !strings.Contains(err.Error(), "deploy by ann@box") {
			t.Fatalf("second lock: %v, want who holds it", err)
		}
		if u, err := other.Lock("elsewhere", Holder{RunID: "x"}); err != nil {
			t.Errorf("another environment's lock: %v", err)
		} else {
			u()
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		u, err := other.Lock("lab", Holder{RunID: "third"})
		if err != nil {
			t.Fatalf("after unlock: %v", err)
		}
		u()
	})
}

func TestFileConformance(t *testing.T) {
	dir := t.TempDir()
	conformance(t, func(t *testing.T, env string) Ledger {
		f, err := Open(filepath.Join(dir, t.Name(), env))
		if err != nil {
			t.Fatal(err)
		}
		return f
	})
}

func TestPostgresConformance(t *testing.T) {
	url := startPostgres(t)
	conformance(t, func(t *testing.T, env string) Ledger {
		// A database per subtest keeps them apart.
		db := strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
		admin, err := OpenPostgres(context.Background(), url+"/postgres?sslmode=disable", "admin")
		if err != nil {
			t.Fatal(err)
		}
		admin.pool.Exec(context.Background(), `CREATE DATABASE "`+db+`"`)
		admin.Close()
		p, err := OpenPostgres(context.Background(), url+"/"+db+"?sslmode=disable", env)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	})
}

// startPostgres runs a throwaway PostgreSQL server (Debian's, as the
// postgres user) on a loopback port for the test, and returns its URL
// without a database.
func startPostgres(t *testing.T) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("BATON_E2E") == "required" {
			t.Fatal("PostgreSQL is required (BATON_E2E=required) but not installed: apt-get install postgresql")
		}
		t.Skip("PostgreSQL is not installed")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "baton-pg-")
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		if os.Geteuid() == 0 {
			// PostgreSQL will not run as root.
			u, err := user.Lookup("postgres")
			if err != nil {
				t.Fatalf("running as root needs the postgres user: %v", err)
			}
			exec.Command("chown", "-R", u.Username, dir).Run()
			cmd = exec.Command("runuser", append([]string{"-u", u.Username, "--", filepath.Join(bin, name)}, args...)...)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-A", "trust", "-U", "baton", "--no-sync")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	run("pg_ctl", "-D", data, "-w", "-t", "60", "-l", filepath.Join(dir, "log"), "-o",
		fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", port, dir), "start")
	t.Cleanup(func() {
		run("pg_ctl", "-D", data, "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	return "postgres://baton@127.0.0.1:" + strconv.Itoa(port)
}
