package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
)

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if _, err := os.Stat("/usr/sbin/" + name); err == nil {
		return
	}
	if os.Getenv("BATON_E2E") == "required" {
		t.Fatalf("%s is required but not installed", name)
	}
	t.Skipf("%s is not installed", name)
}

func TestEmbedDeploysAndChecksHealth(t *testing.T) {
	for _, tool := range []string{"packer", "terraform", "ansible-playbook", "sshd"} {
		requireTool(t, tool)
	}
	rc := t.TempDir() + "/terraform.rc"
	os.WriteFile(rc, nil, 0o600)
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	port, appPort := freePort(t), freePort(t)
	state := t.TempDir()
	ctx := context.Background()
	t.Cleanup(func() {
		if err := Destroy(ctx, "../..", state, 2, port, appPort); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	report, err := Deploy(ctx, "../..", state, 2, port, appPort)
	if err != nil {
		t.Fatal(err)
	}
	if len(report) != 1 || report["web-1"] != 200 {
		t.Errorf("health report = %v, want web-1: 200", report)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.12:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
