//go:build baton_tf_v2

package stages_test

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// A Terraform stage that takes the template Packer built as
// var.template_id and gives its ansible_inventory output as the inventory
// handoff, with its state and .terraform kept outside the source tree.
func ExampleTerraform() {
	tf := &stages.Terraform{
		Dir:           "infra/terraform",
		Vars:          []stages.Var{{Name: "template_id", From: handoff.TemplateID}},
		Set:           map[string]string{"node_count": "3"},
		Outputs:       []stages.Output{{Name: "ansible_inventory", As: handoff.Inventory}},
		BackendConfig: []string{"path=/srv/baton/prod/terraform.tfstate"},
		DataDir:       ".baton/prod/terraform",
		LockTimeout:   2 * time.Minute,
		Lint:          stages.LintIfPresent,
		Exec:          stages.Exec{Wrapper: []string{"doppler", "run", "--"}},
	}
	p, err := pipeline.New(tf)
	if err != nil {
		fmt.Println(err)
		return
	}
	// `mage stage2 8025`: the template ID from an argument.
	sum, err := p.Run(context.Background(), pipeline.Options{Args: map[string]string{"template_id": "8025"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sum.Stages[0].Note) // e.g. "applied: 3 to add, 0 to change, 0 to destroy"
}
