package targets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/stages"
)

// terraformVersion is the Terraform baton installs when none is on PATH:
// the last release under the MPL, buildable from the Go module proxy.
const terraformVersion = "v1.5.7"

// tool is one program the pipeline needs and how to get it.
type tool struct {
	name  string
	apt   string   // Debian package, when it comes from apt
	gomod string   // Go module to `go install`, when it comes from there
	also  []string // other programs that come with it
}

var tools = []tool{
	{name: "packer", apt: "packer"},
	{name: "terraform", gomod: "github.com/hashicorp/terraform@" + terraformVersion},
	{name: "ansible-playbook", apt: "ansible-core", also: []string{"ansible", "ansible-inventory"}},
	{name: "sshd", apt: "openssh-server"},
	{name: "ssh", apt: "openssh-client"},
}

// Tools makes sure packer, terraform, ansible-playbook and sshd are
// installed: through apt-get and `go install` when it can (as root on
// Debian or Ubuntu), else it says exactly what to run.
func Tools(ctx context.Context) error {
	p, err := LoadProject()
	if err != nil {
		return err
	}
	if err := ensureTools(ctx, p, true); err != nil {
		return err
	}
	for _, t := range tools {
		path, _ := lookPath(t.name)
		fmt.Fprintf(stdout, "  %-17s %s\n", t.name, path)
	}
	offerMitogen(ctx)
	return nil
}

// offerMitogen installs Mitogen, an optional faster Ansible, when it is
// missing and apt-get can (Debian's ansible-mitogen goes with Debian's
// ansible-core), then says whether it can run this ansible-playbook and
// how to turn it on. Without it baton runs Ansible as it always does, so
// nothing here fails the target.
func offerMitogen(ctx context.Context) {
	bin, err := lookPath("ansible-playbook")
	if err != nil {
		return
	}
	what, err := stages.CheckMitogen(ctx, bin)
	if err != nil && os.Geteuid() == 0 && hasAptGet() {
		if aerr := aptInstall(ctx, []string{"ansible-mitogen"}); aerr == nil {
			what, err = stages.CheckMitogen(ctx, bin)
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "optional: Mitogen (a faster Ansible) cannot be used: %v\n  baton runs Ansible without it\n", err)
		return
	}
	fmt.Fprintf(stdout, "optional: Mitogen can run Ansible here (%s):\n  1.2–2× faster on the lab (docs/benchmarks.md); turn it on with %s=1, or `mitogen = true` in an ansible block\n", what, stages.MitogenEnv)
}

// toolsHint adds, to an error about a tool the stages did not find on
// PATH, that the tools target installs it: the library's error says only
// how to install it by hand.
func toolsHint(err error) error {
	me, ok := errors.AsType[*stages.MissingToolError](err)
	if !ok || me.Path != "" {
		return err
	}
	for _, t := range tools {
		if t.name == me.Tool || slices.Contains(t.also, me.Tool) {
			return fmt.Errorf("%w\nor run `go run mage.go tools`, which installs %s", err, me.Tool)
		}
	}
	return err
}

func hasAptGet() bool {
	_, err := exec.LookPath("apt-get")
	return err == nil
}

// toolsBin is where `go install` puts the tools baton builds.
func toolsBin(p *Project) string { return filepath.Join(p.Root, ".tools", "bin") }

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode()&0o111 != 0 {
			return filepath.Join(dir, name), nil
		}
	}
	return "", exec.ErrNotFound
}

// ensureTools puts .tools/bin on PATH, gives Terraform an empty CLI config
// when it has none (so it does not warn on every command), and installs
// what is missing.
func ensureTools(ctx context.Context, p *Project, verbose bool) error {
	bin := toolsBin(p)
	if !strings.Contains(os.Getenv("PATH"), bin) {
		os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	// An unset TF_CLI_CONFIG_FILE, or one naming a missing file, makes
	// Terraform warn on every command.
	if rc := os.Getenv("TF_CLI_CONFIG_FILE"); rc == "" || !fileExists(rc) {
		rc := filepath.Join(p.Root, ".baton", "terraform.rc")
		if err := os.MkdirAll(filepath.Dir(rc), 0o700); err != nil {
			return err
		}
		if _, err := os.Stat(rc); err != nil {
			if err := os.WriteFile(rc, nil, 0o600); err != nil {
				return err
			}
		}
		os.Setenv("TF_CLI_CONFIG_FILE", rc)
	}
	var apt []string
	var gomods []tool
	for _, t := range tools {
		if _, err := lookPath(t.name); err == nil {
			continue
		}
		if t.apt != "" {
			apt = append(apt, t.apt)
		} else {
			gomods = append(gomods, t)
		}
	}
	if len(apt) == 0 && len(gomods) == 0 {
		if verbose {
			fmt.Fprintln(stdout, "every tool is installed:")
		}
		return nil
	}
	var failed []string
	if len(apt) > 0 {
		if err := aptInstall(ctx, apt); err != nil {
			failed = append(failed, fmt.Sprintf("apt-get update && apt-get install -y --no-install-recommends %s   (%v)", strings.Join(apt, " "), err))
		}
	}
	for _, t := range gomods {
		fmt.Fprintf(stdout, "installing %s with go install %s into %s (about 2 minutes, once)\n", t.name, t.gomod, rel(p.Root, bin))
		cmd := exec.Command("go", "install", t.gomod)
		cmd.Env = append(os.Environ(), "GOBIN="+bin)
		cmd.Stdout, cmd.Stderr = stdout, stdout
		if err := proc.Run(ctx, cmd, proc.Options{}); err != nil {
			failed = append(failed, fmt.Sprintf("GOBIN=%s go install %s   (%v)", bin, t.gomod, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("some tools are missing and could not be installed; run:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

// aptGrace is how long apt-get may take to stop after Ctrl-C.
const aptGrace = 30 * time.Second

func aptInstall(ctx context.Context, pkgs []string) error {
	if os.Geteuid() != 0 {
		return errors.New("not root")
	}
	if !hasAptGet() {
		return errors.New("no apt-get here")
	}
	fmt.Fprintf(stdout, "installing %s with apt-get\n", strings.Join(pkgs, ", "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{
		{"update", "-qq"},
		append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...),
	} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = stdout, stdout
		// Ctrl-C lets apt and dpkg stop cleanly: a SIGKILL mid-install
		// leaves dpkg's lock and a half-configured package.
		if err := proc.Run(ctx, cmd, proc.Options{Grace: aptGrace}); err != nil {
			return fmt.Errorf("apt-get %s: %w", args[0], err)
		}
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
