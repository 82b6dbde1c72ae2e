package targets

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baton-deploy/baton/pkg/ledger"
)

// History lists the environment's runs, newest first: run, when, who,
// trigger, result, template ID, git revision, duration. BATON_JSON=1
// prints them as JSON instead.
func History(ctx context.Context) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	led, err := p.Ledger()
	if err != nil {
		return err
	}
	recs, problems, err := led.List()
	if err != nil {
		return err
	}
	if os.Getenv("BATON_JSON") == "1" {
		// The warnings go to stderr, so that the JSON stays JSON.
		for _, pr := range problems {
			fmt.Fprintf(os.Stderr, "warning: run history damaged: %v\n", pr)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	}
	reportProblems(problems)
	if len(recs) == 0 {
		fmt.Fprintf(stdout, "no runs recorded for %s yet\n", p.Env)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tWHEN\tWHO\tTRIGGER\tTARGET\tRESULT\tARTIFACT\tREVISION\tTIME")
	for _, r := range recs {
		rev := short(r.GitCommit)
		if r.GitDirty {
			rev += "+dirty"
		}
		trigger := r.Trigger
		if r.Sender != "" {
			// A webhook run: who pushed, and how many pushes it deployed.
			trigger += ":" + r.Sender
			if n := len(r.Coalesced); n > 0 {
				trigger += fmt.Sprintf(" (+%d)", n)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s@%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RunID, r.Start.Local().Format("2006-01-02 15:04:05"),
			r.User, r.Host, trigger, r.Target, r.Status, orDash(artifactText(r)), rev, r.Duration().Round(100*time.Millisecond))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func reportProblems(problems []ledger.Problem) {
	for _, pr := range problems {
		fmt.Fprintf(stdout, "warning: run history damaged: %v\n", pr)
	}
}

// Status shows, for every environment of the project, what is deployed
// now: the last successful release and its handoffs.
func Status(ctx context.Context) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	// Environments this project has run here; with a shared ledger their
	// history comes from the database.
	envs, _ := filepath.Glob(filepath.Join(p.Root, ".baton", "*", "runs"))
	if len(envs) == 0 {
		fmt.Fprintln(stdout, "nothing deployed yet: no environment has a run history")
		return nil
	}
	sort.Strings(envs)
	for _, dir := range envs {
		env := filepath.Base(filepath.Dir(dir))
		led, err := openLedger(filepath.Dir(dir), env)
		if err != nil {
			return err
		}
		recs, problems, err := led.List()
		if err != nil {
			return err
		}
		reportProblems(problems)
		fmt.Fprintf(stdout, "%s:\n", env)
		var last *ledger.Record
		for _, r := range recs {
			if isRelease(r) {
				last = r
				break
			}
		}
		if last == nil {
			fmt.Fprintln(stdout, "  no successful release")
		} else {
			fmt.Fprintf(stdout, "  release   run %s by %s@%s at %s (%s, commit %s)\n", last.RunID, last.User, last.Host, last.End.Local().Format(time.RFC3339), last.Target, short(last.GitCommit))
			names := make([]string, 0, len(last.Handoffs))
			for n := range last.Handoffs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(stdout, "  %-9s %s\n", n, last.Handoffs[n].Display)
			}
		}
		if len(recs) > 0 && recs[0] != last {
			fmt.Fprintf(stdout, "  latest    run %s: %s %s\n", recs[0].RunID, recs[0].Target, recs[0].Status)
		}
	}
	return nil
}

// Show prints one run's whole record and its stage timeline as a Mermaid
// gantt chart: `show 20261123T021745-f3cf` (a unique prefix is enough).
func Show(ctx context.Context, run string) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	led, err := p.Ledger()
	if err != nil {
		return err
	}
	r, err := led.Get(run)
	if err != nil {
		return err
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	fmt.Fprintf(stdout, "%s\n\n%s", data, Gantt(r))
	return nil
}

// Gantt draws a run's stages as a Mermaid gantt chart.
func Gantt(r *ledger.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gantt\n    title run %s (%s, %s)\n    dateFormat x\n    axisFormat %%M:%%S\n", r.RunID, r.Target, r.Status)
	for _, s := range r.Stages {
		if s.Start.IsZero() {
			fmt.Fprintf(&b, "    %s (%s) : milestone, %d, 0ms\n", s.Name, s.Status, r.Start.UnixMilli())
			continue
		}
		tag := ""
		switch s.Status {
		case "failed", "cancelled":
			tag = "crit, "
		case "skipped":
			tag = "done, "
		}
		fmt.Fprintf(&b, "    %s (%s) : %s%d, %dms\n", s.Name, s.Status, tag, s.Start.UnixMilli(), max(s.Duration.Milliseconds(), 1))
	}
	return b.String()
}
