package main

import (
	"context"
	"os"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
)

func TestEmbedDeploysAndChecksHealth(t *testing.T) {
	for _, tool := range []string{"packer", "terraform", "ansible-playbook", "sshd"} {
		testlab.Require(t, tool)
	}
	rc := t.TempDir() + "/terraform.rc"
	os.WriteFile(rc, nil, 0o600)
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	port, appPort := testlab.FreePort(t, "127.0.0.12"), testlab.FreePort(t, "127.0.0.12")
	state := t.TempDir()
	// Runs last, after the destroy below: no host of the test survives it.
	testlab.Reap(t, state, testlab.Addrs(11, 4), port)
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
