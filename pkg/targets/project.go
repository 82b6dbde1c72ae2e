package targets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// Project is where a pipeline's sources and state live, chosen by the
// environment:
//
//	BATON_PIPELINE  local (default): the lab in examples/local;
//	                proxmox: examples/proxmox;
//	                or a directory holding packer/, terraform/, ansible/
//	BATON_ENV       the environment's name, for state and locks (default:
//	                the pipeline's name)
//	BATON_ROOT      the project root (default: the working directory)
//	BATON_HOSTS     how many lab hosts (default 3)
//	BATON_LAB_PORT  the port of every lab sshd (default 2222)
//	BATON_APP_PORT  the port of the lab's web service (default 8080)
//	BATON_FORCE=1   run every stage, even those whose inputs are unchanged
//	BATON_WRAPPER   a command every tool runs under, e.g. doppler run --
//	BATON_SECRETS   variables whose values are masked in every output
//	BATON_NOTIFY_*  where to report deploys (see pkg/notify)
type Project struct {
	Root   string
	Layout string // "local", "proxmox" or a directory (BATON_PIPELINE)
	Env    string
	// State is .baton/<env> under Root: handoffs, runs, lab files.
	State   string
	Hosts   int
	Port    int
	AppPort int
	// AnsibleRoot, when set, is a checkout of another commit whose
	// playbooks run instead of the working tree's (rollback to a release).
	AnsibleRoot string
}

// LoadProject reads the project's settings from the environment.
func LoadProject() (*Project, error) {
	root := os.Getenv("BATON_ROOT")
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		root = wd
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	p := &Project{Root: root, Layout: os.Getenv("BATON_PIPELINE"), Hosts: 3}
	if p.Layout == "" {
		p.Layout = "local"
	}
	p.Env = os.Getenv("BATON_ENV")
	if p.Env == "" {
		p.Env = filepath.Base(p.Layout)
	}
	if err := handoff.ValidName(p.Env); err != nil {
		return nil, fmt.Errorf("BATON_ENV=%q: %w", p.Env, err)
	}
	if s := os.Getenv("BATON_HOSTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return nil, fmt.Errorf("BATON_HOSTS=%q: want a number of lab hosts from 1 to 200", s)
		}
		p.Hosts = n
	}
	p.Port = 2222
	if s := os.Getenv("BATON_LAB_PORT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("BATON_LAB_PORT=%q: want a port from 1 to 65535", s)
		}
		p.Port = n
	}
	p.AppPort = 8080
	if s := os.Getenv("BATON_APP_PORT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("BATON_APP_PORT=%q: want a port from 1 to 65535", s)
		}
		p.AppPort = n
	}
	p.State = filepath.Join(root, ".baton", p.Env)
	switch p.Layout {
	case "local", "proxmox":
		dir := filepath.Join(root, "examples", p.Layout)
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("pipeline %q: %s is missing: run baton's targets from the root of the baton repository, or set BATON_PIPELINE to a directory with packer/, terraform/ and ansible/", p.Layout, dir)
		}
	default:
		if err := checkLayout(p.Layout); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkLayout checks that a user's directory has the three stages' parts.
func checkLayout(dir string) error {
	var missing []string
	for _, sub := range []string{"packer", "terraform", "ansible"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			missing = append(missing, sub+"/")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("BATON_PIPELINE=%s: %s has no %s: it must hold packer/, terraform/ and ansible/ (or use local or proxmox)", dir, dir, strings.Join(missing, ", "))
	}
	return nil
}

// Lab is the directory of the local lab's images, keys and hosts.
func (p *Project) Lab() string { return filepath.Join(p.State, "lab") }

// Store opens the environment's handoff store.
func (p *Project) Store() (*handoff.Store, error) {
	return handoff.OpenStore(filepath.Join(p.State, "handoffs"))
}

// RunDir is where a run keeps its log, its tools' output and its summary.
func (p *Project) RunDir(runID string) string { return filepath.Join(p.State, "runs", runID) }

var errUsage = errors.New("usage")
