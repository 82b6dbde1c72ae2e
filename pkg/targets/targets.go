// Package targets holds baton's Mage targets. Import it into a magefile
// with
//
//	//mage:import
//	_ "github.com/baton-deploy/baton/pkg/targets"
//
// and an infrastructure repository gets deploy, stage1…stage3, plan,
// validate, rollback, destroy, graph and tools. Each target is a few lines
// over pkg/pipeline and pkg/stages; which pipeline they run is set by
// BATON_PIPELINE (see Project).
package targets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Deploy runs every stage: Packer builds the golden image, Terraform makes
// hosts from it, baton waits until each answers SSH, Ansible configures
// them. Missing tools are installed first. Handoffs are stored under
// .baton/<env>/handoffs and each run's log under .baton/<env>/runs.
func Deploy(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	// One notifier for the deploy and a rollback after it, so that
	// delivering the failure does not hold up the rollback.
	n, closeN, err := openNotifier(ctx)
	if err != nil {
		return err
	}
	defer closeN()
	if _, err := execute(ctx, p, job{target: "deploy", mode: pipeline.ModeRun, notify: n}); err != nil {
		if os.Getenv("BATON_ROLLBACK_ON_FAILURE") == "1" && ctx.Err() == nil {
			fmt.Fprintf(stdout, "\ndeploy failed; rolling back to the last successful release (BATON_ROLLBACK_ON_FAILURE=1)\n")
			if rerr := rollbackTo(ctx, p, "", true, n); rerr != nil {
				return fmt.Errorf("%w\nand the rollback failed too: %v", err, rerr)
			}
			return fmt.Errorf("%w\nrolled back to the last successful release", err)
		}
		return interrupted(p, err)
	}
	printHosts(p)
	return nil
}

// Stage1 runs Packer alone: one build that gives a new template ID.
func Stage1(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	_, err = execute(ctx, p, job{target: "stage1", mode: pipeline.ModeRun, only: []string{StagePacker}})
	return interrupted(p, err)
}

// Stage2 runs Terraform alone from a template ID: `stage2 8025`. Give "-"
// to take it from BATON_TEMPLATE_ID, else from the last stored handoff.
func Stage2(ctx context.Context, templateID string) error {
	args, err := argument(handoff.TemplateID, templateID)
	if err != nil {
		return err
	}
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	_, err = execute(ctx, p, job{target: "stage2", mode: pipeline.ModeRun, only: []string{StageTerraform}, args: args})
	return interrupted(p, err)
}

// Stage3 waits for the hosts of an inventory and runs Ansible on them:
// `stage3 inventory.json` (JSON or YAML, static or dynamic shape). Give "-"
// to take it from BATON_INVENTORY, else from the last stored handoff.
func Stage3(ctx context.Context, inventory string) error {
	args, err := argument(handoff.Inventory, inventory)
	if err != nil {
		return err
	}
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	_, err = execute(ctx, p, job{target: "stage3", mode: pipeline.ModeRun, only: []string{StageWait, StageAnsible}, args: args})
	return interrupted(p, err)
}

// argument checks a target's argument before anything runs; "-" means not
// given.
func argument(def handoff.Def, text string) (map[string]string, error) {
	if text == "-" {
		return nil, nil
	}
	if _, err := def.ParseText(text); err != nil {
		return nil, fmt.Errorf("%w\nwant %s, or - to use %s or the last stored value", err, def.Format(), def.EnvVar())
	}
	return map[string]string{def.Name(): text}, nil
}

// Plan is the dry run of every stage — packer validate, terraform plan,
// ansible-playbook --check --diff — and changes nothing. A stage whose input
// does not exist yet (no template built) is skipped with the reason.
func Plan(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	_, err = execute(ctx, p, job{target: "plan", mode: pipeline.ModePlan})
	return interrupted(p, err)
}

// Validate checks what is deployed: the template exists, Terraform's state
// is valid and shows no drift, every host answers SSH, Ansible reaches
// them. One line per check; a non-zero exit when any fails.
func Validate(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	sum, err := execute(ctx, p, job{target: "validate", mode: pipeline.ModeCheck})
	if sum != nil {
		fmt.Fprintln(stdout, "\nvalidation:")
		for _, s := range sum.Stages {
			mark, what := "ok  ", s.Note
			switch s.Status {
			case pipeline.StatusFailed, pipeline.StatusCancelled:
				mark, what = "FAIL", s.Error
			case pipeline.StatusSkipped, pipeline.StatusNotRun:
				mark, what = "skip", s.Reason
			}
			fmt.Fprintf(stdout, "  %s %-10s %s\n", mark, s.Name, firstLine(what))
		}
	}
	return interrupted(p, err)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Destroy removes everything the deployment made: Terraform destroys the
// hosts (stopping every lab sshd), then the environment's state — lab
// files, Terraform state, handoffs — is deleted. Run logs are kept.
func Destroy(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	if _, err := execute(ctx, p, job{target: "destroy", mode: pipeline.ModeRollback, only: []string{StageTerraform}}); err != nil {
		return interrupted(p, err)
	}
	entries, err := os.ReadDir(p.State)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, e := range entries {
		if e.Name() == "runs" || e.Name() == "ledger" {
			continue // the audit trail outlives what it describes
		}
		if err := os.RemoveAll(filepath.Join(p.State, e.Name())); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "destroyed: no host of %s is running and its state is gone (run logs and history stay in %s)\n", p.Env, rel(p.Root, p.State))
	return nil
}

// Graph prints the pipeline as a Mermaid flowchart: stages as nodes,
// handoffs as labelled edges.
func Graph() error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	pl, err := p.Pipeline()
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, pl.Mermaid())
	return nil
}

// prepare makes sure the tools are there and loads the project.
func prepare(ctx context.Context) (*Project, error) {
	p, err := LoadProject()
	if err != nil {
		return nil, err
	}
	if err := ensureTools(ctx, p, false); err != nil {
		return nil, err
	}
	return p, nil
}
