package targets

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Pipeline builds the project's pipeline. Its tools run under
// BATON_WRAPPER when it is set and the file names no wrapper of its own.
func (p *Project) Pipeline() (*pipeline.Pipeline, error) {
	x, err := toolExec()
	if err != nil {
		return nil, err
	}
	return p.Config.Build(x)
}

// stagesOf lists the addresses of the file's stages of kind k, in the
// file's order.
func (p *Project) stagesOf(k config.Kind) []*config.Stage {
	var out []*config.Stage
	for _, s := range p.Config.Stages {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

// names are the pipeline stage names a file stage runs as: an Ansible
// block runs as its wait for SSH and the playbook.
func names(s *config.Stage) []string {
	if s.Kind == config.Ansible && s.Wait.Enabled {
		return []string{s.Address() + config.WaitSuffix, s.Address()}
	}
	return []string{s.Address()}
}

// stageNames lists what the file stages run as.
func stageNames(ss ...*config.Stage) []string {
	var out []string
	for _, s := range ss {
		out = append(out, names(s)...)
	}
	return out
}

// find returns the stage at an address: packer.image, ansible.configure…
func (p *Project) find(addr string) (*config.Stage, error) {
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
func (p *Project) artifactStage() (*config.Stage, handoff.Def, error) {
	defs := p.Config.Defs()
	for _, s := range p.stagesOf(config.Terraform) {
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
func (p *Project) ansibleStage() (*config.Stage, handoff.Def, error) {
	as := p.stagesOf(config.Ansible)
	if len(as) == 0 {
		return nil, nil, fmt.Errorf("%s has no ansible stage", rel(p.Root, p.File))
	}
	if !as[0].Inventory.IsRef() {
		return as[0], nil, nil
	}
	return as[0], p.Config.Defs()[as[0].Inventory.Ref], nil
}

// artifacts are the handoffs of the file's Packer stages: what a release
// is built from, besides its commit.
func (p *Project) artifacts() []handoff.Def {
	defs := p.Config.Defs()
	var out []handoff.Def
	for _, s := range p.stagesOf(config.Packer) {
		out = append(out, defs[s.Address()+".artifact_id"])
	}
	return out
}

// isArtifact tells a Packer artifact's handoff by its name.
func isArtifact(name string) bool {
	return strings.HasPrefix(name, "packer.") && strings.HasSuffix(name, ".artifact_id")
}

// hints tell a user how to give each handoff to one stage.
func (p *Project) hints() map[string]string {
	h := map[string]string{}
	if _, d, err := p.artifactStage(); err == nil {
		h[d.Name()] = "go run mage.go stage2 8025"
	}
	if _, d, err := p.ansibleStage(); err == nil && d != nil {
		h[d.Name()] = "go run mage.go stage3 inventory.json"
	}
	return h
}

// skipUnchanged names the stages skipped when their inputs are unchanged:
// Packer and Terraform; Ansible too with BATON_SKIP_UNCHANGED_ANSIBLE=1
// (by default it runs, to correct drift on the hosts).
func (p *Project) skipUnchanged() map[string]bool {
	m := map[string]bool{}
	for _, s := range p.Config.Stages {
		switch s.Kind {
		case config.Packer, config.Terraform:
			m[s.Address()] = true
		case config.Ansible:
			if os.Getenv("BATON_SKIP_UNCHANGED_ANSIBLE") == "1" {
				m[s.Address()] = true
			}
		}
	}
	return m
}

func sortedValueNames(m map[string]config.Value) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
