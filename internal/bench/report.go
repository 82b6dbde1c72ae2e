package bench

import (
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is one benchmark line's metrics by unit.
type Result struct {
	Name    string
	Metrics map[string]float64
}

// lineRE matches a result line; ns/op is absent when a benchmark reports
// 0 for it (pkg/webhook's, whose metrics are its own).
var lineRE = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(?:[\d.]+ ns/op\s+)?(.*)$`)

// Parse reads `go test -bench` output.
func Parse(out string) []Result {
	var res []Result
	for _, line := range strings.Split(out, "\n") {
		m := lineRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		r := Result{Name: strings.TrimPrefix(m[1], "Benchmark"), Metrics: map[string]float64{}}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				r.Metrics[f[i+1]] = v
			}
		}
		res = append(res, r)
	}
	return res
}

// goal is a target the issue set, checked against a metric.
type goal struct {
	bench, metric, text string
	ok                  func(float64) bool
}

var goals = []goal{
	{"Deploy", "baton/floor", "baton within 10% of the floor", func(v float64) bool { return v <= 1.10 }},
	{"Deploy", "seed/baton", "at least 5× faster than the seed flow", func(v float64) bool { return v >= 5 }},
	{"Readiness", "p95-ms", "p95 from port open to ready under 300 ms", func(v float64) bool { return v < 300 }},
	{"NoopRedeploy", "noop-skip-ansible/full", "no-op redeploy under 10% of a full deploy (Ansible skipped when unchanged, as asked)", func(v float64) bool { return v < 0.10 }},
	{"NoopRedeploy", "noop/full", "no-op redeploy with Ansible run by default (it corrects drift)", nil},
	{"FactCache", "gather/cached", "Ansible fact caching, where plays gather facts (8 hosts, cache warm / gathering every run)", nil},
	{"TerraformInit", "init/skip", "Terraform init skipped when nothing it depends on changed (a stage run with init forced / skipped)", nil},
	{"PipelineFile", "load/plan", "reading and checking baton.hcl under 5% of a no-op plan", func(v float64) bool { return v < 0.05 }},
	{"ConcurrentStages", "serial/concurrent", "independent stages run concurrently: two 2 s Packer builds at once vs in turn (2 is ideal; 1.5 or more counts)", func(v float64) bool { return v >= 1.5 }},
}

// Report renders results as the body of docs/benchmarks.md.
func Report(results []Result, command string, took time.Duration, machine string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run on %s (%s, %d cores, %s) in %s with:\n\n    %s\n\n", time.Now().UTC().Format("2006-01-02"), machine, runtime.NumCPU(), runtime.Version(), took.Round(time.Second), command)
	b.WriteString("| benchmark | metric | value |\n| --- | --- | --- |\n")
	for _, r := range results {
		units := make([]string, 0, len(r.Metrics))
		for u := range r.Metrics {
			units = append(units, u)
		}
		sort.Strings(units)
		for _, u := range units {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Name, u, value(r.Metrics[u]))
		}
	}
	b.WriteString("\n| goal | measured | met |\n| --- | --- | --- |\n")
	for _, g := range goals {
		for _, r := range results {
			if r.Name != g.bench {
				continue
			}
			v, ok := r.Metrics[g.metric]
			if !ok {
				continue
			}
			met := "—"
			if g.ok != nil {
				met = "no"
				if g.ok(v) {
					met = "yes"
				}
			}
			fmt.Fprintf(&b, "| %s | %s = %s | %s |\n", g.text, g.metric, value(v), met)
		}
	}
	return b.String()
}

// value shows three significant digits, without an exponent for large
// numbers (4730 deliveries/s, not 4.73e+03).
func value(v float64) string {
	if v >= 1000 || v <= -1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
