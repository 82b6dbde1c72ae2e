package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// BenchmarkMitogen runs the lab's playbook (examples/local/ansible) through
// the Ansible stage with baton's settings (pipelining, ControlPersist, a
// fork per host) and with Mitogen, alternating, on the lab's 3 hosts and
// on 8 and 32. Both ways configure the hosts once first, so the runs timed
// are redeploys with nothing to change, as most deploys' Ansible is.
func BenchmarkMitogen(b *testing.B) {
	testlab.Require(b, "ansible-playbook")
	playbooks, _ := filepath.Abs("../../examples/local/ansible")
	for _, n := range []int{3, 8, 32} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			skipOverMaxHosts(b, n)
			lab := testlab.Start(b, n)
			inv := filepath.Join(b.TempDir(), "inventory.json")
			if err := os.WriteFile(inv, lab.LocalInventory(b, testlab.FreePort(b, lab.Hosts[0].Address)), 0o600); err != nil {
				b.Fatal(err)
			}
			// Mitogen's connection timeout (ANSIBLE_TIMEOUT) covers starting
			// its remote interpreter, which on a loaded machine takes more
			// than the default 10 s: both ways get 120 s.
			exec := stages.Exec{Env: []string{"ANSIBLE_TIMEOUT=120"}}
			baton := &stages.Ansible{Dir: playbooks, KnownHosts: lab.KnownHosts, Exec: exec}
			mitogen := &stages.Ansible{Dir: playbooks, KnownHosts: lab.KnownHosts, Mitogen: true, Exec: exec}
			opts := pipeline.Options{Args: map[string]string{"inventory": inv}}
			first := runStages(b, opts, baton) // configures the hosts
			runStages(b, opts, mitogen)
			withBaton, withMitogen := alternate(b, 2,
				func() time.Duration { return runStages(b, opts, baton) },
				func() time.Duration { return runStages(b, opts, mitogen) })
			b.ReportMetric(first.Seconds(), "first-s")
			b.ReportMetric(withBaton.Seconds(), "baton-s")
			b.ReportMetric(withMitogen.Seconds(), "mitogen-s")
			b.ReportMetric(withBaton.Seconds()/withMitogen.Seconds(), "baton/mitogen")
		})
	}
}
