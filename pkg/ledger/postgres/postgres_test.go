package postgres

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/ledger/ledgertest"
)

func TestConformance(t *testing.T) {
	url := startPostgres(t)
	ledgertest.Run(t, func(t *testing.T, env string) ledger.Ledger {
		// A database per subtest keeps them apart.
		db := strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
		admin, err := Open(context.Background(), url+"/postgres?sslmode=disable", "admin")
		if err != nil {
			t.Fatal(err)
		}
		admin.pool.Exec(context.Background(), `CREATE DATABASE "`+db+`"`)
		admin.Close()
		l, err := Open(context.Background(), url+"/"+db+"?sslmode=disable", env)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		return l
	})
}

// startPostgres runs a throwaway PostgreSQL server (Debian's, as the
// postgres user) on a loopback port for the test, and returns its URL
// without a database.
func startPostgres(t *testing.T) string {
	t.Helper()
	testlab.SkipIfOff(t)
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
