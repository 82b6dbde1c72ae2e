// Command homelab runs the other seed's shape on the local lab, with more
// than three stages: Packer → Terraform (infrastructure) → wait → Ansible
// (configuration) → Terraform (application stacks). The same Terraform
// stage type runs twice, with different directories and handoffs.
//
//	go run ./examples/homelab            # deploy
//	go run ./examples/homelab -destroy   # stacks first, then the hosts
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// AppURLs is what the apps stage gives: each stack's URL by host.
var AppURLs = handoff.NewJSON[map[string]string]("app_urls", nil)

// Lab says where the homelab lives and on which ports.
type Lab struct {
	Repo, State         string
	Hosts               int
	SSHPort, AppPort    int
	Stack, StackVersion string
}

// Pipeline builds the five stages.
func (l Lab) Pipeline() (*pipeline.Pipeline, error) {
	lab := filepath.Join(l.State, "lab")
	registry := filepath.Join(lab, "registry")
	manifest := filepath.Join(lab, "packer-manifest.json")
	if err := os.MkdirAll(registry, 0o700); err != nil {
		return nil, err
	}
	local := filepath.Join(l.Repo, "examples", "local")
	known := filepath.Join(lab, "known_hosts")
	return pipeline.New(
		&stages.Packer{StageName: "image", Dir: filepath.Join(local, "packer"), Manifest: manifest, IDKey: "template_id",
			Vars: map[string]string{"registry": registry, "manifest": manifest}},
		&stages.Terraform{StageName: "infra", Dir: filepath.Join(local, "terraform"),
			Vars: []stages.Var{{Name: "template_id", From: handoff.TemplateID}},
			Set: map[string]string{"lab_dir": lab, "host_count": strconv.Itoa(l.Hosts),
				"ssh_port": strconv.Itoa(l.SSHPort), "app_port": strconv.Itoa(l.AppPort)},
			Outputs:       []stages.Output{{Name: "ansible_inventory", As: handoff.Inventory}},
			BackendConfig: []string{"path=" + filepath.Join(l.State, "infra.tfstate")},
			DataDir:       filepath.Join(l.State, "infra")},
		&stages.WaitSSH{KnownHosts: known, KeyFile: filepath.Join(lab, "client_key")},
		&stages.Ansible{StageName: "configure", Dir: filepath.Join(local, "ansible"), KnownHosts: known, RunAfter: []string{"wait"}},
		&stages.Terraform{StageName: "apps", Dir: filepath.Join(l.Repo, "examples", "homelab", "apps"),
			Vars:          []stages.Var{{Name: "inventory", From: handoff.Inventory}},
			Set:           map[string]string{"stack": l.Stack, "stack_version": l.StackVersion},
			Outputs:       []stages.Output{{Name: "app_urls", As: AppURLs}},
			BackendConfig: []string{"path=" + filepath.Join(l.State, "apps.tfstate")},
			DataDir:       filepath.Join(l.State, "apps"),
			RunAfter:      []string{"configure"}},
	)
}

func (l Lab) options() (pipeline.Options, error) {
	store, err := handoff.OpenStore(filepath.Join(l.State, "handoffs"))
	if err != nil {
		return pipeline.Options{}, err
	}
	return pipeline.Options{
		RunDir: filepath.Join(l.State, "runs", pipeline.NewRunID()),
		Store:  store,
		Sinks:  []pipeline.Sink{pipeline.NewConsole(os.Stdout, pipeline.ConsoleOptions{})},
	}, nil
}

// Deploy runs every stage and returns the stacks' URLs.
func (l Lab) Deploy(ctx context.Context) (map[string]string, error) {
	p, err := l.Pipeline()
	if err != nil {
		return nil, err
	}
	opts, err := l.options()
	if err != nil {
		return nil, err
	}
	if _, err := p.Run(ctx, opts); err != nil {
		return nil, err
	}
	v, err := opts.Store.Get(AppURLs)
	if err != nil {
		return nil, err
	}
	return AppURLs.Decode(v.Raw)
}

// Destroy undoes in reverse order: the stacks, then the hosts.
func (l Lab) Destroy(ctx context.Context) error {
	p, err := l.Pipeline()
	if err != nil {
		return err
	}
	opts, err := l.options()
	if err != nil {
		return err
	}
	_, err = p.Rollback(ctx, opts)
	return err
}

func main() {
	l := Lab{Repo: "."}
	flag.StringVar(&l.State, "state", ".baton/homelab", "where the lab, states and handoffs live")
	flag.IntVar(&l.Hosts, "hosts", 3, "how many lab hosts")
	flag.IntVar(&l.SSHPort, "port", 2224, "the port of every lab sshd")
	flag.IntVar(&l.AppPort, "app-port", 8082, "the port of the hosts' web service")
	flag.StringVar(&l.Stack, "stack", "whoami", "the application stack to deploy")
	flag.StringVar(&l.StackVersion, "stack-version", "1", "its version")
	destroy := flag.Bool("destroy", false, "remove the stacks, then the hosts")
	flag.Parse()
	l.State, _ = filepath.Abs(l.State)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *destroy {
		if err := l.Destroy(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "homelab:", err)
			os.Exit(1)
		}
		return
	}
	urls, err := l.Deploy(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "homelab:", err)
		os.Exit(1)
	}
	for host, url := range urls {
		fmt.Printf("%s: %s\n", host, url)
	}
}
