//go:build mage

// Baton's own build targets. The deployment targets (deploy, stage1…3,
// plan, validate, rollback, destroy, graph, tools) come from pkg/targets,
// which any infrastructure repository can import the same way.
package main

import (
	"context"
	"os"
	"os/exec"

	//mage:import
	_ "github.com/baton-deploy/baton/pkg/targets"
)

// Test runs the whole suite with the race detector, the end-to-end tests
// against the real tools included (they skip when a tool is missing unless
// BATON_E2E=required; run `go run mage.go tools` first).
func Test(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-race", "-count=1", "-timeout=30m", "./...")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
