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

	"github.com/magefile/mage/mg"

	"github.com/baton-deploy/baton/internal/bench"

	//mage:import
	_ "github.com/baton-deploy/baton/pkg/targets"
)

// Test runs the whole suite with the race detector, the end-to-end tests
// against the real tools included (they skip when a tool is missing unless
// BATON_E2E=required; run `go run mage.go tools` first). test:unit and
// test:e2e run its two halves.
func Test(ctx context.Context) error {
	return goTest(ctx, "", "-timeout=60m", "./...")
}

// Suite holds the halves of the test suite, run as test:unit and test:e2e.
type Suite mg.Namespace

// Unit runs the tests that need no tool, in every package: a minute or two.
func (Suite) Unit(ctx context.Context) error {
	return goTest(ctx, "off", "-timeout=20m", "./...")
}

// E2e runs the packages whose tests run the real tools, every tool required.
func (Suite) E2e(ctx context.Context) error {
	return goTest(ctx, "required", append([]string{"-timeout=60m"}, e2ePackages...)...)
}

// e2ePackages are the packages whose tests run Packer, Terraform, Ansible,
// sshd, PostgreSQL or Chromium (they go through testlab.Require or
// testlab.SkipIfOff).
var e2ePackages = []string{
	"./pkg/targets", "./pkg/stages", "./pkg/ui", "./pkg/ledger/postgres",
	"./examples/...", "./internal/testlab", "./internal/bench",
}

// Aliases name the suite's halves as the README does.
var Aliases = map[string]interface{}{
	"test:unit": Suite.Unit,
	"test:e2e":  Suite.E2e,
}

// goTest runs go test -race -count=1 with BATON_E2E set to e2e (when not
// empty) and the given flags and packages.
func goTest(ctx context.Context, e2e string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"test", "-race", "-count=1"}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if e2e != "" {
		cmd.Env = append(os.Environ(), "BATON_E2E="+e2e)
	}
	return cmd.Run()
}

// Bench runs the benchmarks side by side — baton, the seed's script and the
// bare tools; readiness; no-op redeploy; scale; Ansible settings; Terraform
// init skipped; concurrent stages; webhook deliveries under load — prints
// the ratios and writes them into docs/benchmarks.md. About 30 minutes on
// 2 cores; BATON_BENCH_QUICK=1 and BATON_BENCH_MAX_HOSTS=8 shorten it.
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
