package ui

import (
	"strings"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// timeline is a run's stages as bars on a time axis, drawn as inline SVG
// by the template: only numbers and names, no markup from data.
type timeline struct {
	Width, Height int
	Left          int // where the bars' area starts
	Bars          []bar
	Ticks         []tick
	AxisY         int
}

type bar struct {
	Label, Status, Title string
	Y, TextY, X, W       int
	Drawn                bool // false: the stage never started
}

type tick struct {
	X     int
	Label string
}

// Timeline geometry, in SVG user units.
const (
	tlWidth = 880
	tlLeft  = 130
	tlRight = 20
	tlRow   = 26
	tlBar   = 16
	tlTop   = 8
)

// tickSteps are the axis steps to choose from: about six ticks a run.
var tickSteps = []time.Duration{
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour,
}

// timeline lays out stages from start to end (the run's end, or now for a
// running one). A running stage's bar runs to end.
func (h *Handler) timeline(stages []pipeline.StageResult, start, end time.Time) timeline {
	t := timeline{Width: tlWidth, Left: tlLeft}
	span := end.Sub(start)
	for _, s := range stages {
		if !s.Start.IsZero() {
			stop := s.Start.Add(s.Duration)
			if s.Status == pipeline.StatusRunning {
				stop = end
			}
			span = max(span, stop.Sub(start))
		}
	}
	span = max(span, time.Second)
	area := tlWidth - tlLeft - tlRight
	x := func(d time.Duration) int { return tlLeft + int(float64(area)*float64(d)/float64(span)) }
	for i, s := range stages {
		b := bar{Label: h.mask(s.Name), Status: string(s.Status), Y: tlTop + i*tlRow}
		b.TextY = b.Y + tlBar - 4
		b.Title = b.Label + ": " + b.Status
		if !s.Start.IsZero() {
			d := s.Duration
			if s.Status == pipeline.StatusRunning {
				d = end.Sub(s.Start)
			}
			b.Drawn = true
			b.X = x(max(0, s.Start.Sub(start)))
			b.W = max(2, x(max(0, s.Start.Sub(start))+d)-b.X)
			b.Title += " for " + duration(d)
		}
		t.Bars = append(t.Bars, b)
	}
	t.AxisY = tlTop + len(stages)*tlRow + 4
	t.Height = t.AxisY + 22
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 6 {
			step = s
			break
		}
	}
	for d := time.Duration(0); d <= span; d += step {
		t.Ticks = append(t.Ticks, tick{X: x(d), Label: tickLabel(d)})
	}
	return t
}

func tickLabel(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d < time.Second {
		return d.String()
	}
	s := d.Round(time.Second).String()
	s = strings.TrimSuffix(s, "m0s")
	if strings.HasSuffix(d.Round(time.Second).String(), "m0s") {
		s += "m"
	}
	return strings.Replace(s, "h0m", "h", 1)
}
