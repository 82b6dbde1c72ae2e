package targets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// Stage names of the three-stage pipeline; the targets stage1, stage2 and
// stage3 run packer, terraform and (wait +) ansible.
const (
	StagePacker    = "packer"
	StageTerraform = "terraform"
	StageWait      = "wait"
	StageAnsible   = "ansible"
)

// Hints tell a user how to give each handoff to one stage.
var hints = map[string]string{
	handoff.TemplateID.Name(): "go run mage.go stage2 8025",
	handoff.Inventory.Name():  "go run mage.go stage3 inventory.json",
}

// Pipeline builds the project's pipeline. Its tools run under
// BATON_WRAPPER when it is set.
func (p *Project) Pipeline() (*pipeline.Pipeline, error) {
	x, err := toolExec()
	if err != nil {
		return nil, err
	}
	return p.pipeline(x)
}

// pipeline builds the project's pipeline with its tools started by x.
func (p *Project) pipeline(x stages.Exec) (*pipeline.Pipeline, error) {
	switch p.Layout {
	case "local":
		// Packer counts the registry's templates when it parses the
		// template, so the registry must exist before the first build.
		if err := os.MkdirAll(filepath.Join(p.Lab(), "registry"), 0o700); err != nil {
			return nil, err
		}
		return pipeline.New(p.localStages(x)...)
	case "proxmox":
		ex := filepath.Join(p.Root, "examples", "proxmox")
		return pipeline.New(p.dirStages(x, filepath.Join(ex, "packer"), filepath.Join(ex, "infrastructure", "environments", "production"), filepath.Join(ex, "ansible"), "playbooks/site.yml")...)
	default:
		return pipeline.New(p.dirStages(x, filepath.Join(p.Layout, "packer"), filepath.Join(p.Layout, "terraform"), filepath.Join(p.Layout, "ansible"), "site.yml")...)
	}
}

func (p *Project) terraformState() []string {
	return []string{"path=" + filepath.Join(p.State, "terraform.tfstate")}
}

// localStages is the lab: Packer registers a golden image in the lab's
// registry, Terraform starts sshd hosts from it, Ansible configures them.
func (p *Project) localStages(x stages.Exec) []pipeline.Stage {
	ex := filepath.Join(p.Root, "examples", "local")
	lab := p.Lab()
	registry := filepath.Join(lab, "registry")
	manifest := filepath.Join(lab, "packer-manifest.json")
	knownHosts := filepath.Join(lab, "known_hosts")
	return []pipeline.Stage{
		&stages.Packer{
			StageName: StagePacker,
			Dir:       filepath.Join(ex, "packer"),
			Vars:      map[string]string{"registry": registry, "manifest": manifest},
			Manifest:  manifest,
			IDKey:     "template_id",
			Exec:      x,
			Exists: func(ctx context.Context, id string) error {
				if _, err := os.Stat(filepath.Join(registry, id, "id")); err != nil {
					return fmt.Errorf("not in the lab's registry %s", registry)
				}
				return nil
			},
		},
		&stages.Terraform{
			StageName:     StageTerraform,
			Dir:           filepath.Join(ex, "terraform"),
			Vars:          []stages.Var{{Name: "template_id", From: handoff.TemplateID}},
			Set:           map[string]string{"lab_dir": lab, "host_count": strconv.Itoa(p.Hosts), "ssh_port": strconv.Itoa(p.Port), "app_port": strconv.Itoa(p.AppPort)},
			Outputs:       []stages.Output{{Name: "ansible_inventory", As: handoff.Inventory}},
			BackendConfig: p.terraformState(),
			DataDir:       filepath.Join(p.State, "terraform"),
			Exec:          x,
		},
		&stages.WaitSSH{
			StageName:  StageWait,
			KnownHosts: knownHosts,
			KeyFile:    filepath.Join(lab, "client_key"),
		},
		&stages.Ansible{
			StageName:  StageAnsible,
			Dir:        filepath.Join(p.ansibleRoot(), "examples", "local", "ansible"),
			KnownHosts: knownHosts,
			RunAfter:   []string{StageWait},
			CacheDir:   filepath.Join(p.State, "cache", "ansible-syntax"),
			FactCache:  filepath.Join(p.State, "cache", "ansible-facts"),
			Exec:       x,
		},
	}
}

// dirStages is the three-stage pipeline over directories of one's own:
// Packer in packerDir gives template_id (its artifact ID, the VMID for the
// proxmox builders), Terraform in tfDir takes it as var.template_id and
// gives its ansible_inventory output, Ansible runs playbook in ansibleDir
// once every host answers SSH.
func (p *Project) dirStages(x stages.Exec, packerDir, tfDir, ansibleDir, playbook string) []pipeline.Stage {
	return []pipeline.Stage{
		&stages.Packer{StageName: StagePacker, Dir: packerDir, Exec: x},
		&stages.Terraform{
			StageName:     StageTerraform,
			Dir:           tfDir,
			Vars:          []stages.Var{{Name: "template_id", From: handoff.TemplateID}},
			Outputs:       []stages.Output{{Name: "ansible_inventory", As: handoff.Inventory}},
			BackendConfig: p.terraformState(),
			DataDir:       filepath.Join(p.State, "terraform"),
			Exec:          x,
		},
		&stages.WaitSSH{StageName: StageWait},
		&stages.Ansible{StageName: StageAnsible, Dir: ansibleDir, Playbook: playbook, RunAfter: []string{StageWait},
			CacheDir: filepath.Join(p.State, "cache", "ansible-syntax"), FactCache: filepath.Join(p.State, "cache", "ansible-facts"), Exec: x},
	}
}

// ansibleRoot is where the playbooks come from: the project, or the
// checkout of an earlier release.
func (p *Project) ansibleRoot() string {
	if p.AnsibleRoot != "" {
		return p.AnsibleRoot
	}
	return p.Root
}
