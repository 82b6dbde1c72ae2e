//go:build mage

// Baton's own build targets. The deployment targets (deploy, stage1…3,
// plan, validate, rollback, promote, status, destroy, graph, tools) come from pkg/targets,
// which any infrastructure repository can import the same way.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/bench"

	//mage:import
	_ "github.com/baton-deploy/baton/pkg/targets"
)

// Test runs the whole suite with the race detector, the end-to-end tests
// against the real tools included (they skip when a tool is missing unless
// BATON_E2E=required; run `go run mage.go tools` first).
func Test(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-race", "-count=1", "-timeout=60m", "./...")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// Bench runs the benchmarks side by side — baton, the seed's script and the
// bare tools; readiness; no-op redeploy; scale; Ansible settings; Terraform
// init skipped; concurrent stages; webhook deliveries under load — prints
// the ratios and writes them into docs/benchmarks.md. About 10 minutes.
func Bench(ctx context.Context) error {
	runs := [][]string{
		{"test", "-run", "^$", "-bench", ".", "-benchtime", "1x", "-timeout", "40m", "./internal/bench"},
		// Enough deliveries for stable percentiles: about 5 s.
		{"test", "-run", "^$", "-bench", "Deliveries", "-benchtime", "20000x", "./pkg/webhook"},
	}
	start := time.Now()
	var out bytes.Buffer
	var how []string
	for _, args := range runs {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Stdout = io.MultiWriter(os.Stdout, &out)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return err
		}
		how = append(how, "go "+strings.Join(args, " "))
	}
	machine, _ := os.Hostname()
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				machine = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	report := bench.Report(bench.Parse(out.String()), "go run mage.go bench   # = "+strings.Join(how, " && "), time.Since(start), machine)
	fmt.Println("\n" + report)
	doc, err := os.ReadFile("docs/benchmarks.md")
	if err != nil {
		return err
	}
	const marker = "<!-- results -->"
	text := string(doc)
	if i := strings.Index(text, marker); i >= 0 {
		text = text[:i+len(marker)] + "\n\n" + report
	}
	return os.WriteFile("docs/benchmarks.md", []byte(text), 0o644)
}
