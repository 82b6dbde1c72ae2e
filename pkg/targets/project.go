package targets

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/stages"
)

// Project is a pipeline file and where its environment's state lives,
// chosen by the environment:
//
//	BATON_PIPELINE  the pipeline file: a baton.hcl, a directory holding one,
//	                or local / proxmox for baton's own examples (default:
//	                ./baton.hcl, or in baton's checkout the local lab)
//	BATON_ENV       the environment (default: the file's
//	                default_environment, else "default")
//	BATON_ROOT      where .baton/ lives (default: the working directory)
//	BATON_FORCE=1   run every stage, even those whose inputs are unchanged
//	BATON_WRAPPER   a command every tool runs under, e.g. doppler run --
//	BATON_ANSIBLE_MITOGEN=1  Ansible with Mitogen's strategy (ansible-mitogen)
//	BATON_SECRETS   variables whose values are masked in every output
//	BATON_NOTIFY_*  where to report deploys (see pkg/notify)
type Project struct {
	// Root holds .baton/; File is the pipeline file.
	Root string
	File string
	// Env is the environment; State is .baton/<env> under Root: handoffs,
	// runs, the ledger, caches.
	Env   string
	State string
	// Config is the checked pipeline file.
	Config *config.Pipeline
}

// LoadProject finds the pipeline file, reads it and checks it.
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
	file, err := findPipeline(root, os.Getenv("BATON_PIPELINE"))
	if err != nil {
		return nil, err
	}
	env := os.Getenv("BATON_ENV")
	if env != "" {
		if err := config.ValidEnv(env); err != nil {
			return nil, fmt.Errorf("BATON_ENV: %w", err)
		}
	}
	return loadProject(root, file, env)
}

func loadProject(root, file, env string) (*Project, error) {
	cfg, err := config.Load(file, config.Options{Env: env, StateRoot: root})
	if err != nil {
		return nil, err
	}
	// BATON_ANSIBLE_MITOGEN=1 runs every Ansible stage with Mitogen.
	mitogen, err := stages.MitogenFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Stages {
		if s.Kind == config.Ansible && mitogen {
			s.Mitogen = true
		}
	}
	return &Project{Root: root, File: file, Env: cfg.Env, State: cfg.State, Config: cfg}, nil
}

// findPipeline finds the pipeline file BATON_PIPELINE names, or the one at
// root; baton's own checkout, which has none at its root, runs the lab.
func findPipeline(root, spec string) (string, error) {
	switch spec {
	case "local", "proxmox":
		path := filepath.Join(root, "examples", spec, config.FileName)
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("BATON_PIPELINE=%s names baton's example %s, which is not here: run from the root of baton's checkout, or set BATON_PIPELINE to your baton.hcl", spec, path)
		}
		return path, nil
	case "":
		if path, err := config.Find(root, ""); err == nil {
			return path, nil
		}
		if lab := filepath.Join(root, "examples", "local", config.FileName); fileExists(lab) {
			return lab, nil
		}
		return "", fmt.Errorf("no %s in %s: write one that describes your repository (README: \"Your own repository\"), or set BATON_PIPELINE to its path", config.FileName, root)
	}
	path, err := config.Find(root, spec)
	if err != nil {
		return "", fmt.Errorf("BATON_PIPELINE=%s: %w", spec, err)
	}
	return path, nil
}

// forEnv is p for another environment of the same pipeline file.
func (p *Project) forEnv(env string) (*Project, error) {
	if env == p.Env {
		return p, nil
	}
	return loadProject(p.Root, p.File, env)
}

// reload reads the pipeline file again, as it is now (after a webhook's
// update command pulled a new commit, say).
func (p *Project) reload() error {
	q, err := loadProject(p.Root, p.File, p.Env)
	if err != nil {
		return err
	}
	p.Config = q.Config
	return nil
}

// Store opens the environment's handoff store.
func (p *Project) Store() (*handoff.Store, error) {
	return handoff.OpenStore(filepath.Join(p.State, "handoffs"))
}

// RunDir is where a run keeps its log, its tools' output and its summary.
func (p *Project) RunDir(runID string) string { return filepath.Join(p.State, "runs", runID) }
