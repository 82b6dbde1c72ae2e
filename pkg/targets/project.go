package targets

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/baton-deploy/baton/pkg/config"
	"github.com/baton-deploy/baton/pkg/deploy"
)

// Project is a pipeline file and where its environment's state lives
// (see pkg/deploy), chosen by the environment:
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
//	BATON_LEDGER    a postgres:// URL: the shared run history (default:
//	                the embedded one in .baton/<env>/ledger)
//	BATON_TRIGGER   who started a run, for its record (default: cli)
//	BATON_NOTIFY_*  where to report deploys (see pkg/notify)
type Project = deploy.Project

// LoadProject finds the pipeline file, reads it and checks it. Its
// console is what the targets print to.
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
	return deploy.Open(deploy.Options{Root: root, File: file, Env: env, Stdout: console{}})
}

// console writes to where the targets print now (SetOutput may change it).
type console struct{}

func (console) Write(p []byte) (int, error) { return stdout.Write(p) }

var _ io.Writer = console{}

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
