package targets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/deploy"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Deploy runs every stage of the pipeline file in dependency order —
// for the three-stage shape: Packer builds the golden image, Terraform
// makes hosts from it, baton waits until each answers SSH, Ansible
// configures them. Missing tools are installed first. Handoffs are stored
// under .baton/<env>/handoffs and each run's log under .baton/<env>/runs.
func Deploy(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := requiresPromotion(p, "deploy"); err != nil {
		return err
	}
	// One notifier for the deploy and a rollback after it, so that
	// delivering the failure does not hold up the rollback.
	n, closeN, err := p.Notifier(ctx)
	if err != nil {
		return err
	}
	defer closeN()
	if _, err := execute(ctx, p, deploy.Job{Target: "deploy", Mode: pipeline.ModeRun, Notify: n}); err != nil {
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

// Stage1 runs the first Packer stage alone: one build that gives a new
// artifact (template) ID.
func Stage1(ctx context.Context) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	defer p.Close()
	ps := p.Stages(config.Packer)
	if len(ps) == 0 {
		return fmt.Errorf("%s has no packer stage", rel(p.Root, p.File))
	}
	return runOne(ctx, p, "stage1", deploy.StageNames(ps[0]), nil)
}

// Stage2 runs the first Terraform stage that takes a Packer artifact alone,
// from a template ID: `stage2 8025`. Give "-" to take it from
// BATON_TEMPLATE_ID, else from the last stored handoff.
func Stage2(ctx context.Context, templateID string) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	defer p.Close()
	s, def, err := artifactStage(p)
	if err != nil {
		return err
	}
	args, err := argument(def, templateID, "BATON_TEMPLATE_ID")
	if err != nil {
		return err
	}
	return runOne(ctx, p, "stage2", deploy.StageNames(s), args)
}

// Stage3 waits for the hosts of an inventory and runs the first Ansible
// stage on them: `stage3 inventory.json` (JSON or YAML, static or dynamic
// shape). Give "-" to take it from BATON_INVENTORY, else from the last
// stored handoff.
func Stage3(ctx context.Context, inventory string) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	defer p.Close()
	s, def, err := ansibleStage(p)
	if err != nil {
		return err
	}
	if def == nil {
		if inventory != "-" {
			return fmt.Errorf("%s reads its inventory from %s, as the pipeline file says: run `go run mage.go stage3 -`", s.Address(), s.Inventory.Text)
		}
		return runOne(ctx, p, "stage3", deploy.StageNames(s), nil)
	}
	args, err := argument(def, inventory, "BATON_INVENTORY")
	if err != nil {
		return err
	}
	return runOne(ctx, p, "stage3", deploy.StageNames(s), args)
}

// Stage runs one stage of the pipeline file alone, by its address:
// `stage terraform.apps`. Its inputs come from the environment
// (BATON_<HANDOFF>, e.g. BATON_TERRAFORM_INFRA_VM_IP) or from what the
// last run stored. An Ansible stage runs with its wait for SSH.
func Stage(ctx context.Context, address string) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	defer p.Close()
	s, err := find(p, address)
	if err != nil {
		return err
	}
	only := deploy.StageNames(s)
	if strings.HasSuffix(address, config.WaitSuffix) {
		only = []string{address}
	}
	return runOne(ctx, p, "stage "+s.Address(), only, nil)
}

// runOne runs some stages alone, once the tools are there.
func runOne(ctx context.Context, p *Project, target string, only []string, args map[string]string) error {
	if err := requiresPromotion(p, target); err != nil {
		return err
	}
	if err := ensureTools(ctx, p, false); err != nil {
		return err
	}
	_, err := execute(ctx, p, deploy.Job{Target: target, Mode: pipeline.ModeRun, Only: only, Args: args})
	return interrupted(p, err)
}

// argument checks a target's argument before anything runs; "-" means the
// variable alias, when set, else the handoff's own variable or the store.
func argument(def handoff.Def, text, alias string) (map[string]string, error) {
	from := "the argument"
	if text == "-" {
		text = os.Getenv(alias)
		if text == "" {
			return nil, nil
		}
		from = alias
	}
	if _, err := def.ParseText(text); err != nil {
		return nil, fmt.Errorf("%s: %w\nwant %s, or - to use %s or the last stored value", from, err, def.Format(), alias)
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
	defer p.Close()
	_, err = execute(ctx, p, deploy.Job{Target: "plan", Mode: pipeline.ModePlan})
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
	defer p.Close()
	sum, err := execute(ctx, p, deploy.Job{Target: "validate", Mode: pipeline.ModeCheck})
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
			fmt.Fprintf(stdout, "  %s %-24s %s\n", mark, s.Name, firstLine(what))
		}
	}
	return interrupted(p, err)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Destroy removes everything the deployment made: every Terraform stage
// destroys what it made (the last first), then the environment's state —
// handoffs, caches, lab files — is deleted. Run logs and the history stay.
// When a Terraform stage could not destroy (an input it needs is gone),
// nothing is deleted and the error says what is left.
func Destroy(ctx context.Context) error {
	p, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	tf := p.Stages(config.Terraform)
	sum, err := execute(ctx, p, deploy.Job{Target: "destroy", Mode: pipeline.ModeRollback, Only: deploy.StageNames(tf...)})
	if err != nil {
		return interrupted(p, err)
	}
	if sum != nil {
		var left []string
		for _, s := range sum.Stages {
			// A stage that never applied has nothing to destroy; one that
			// did and was skipped (an input gone) still has its hosts.
			if s.Status != pipeline.StatusSucceeded && applied(p, s.Name) {
				left = append(left, fmt.Sprintf("%s (%s: %s)", s.Name, s.Status, firstLine(s.Reason+s.Error)))
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("destroy: not everything was destroyed, so the state of %s is kept: %s\ngive what these stages need (see `go run mage.go history`) and run destroy again", p.Env, strings.Join(left, "; "))
		}
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
	fmt.Fprintf(stdout, "destroyed: nothing of %s is running and its state is gone (run logs and history stay in %s)\n", p.Env, rel(p.Root, p.State))
	return nil
}

// applied reports whether a Terraform stage has applied in this
// environment: its data directory or one of its products is there.
func applied(p *Project, stage string) bool {
	gives := false
	for name := range p.Config.Defs() {
		if strings.HasPrefix(name, stage+".") {
			gives = true
			if fileExists(filepath.Join(p.State, "handoffs", name+".json")) {
				return true
			}
		}
	}
	// A stage whose products no one takes: has it ever been set up?
	return !gives && fileExists(filepath.Join(p.State, "terraform", strings.TrimPrefix(stage, "terraform.")))
}

// Graph prints the pipeline as a Mermaid flowchart: stages as nodes,
// handoffs as labelled edges.
func Graph() error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	defer p.Close()
	pl, err := p.Pipeline()
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, pl.Mermaid())
	return nil
}

// prepare loads the project and makes sure the tools are there.
func prepare(ctx context.Context) (*Project, error) {
	p, err := LoadProject()
	if err != nil {
		return nil, err
	}
	if err := ensureTools(ctx, p, false); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}
