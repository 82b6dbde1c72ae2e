package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/baton-deploy/baton/internal/proc"
)

// MitogenEnv is the environment setting that asks for Mitogen in the
// Ansible stage: "1" (or "true") on, "" or "0" (or "false") off. Front ends
// read it with MitogenFromEnv into Ansible.Mitogen.
const MitogenEnv = "BATON_ANSIBLE_MITOGEN"

// MitogenStrategy is the strategy plugin a Mitogen run uses: Ansible's
// linear strategy, over Mitogen's connections.
const MitogenStrategy = "mitogen_linear"

// ErrMitogenUnsupported is returned, wrapped, when Mitogen is asked for but
// is not installed or does not support the installed ansible-core.
var ErrMitogenUnsupported = errors.New("mitogen cannot run this ansible-playbook")

// MitogenFromEnv reads MitogenEnv through getenv (os.Getenv).
func MitogenFromEnv(getenv func(string) string) (bool, error) {
	switch v := strings.TrimSpace(getenv(MitogenEnv)); strings.ToLower(v) {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s=%q: want 1 to run Ansible with Mitogen, or 0", MitogenEnv, v)
	}
}

// mitogenProbe prints, as JSON, the version of the ansible-core that the
// interpreter imports and where its ansible_mitogen package is, without
// importing Mitogen (which asserts the version itself, less clearly).
const mitogenProbe = `import importlib.util, json, os
from ansible.release import __version__ as v
s = importlib.util.find_spec("ansible_mitogen")
print(json.dumps({"ansible": v, "mitogen": os.path.dirname(s.origin) if s and s.origin else ""}))
`

// mitogenInfo is what mitogenProbe found, with the ansible-core releases
// the Mitogen found supports (ANSIBLE_VERSION_MIN/MAX of its loaders.py:
// 2.10 to 2.14 for Mitogen 0.3.3).
type mitogenInfo struct {
	Ansible  string `json:"ansible"`
	Dir      string `json:"mitogen"`
	Min, Max [2]int
}

// mitogenEnv sets, in env, what runs the playbook with Mitogen when
// a.Mitogen is set: Mitogen's strategy plugins and its linear strategy.
// It refuses, with ErrMitogenUnsupported, when the Python that runs bin
// has no Mitogen, or one that does not support its ansible-core.
func (a *Ansible) mitogenEnv(ctx context.Context, bin string, env map[string]string) error {
	if !a.Mitogen {
		return nil
	}
	info, err := probeMitogen(ctx, bin, a.Exec.Env)
	if err != nil {
		return err
	}
	if err := info.supported(); err != nil {
		return err
	}
	env["ANSIBLE_STRATEGY_PLUGINS"] = filepath.Join(info.Dir, "plugins", "strategy")
	env["ANSIBLE_STRATEGY"] = MitogenStrategy
	return nil
}

// probeMitogen asks the interpreter of bin (its #! line) for its
// ansible-core and Mitogen, and reads the range Mitogen supports.
func probeMitogen(ctx context.Context, bin string, extraEnv []string) (*mitogenInfo, error) {
	python, err := interpreter(bin)
	if err != nil {
		return nil, fmt.Errorf("ansible: mitogen: %w", err)
	}
	cmd := exec.Command(python[0], append(python[1:], "-c", mitogenProbe)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	out, err := proc.Output(ctx, cmd, 0, proc.Options{})
	if err != nil {
		var why string
		if pe, ok := errors.AsType[*proc.Error](err); ok {
			why = strings.TrimSpace(pe.Stderr)
		}
		return nil, fmt.Errorf("ansible: mitogen: asking %s for its ansible-core: %w: %s", python[0], err, why)
	}
	info := &mitogenInfo{}
	if err := json.Unmarshal(out, info); err != nil {
		return nil, fmt.Errorf("ansible: mitogen: reading %s's answer %q: %w", python[0], out, err)
	}
	if info.Dir == "" {
		return nil, fmt.Errorf("ansible: %w: the Python of %s (%s) has no ansible_mitogen package: install it (Debian: apt-get install ansible-mitogen; else pip install mitogen) or turn Mitogen off (%s=0)", ErrMitogenUnsupported, bin, python[0], MitogenEnv)
	}
	if _, err := os.Stat(filepath.Join(info.Dir, "plugins", "strategy", MitogenStrategy+".py")); err != nil {
		return nil, fmt.Errorf("ansible: %w: %s has no %s strategy plugin", ErrMitogenUnsupported, info.Dir, MitogenStrategy)
	}
	src, err := os.ReadFile(filepath.Join(info.Dir, "loaders.py"))
	if err != nil {
		return nil, fmt.Errorf("ansible: %w: cannot tell which ansible-core releases the Mitogen in %s supports: %v", ErrMitogenUnsupported, info.Dir, err)
	}
	if info.Min, info.Max, err = mitogenRange(src); err != nil {
		return nil, fmt.Errorf("ansible: %w: %s/loaders.py: %v", ErrMitogenUnsupported, info.Dir, err)
	}
	return info, nil
}

// interpreter returns the command in the #! line of a script.
func interpreter(script string) ([]string, error) {
	f, err := os.Open(script)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.Read(head)
	line, _, _ := bytes.Cut(head[:n], []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("#!"))
	if !ok {
		return nil, fmt.Errorf("%s is not a Python script (no #! line): Mitogen needs the Python that runs ansible-playbook", script)
	}
	argv := strings.Fields(string(rest))
	if len(argv) > 0 && filepath.Base(argv[0]) == "env" {
		argv = argv[1:]
		if len(argv) > 0 && argv[0] == "-S" {
			argv = argv[1:]
		}
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s has an empty #! line", script)
	}
	return argv, nil
}

var mitogenBound = regexp.MustCompile(`(?m)^ANSIBLE_VERSION_(MIN|MAX)\s*=\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)`)

// mitogenRange reads ANSIBLE_VERSION_MIN and _MAX from Mitogen's loaders.py.
func mitogenRange(src []byte) (lo, hi [2]int, err error) {
	found := map[string][2]int{}
	for _, m := range mitogenBound.FindAllSubmatch(src, -1) {
		major, _ := strconv.Atoi(string(m[2]))
		minor, _ := strconv.Atoi(string(m[3]))
		found[string(m[1])] = [2]int{major, minor}
	}
	lo, okLo := found["MIN"]
	hi, okHi := found["MAX"]
	if !okLo || !okHi {
		return lo, hi, errors.New("no ANSIBLE_VERSION_MIN and ANSIBLE_VERSION_MAX in it")
	}
	return lo, hi, nil
}

// supported says whether the ansible-core found is in Mitogen's range.
func (m *mitogenInfo) supported() error {
	v, err := majorMinor(m.Ansible)
	if err != nil {
		return fmt.Errorf("ansible: mitogen: ansible-core version %q: %w", m.Ansible, err)
	}
	if less(v, m.Min) || less(m.Max, v) {
		return fmt.Errorf("ansible: %w: ansible-core %s is installed, but the Mitogen in %s supports %d.%d to %d.%d only: install a Mitogen that supports %d.%d, or turn Mitogen off (%s=0)",
			ErrMitogenUnsupported, m.Ansible, m.Dir, m.Min[0], m.Min[1], m.Max[0], m.Max[1], v[0], v[1], MitogenEnv)
	}
	return nil
}

func majorMinor(version string) ([2]int, error) {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, errors.New("not MAJOR.MINOR[.PATCH]")
	}
	var v [2]int
	for i := range v {
		digits := strings.TrimRightFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' })
		n, err := strconv.Atoi(digits)
		if err != nil {
			return v, errors.New("not MAJOR.MINOR[.PATCH]")
		}
		v[i] = n
	}
	return v, nil
}

func less(a, b [2]int) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }
