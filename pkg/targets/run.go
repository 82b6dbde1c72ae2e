package targets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/baton-deploy/baton/pkg/deploy"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// execute runs j on the project through pkg/deploy, with the hints of
// the targets that give one stage its input, and the tools target's in
// its error.
func execute(ctx context.Context, p *Project, j deploy.Job) (*pipeline.Summary, error) {
	j.Hints = hints(p)
	sum, err := p.Run(ctx, j)
	return sum, toolsHint(err)
}

// rel shows path relative to root when it is under it.
func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return r
	}
	return path
}

// printHosts tells where the deployed hosts are and how to reach one.
func printHosts(p *Project) {
	s, def, err := ansibleStage(p)
	if err != nil || def == nil {
		return
	}
	store, err := p.Store()
	if err != nil {
		return
	}
	v, err := store.Get(def)
	if err != nil {
		return
	}
	inv, err := handoff.Inventory.Decode(v.Raw)
	if err != nil {
		return
	}
	hosts := inv.Hosts()
	fmt.Fprintf(stdout, "\n%d hosts are up:\n", len(hosts))
	for _, h := range hosts {
		fmt.Fprintf(stdout, "  %-10s %s  (%v)\n", h.Name, h.SSHAddr(), h.Groups)
	}
	if len(hosts) == 0 {
		return
	}
	h := hosts[0]
	port := h.Port
	if port == 0 {
		port = 22
	}
	var opts []string
	if k := s.KeyFile(); k != "" {
		opts = append(opts, "-i "+rel(p.Root, k))
	}
	opts = append(opts, "-o UserKnownHostsFile="+rel(p.Root, p.Config.KnownHosts(s)))
	if port != 22 {
		opts = append(opts, fmt.Sprintf("-p %d", port))
	}
	fmt.Fprintf(stdout, "ssh to one:\n  ssh %s %s@%s\n", strings.Join(opts, " "), orDefault(h.User, orDefault(s.Wait.User, "root")), h.Address)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// interrupted explains, after Ctrl-C, what state things are in.
func interrupted(p *Project, err error) error {
	if !errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w\ninterrupted: tools were asked to stop (SIGINT) and handoffs are only written whole, so the store holds the last complete values; run `go run mage.go validate` to see what state the %s environment is in", err, p.Env)
}
