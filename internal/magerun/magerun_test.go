package magerun

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want kind
	}{
		{nil, plain},
		{[]string{"deploy"}, plain},
		{[]string{"-v", "deploy"}, plain},
		{[]string{"-t", "5m", "deploy"}, plain},
		{[]string{"-t=5m", "stage2", "-"}, plain},
		{[]string{"stage2", "-d"}, plain}, // a target's argument, not a flag
		{[]string{"-l"}, listOrHelp},
		{[]string{"-h", "deploy"}, listOrHelp},
		{[]string{"--l"}, listOrHelp},
		{[]string{"-d", "x", "deploy"}, mageFlags},
		{[]string{"-l", "-debug"}, mageFlags},
		{[]string{"-compile", "out"}, mageFlags},
		{[]string{"-clean"}, mageFlags},
		{[]string{"-f", "deploy"}, mageFlags},
	} {
		if got := classify(tc.args); got != tc.want {
			t.Errorf("classify(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}

// Two targets started at the same moment both run: the magefile is
// compiled under a lock, not by both at once in the checkout (which failed
// with "open ./mage_output_file.go: no such file or directory").
func TestTwoTargetsStartedAtOnceBothRun(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the magefile ten times")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		var wg sync.WaitGroup
		outs := make([]bytes.Buffer, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				// No target: Mage compiles the magefile, which lists its
				// targets.
				cmd := exec.CommandContext(ctx, "go", "run", "mage.go")
				cmd.Dir = root
				cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
				errs[i] = cmd.Run()
			}()
		}
		wg.Wait()
		for i := range 2 {
			if errs[i] != nil || !strings.Contains(outs[i].String(), "Targets:") {
				t.Errorf("round %d, run %d: %v\n%s", round, i, errs[i], outs[i].String())
			}
		}
	}
}
