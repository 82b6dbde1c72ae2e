package targets

import (
	"fmt"
	"sort"
	"strings"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/handoff"
)

// find returns the stage at an address: packer.image, ansible.configure…
func find(p *Project, addr string) (*config.Stage, error) {
	var all []string
	for _, s := range p.Config.Stages {
		if s.Address() == addr || s.Address()+config.WaitSuffix == addr {
			return s, nil
		}
		all = append(all, s.Address())
	}
	return nil, fmt.Errorf("%s has no stage %q: its stages are %s", rel(p.Root, p.File), addr, strings.Join(all, ", "))
}

// artifactStage is stage2's stage: the first Terraform stage that takes a
// Packer artifact, with the artifact's handoff.
func artifactStage(p *Project) (*config.Stage, handoff.Def, error) {
	defs := p.Config.Defs()
	for _, s := range p.Stages(config.Terraform) {
		for _, name := range sortedValueNames(s.Vars) {
			v := s.Vars[name]
			if v.IsRef() && strings.HasPrefix(v.Ref, "packer.") {
				return s, defs[v.Ref], nil
			}
		}
	}
	return nil, nil, fmt.Errorf("%s has no terraform stage that takes a packer artifact: run one stage with `go run mage.go stage <address>`", rel(p.Root, p.File))
}

// ansibleStage is stage3's stage: the first Ansible stage, with the
// handoff of its inventory when that is another stage's product.
func ansibleStage(p *Project) (*config.Stage, handoff.Def, error) {
	as := p.Stages(config.Ansible)
	if len(as) == 0 {
		return nil, nil, fmt.Errorf("%s has no ansible stage", rel(p.Root, p.File))
	}
	if !as[0].Inventory.IsRef() {
		return as[0], nil, nil
	}
	return as[0], p.Config.Defs()[as[0].Inventory.Ref], nil
}

// hints tell a user how to give each handoff to one stage.
func hints(p *Project) map[string]string {
	h := map[string]string{}
	if _, d, err := artifactStage(p); err == nil {
		h[d.Name()] = "go run mage.go stage2 8025"
	}
	if _, d, err := ansibleStage(p); err == nil && d != nil {
		h[d.Name()] = "go run mage.go stage3 inventory.json"
	}
	return h
}

func sortedValueNames(m map[string]config.Value) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
