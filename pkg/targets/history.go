package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baton-deploy/baton/pkg/deploy"
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
	defer p.Close()
	led, err := p.Ledger()
	if err != nil {
		return err
	}
	recs, problems, err := led.List(ctx)
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
		target := r.Target
		if f := r.PromotedFrom; f != nil {
			target += " from " + f.Env + "/" + f.RunID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s@%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RunID, r.Start.Local().Format("2006-01-02 15:04:05"),
			r.User, r.Host, trigger, target, r.Status, orDash(deploy.ArtifactText(r)), rev, r.Duration().Round(100*time.Millisecond))
	}
	return tw.Flush()
}

// historyHint adds, to a run ID that names no run, where to find them.
func historyHint(err error) error {
	if nf, ok := errors.AsType[*ledger.NotFoundError](err); ok && nf.Matches == 0 {
		return fmt.Errorf("%w: `go run mage.go history` lists them", err)
	}
	return err
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

// Show prints one run's whole record and its stage timeline as a Mermaid
// gantt chart: `show 20261123T021745-f3cf` (a unique prefix is enough).
func Show(ctx context.Context, run string) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	defer p.Close()
	led, err := p.Ledger()
	if err != nil {
		return err
	}
	r, err := led.Get(ctx, run)
	if err != nil {
		return historyHint(err)
	}
	if os.Getenv("BATON_JSON") == "1" {
		data, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintf(stdout, "%s\n", data)
		return nil
	}
	printRecord(r)
	fmt.Fprintf(stdout, "\n%s", gantt(r))
	return nil
}

// printRecord shows a run's record as a person reads it.
func printRecord(r *ledger.Record) {
	fmt.Fprintf(stdout, "run %s: %s %s in %s\n", r.RunID, r.Target, r.Status, r.Env)
	fmt.Fprintf(stdout, "  by       %s@%s (pid %d), %s\n", r.User, r.Host, r.PID, r.Trigger)
	rev := short(r.GitCommit)
	if r.GitDirty {
		rev += " (with uncommitted changes)"
	}
	fmt.Fprintf(stdout, "  commit   %s\n", rev)
	fmt.Fprintf(stdout, "  when     %s, %s\n", r.Start.Local().Format(time.RFC3339), r.Duration().Round(100*time.Millisecond))
	if r.RollbackOf != "" {
		fmt.Fprintf(stdout, "  rolls back to run %s\n", r.RollbackOf)
	}
	if f := r.PromotedFrom; f != nil {
		fmt.Fprintf(stdout, "  promotes the release of run %s from %s\n", f.RunID, f.Env)
	}
	if r.Error != "" {
		fmt.Fprintf(stdout, "  error    %s\n", firstLine(r.Error))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\n  STAGE\tSTATUS\tTRIES\tTIME\tNOTE")
	for _, st := range r.Stages {
		note := st.Note
		if st.Error != "" {
			note = st.Error
		} else if st.Reason != "" {
			note = st.Reason
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", st.Name, st.Status, st.Attempts, st.Duration.Round(100*time.Millisecond), firstLine(note))
	}
	tw.Flush()
	names := make([]string, 0, len(r.Handoffs))
	for n := range r.Handoffs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		fmt.Fprintln(stdout, "\n  handoffs:")
	}
	for _, n := range names {
		h := r.Handoffs[n]
		sum := h.SHA256
		if len(sum) > 12 {
			sum = sum[:12]
		}
		fmt.Fprintf(stdout, "    %-40s %s  (sha256 %s)\n", n, h.Display, sum)
	}
}

// gantt draws a run's stages as a Mermaid gantt chart.
func gantt(r *ledger.Record) string {
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
