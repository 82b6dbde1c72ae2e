package stages

import (
	"context"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestSSHWaitE2E(t *testing.T) {
	lab := testlab.New(t, 3)
	inv := writeInventory(t, lab)
	w := &SSHWait{KnownHosts: lab.KnownHosts, KeyFile: lab.ClientKey}
	// Hosts come up while the stage waits.
	go func() {
		for _, h := range lab.Hosts {
			_ = h.Start()
		}
	}()
	sum, _, events, err := runStage(t, context.Background(), pipeline.ModeRun, w, map[string]string{"inventory": inv})
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Stages[0].Note; got != "3 hosts answer SSH" {
		t.Errorf("note = %q", got)
	}
	for _, h := range lab.Hosts {
		if !hasLine(events, h.Name+" ("+h.Addr()+") is ready") {
			t.Errorf("no ready line for %s", h.Name)
		}
	}
	lab.Hosts[1].Stop()
	_, _, _, err = runStage(t, context.Background(), pipeline.ModeCheck, w, map[string]string{"inventory": inv})
	if err == nil || !strings.Contains(err.Error(), "host-2") || strings.Contains(err.Error(), "host-1 ") {
		t.Errorf("check with host-2 stopped: %v", err)
	}
}
