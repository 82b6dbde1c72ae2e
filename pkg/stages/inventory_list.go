package stages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/pkg/handoff"
)

// maxInventoryOutput bounds what ansible-inventory may print; the handoff
// store holds no more.
const maxInventoryOutput = 64 << 20

// ListInventory reads an inventory in any form Ansible reads — INI, YAML,
// JSON, a script, a directory of them, with the group_vars and host_vars
// beside it — by running `ansible-inventory -i path --list` in dir (so the
// ansible.cfg there applies) under x, and parses what Ansible printed into
// the typed inventory. path is relative to dir unless absolute. Errors
// name the file and say what Ansible said.
func ListInventory(ctx context.Context, x Exec, dir, path string) (*handoff.AnsibleInventory, error) {
	if path == "" {
		return nil, errors.New("inventory: no path given")
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(dir, path)
	}
	if _, err := os.Stat(full); err != nil {
		return nil, fmt.Errorf("inventory %s: %w (paths are relative to %s)", path, err, dir)
	}
	bin, err := lookTool("ansible-inventory", "")
	if err != nil {
		return nil, err
	}
	argv := append(append([]string(nil), x.Wrapper...), bin, "-i", path, "--list")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	// A source Ansible cannot parse is an error, not an empty inventory.
	cmd.Env = append(append(os.Environ(), x.Env...), "ANSIBLE_INVENTORY_UNPARSED_FAILED=True", "ANSIBLE_NOCOLOR=True", "ANSIBLE_FORCE_COLOR=False")
	out, err := proc.Output(ctx, cmd, maxInventoryOutput, proc.Options{Grace: x.Grace, LeaderOnly: len(x.Wrapper) > 0, Tail: stderrTail})
	if ctx.Err() != nil {
		return nil, fmt.Errorf("inventory %s: ansible-inventory: %w", path, ctx.Err())
	}
	if err != nil {
		te := &ToolError{Tool: "ansible-inventory", Args: []string{"-i", path, "--list"}, ExitCode: -1, Err: err}
		if pe, ok := errors.AsType[*proc.Error](err); ok {
			te.ExitCode, te.Stderr, te.Err = pe.ExitCode, ansibleMessage(pe.Stderr), pe.Err
		}
		return nil, fmt.Errorf("inventory %s: Ansible cannot read it (in %s): %w", path, dir, te)
	}
	inv, err := handoff.ParseInventory(out)
	if err != nil {
		return nil, fmt.Errorf("inventory %s: ansible-inventory read it, but baton cannot use it: %w", path, err)
	}
	return inv, nil
}

// ansibleMessage drops the lines of a Python traceback from Ansible's
// standard error, keeping what it says to people.
func ansibleMessage(stderr string) string {
	var keep []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "  ") && strings.Contains(l, "File \"") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}
