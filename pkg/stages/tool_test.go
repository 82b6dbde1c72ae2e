package stages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// A tool that exits 0 when asked to stop has not done its job: the run is
// cancelled, not succeeded (Packer exits 0 on some interrupts, and its
// stage then said "packer build succeeded but did not record a new run").
func TestToolThatExitsZeroOnSIGINTIsCancelled(t *testing.T) {
	c := &Command{StageName: "stubborn", Argv: []string{"sh", "-c", `trap 'exit 0' INT; echo ready; while :; do sleep 1; done`}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := pipeline.New(c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var sum *pipeline.Summary
	go func() {
		var err error
		sum, err = p.Run(ctx, pipeline.Options{RunDir: t.TempDir(), Getenv: func(string) string { return "" }, Sinks: []pipeline.Sink{pipeline.SinkFunc(func(e pipeline.Event) {
			if strings.TrimSpace(e.Line) == "ready" {
				cancel()
			}
		})}})
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the stage did not end within a minute")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got := sum.Stage("stubborn").Status; got != pipeline.StatusCancelled {
		t.Errorf("stage status %s, want %s", got, pipeline.StatusCancelled)
	}
}

// A version query stopped by a Ctrl-C says so, not "signal: killed".
func TestVersionQueryCancelledSaysCancelled(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	fake := filepath.Join(dir, "packer")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n: > "+marker+"\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for try := 0; try < 6000; try++ {
			if _, err := os.Stat(marker); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	_, err := packerVersion(ctx, fake)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "signal") {
		t.Errorf("err = %v, want a plain context.Canceled", err)
	}
}
