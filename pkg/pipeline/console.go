package pipeline

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

// ColorMode says when the console uses colour.
type ColorMode int

// The colour modes. The zero value, ColorAuto, colours only a terminal, and
// never when NO_COLOR is set or TERM is "dumb".
const (
	ColorAuto ColorMode = iota
	ColorAlways
	ColorNever
)

// ConsoleOptions configures a Console. The zero value is ready to use.
type ConsoleOptions struct {
	Color ColorMode
	// Quiet hides tools' output lines; headers, retries, handoffs and the
	// summary are still shown.
	Quiet bool
	// Getenv reads NO_COLOR and TERM; nil means os.Getenv.
	Getenv func(string) string
}

// Console is a Sink that writes a run for people: a header per stage, each
// line of the tools' output prefixed with its stage, retries and handoffs as
// they happen, and a table summarising the run at the end.
type Console struct {
	w     io.Writer
	opts  ConsoleOptions
	color bool
	width int // of the stage-name column
}

// NewConsole returns a Console writing to w.
func NewConsole(w io.Writer, opts ConsoleOptions) *Console {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Console{w: w, opts: opts, width: 8}
	switch opts.Color {
	case ColorAlways:
		c.color = true
	case ColorAuto:
		f, ok := w.(*os.File)
		c.color = ok && term.IsTerminal(int(f.Fd())) && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	}
	return c
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

func (c *Console) paint(code, s string) string {
	if !c.color {
		return s
	}
	return code + s + ansiReset
}

func (c *Console) prefix(stage string) string {
	return c.paint(ansiCyan, fmt.Sprintf("%-*s", c.width, stage))
}

// Handle writes e.
func (c *Console) Handle(e Event) {
	switch e.Kind {
	case RunStarted:
		for _, s := range e.Stages {
			c.width = max(c.width, len(s))
		}
		verb := "run"
		if e.Mode != "" && e.Mode != ModeRun {
			verb = string(e.Mode)
		}
		fmt.Fprintf(c.w, "%s %s %s: %s\n", c.paint(ansiBold, "baton"), verb, e.RunID, strings.Join(e.Stages, " → "))
	case StageStarted:
		if e.Attempt <= 1 {
			fmt.Fprintf(c.w, "%s\n", c.paint(ansiBold, "── "+e.Stage+" "+strings.Repeat("─", max(3, 60-len(e.Stage)))))
		} else {
			fmt.Fprintf(c.w, "%s ↻ attempt %d\n", c.prefix(e.Stage), e.Attempt)
		}
	case LogLine:
		if c.opts.Quiet && e.Stream != "baton" {
			return
		}
		line := e.Line
		if e.Stream == "baton" {
			line = c.paint(ansiBold, line)
		}
		fmt.Fprintf(c.w, "%s │ %s\n", c.prefix(e.Stage), line)
	case StageRetrying:
		fmt.Fprintf(c.w, "%s %s attempt %d failed: %s; retrying in %s\n", c.prefix(e.Stage), c.paint(ansiYellow, "↻"), e.Attempt, e.Error, roundDuration(e.Wait))
	case HandoffGiven:
		if e.Handoff != nil {
			fmt.Fprintf(c.w, "%s → %s = %s\n", c.prefix(e.Stage), e.Handoff.Name, e.Handoff.Display)
		}
	case StageSkipped:
		fmt.Fprintf(c.w, "%s %s skipped: %s\n", c.prefix(e.Stage), c.paint(ansiDim, "–"), e.Reason)
	case StageFinished:
		switch e.Status {
		case StatusSucceeded:
			fmt.Fprintf(c.w, "%s %s succeeded in %s\n", c.prefix(e.Stage), c.paint(ansiGreen, "✓"), roundDuration(e.Duration))
		case StatusSkipped:
		default:
			fmt.Fprintf(c.w, "%s %s %s after %s: %s\n", c.prefix(e.Stage), c.paint(ansiRed, "✗"), e.Status, roundDuration(e.Duration), e.Error)
		}
	case RunFinished:
		if e.Summary != nil {
			c.table(e.Summary)
		}
		mark := c.paint(ansiGreen, "✓")
		if e.Status != StatusSucceeded {
			mark = c.paint(ansiRed, "✗")
		}
		fmt.Fprintf(c.w, "%s %s %s %s in %s\n", mark, e.Mode, e.RunID, e.Status, roundDuration(e.Duration))
		if e.Error != "" {
			fmt.Fprintf(c.w, "  %s\n", strings.ReplaceAll(e.Error, "\n", "\n  "))
		}
	}
}

func (c *Console) table(s *Summary) {
	fmt.Fprintln(c.w)
	tw := tabwriter.NewWriter(c.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTATUS\tTRIES\tTIME\tRESULT")
	for _, st := range s.Stages {
		var result []string
		if st.Note != "" {
			result = append(result, st.Note)
		}
		// A few handoffs, named within the stage; the run's files and
		// record have them all.
		const shown = 2
		for i, h := range st.Given {
			if i == shown {
				result = append(result, fmt.Sprintf("+%d more", len(st.Given)-shown))
				break
			}
			result = append(result, strings.TrimPrefix(h.Name, st.Name+".")+"="+h.Display)
		}
		if st.Reason != "" {
			result = append(result, st.Reason)
		}
		tries, took := "-", "-"
		if st.Attempts > 0 {
			tries, took = fmt.Sprint(st.Attempts), roundDuration(st.Duration).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Name, statusText(st), tries, took, strings.Join(result, " · "))
	}
	tw.Flush()
}

func statusText(st StageResult) string {
	if st.Status == StatusSkipped && strings.Contains(st.Reason, "unchanged") {
		return "skipped (unchanged)"
	}
	return string(st.Status)
}

// roundDuration keeps durations readable: milliseconds under a second,
// tenths of a second above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
