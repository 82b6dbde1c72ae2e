// Command embed shows baton as a library: it builds the local lab's
// pipeline from pkg/stages, adds a stage of its own — an HTTP health check
// of the configured web hosts that gives a typed report — and runs it with
// its own zerolog logger and its own event sink.
//
//	go run ./examples/embed -state /tmp/embed-lab
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// Health is the custom stage's handoff: each web host's HTTP status.
type Health map[string]int

// HealthReport is the typed handoff the health check gives.
var HealthReport = handoff.NewJSON[Health]("health_report", func(h Health) error {
	if len(h) == 0 {
		return fmt.Errorf("no web host was checked")
	}
	return nil
})

// healthCheck asks every web host for its start page after Ansible ran.
type healthCheck struct{ port int }

func (healthCheck) Name() string         { return "health" }
func (healthCheck) Needs() []handoff.Def { return []handoff.Def{handoff.Inventory} }
func (healthCheck) Gives() []handoff.Def { return []handoff.Def{HealthReport} }
func (healthCheck) After() []string      { return []string{"ansible"} }
func (h healthCheck) Run(ctx context.Context, j *pipeline.Job) error {
	inv, err := handoff.Inventory.Get(j.In)
	if err != nil {
		return err
	}
	report := Health{}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, host := range inv.Hosts() {
		if !contains(host.Groups, "web") {
			continue
		}
		url := "http://" + host.Address + ":" + strconv.Itoa(h.port) + "/"
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return pipeline.Retryable(fmt.Errorf("%s: %w", host.Name, err))
		}
		resp.Body.Close()
		report[host.Name] = resp.StatusCode
		j.Printf("%s answers %d", url, resp.StatusCode)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answers %d", url, resp.StatusCode)
		}
	}
	return HealthReport.Put(j.Out, report)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// counter is a custom event sink: it counts lines and prints a compact
// progress line per stage.
type counter struct {
	lines atomic.Int64
}

func (c *counter) Handle(e pipeline.Event) {
	switch e.Kind {
	case pipeline.LogLine:
		c.lines.Add(1)
	case pipeline.StageFinished:
		fmt.Printf("[embed] %-9s %-9s %s\n", e.Stage, e.Status, e.Duration.Round(time.Millisecond))
	case pipeline.RunFinished:
		fmt.Printf("[embed] %d lines of tool output\n", c.lines.Load())
	}
}

// Pipeline builds the lab pipeline plus the health check.
func Pipeline(repo, state string, hosts, sshPort, appPort int) (*pipeline.Pipeline, error) {
	lab := filepath.Join(state, "lab")
	registry := filepath.Join(lab, "registry")
	manifest := filepath.Join(lab, "packer-manifest.json")
	if err := os.MkdirAll(registry, 0o700); err != nil {
		return nil, err
	}
	ex := filepath.Join(repo, "examples", "local")
	return pipeline.New(
		&stages.Packer{Dir: filepath.Join(ex, "packer"), Manifest: manifest, IDKey: "template_id",
			Set: map[string]string{"registry": registry, "manifest": manifest}},
		&stages.Terraform{Dir: filepath.Join(ex, "terraform"),
			Vars:          []stages.Var{{Name: "template_id", From: handoff.TemplateID}},
			Set:           map[string]string{"lab_dir": lab, "host_count": strconv.Itoa(hosts), "ssh_port": strconv.Itoa(sshPort), "app_port": strconv.Itoa(appPort)},
			Outputs:       []stages.Output{{Name: "ansible_inventory", As: handoff.Inventory}},
			BackendConfig: []string{"path=" + filepath.Join(state, "terraform.tfstate")},
			DataDir:       filepath.Join(state, "terraform")},
		&stages.SSHWait{KnownHosts: filepath.Join(lab, "known_hosts"), KeyFile: filepath.Join(lab, "client_key")},
		&stages.Ansible{Dir: filepath.Join(ex, "ansible"), KnownHosts: filepath.Join(lab, "known_hosts"), RunAfter: []string{"wait"}},
		healthCheck{port: appPort},
	)
}

// Deploy runs the pipeline and returns the health report.
func Deploy(ctx context.Context, repo, state string, hosts, sshPort, appPort int) (Health, error) {
	p, err := Pipeline(repo, state, hosts, sshPort, appPort)
	if err != nil {
		return nil, err
	}
	store, err := handoff.OpenStore(filepath.Join(state, "handoffs"))
	if err != nil {
		return nil, err
	}
	logger := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Str("app", "embed").Logger()
	_, err = p.Run(ctx, pipeline.Options{
		RunDir: filepath.Join(state, "runs", pipeline.NewRunID()),
		Store:  store,
		Logger: &logger,
		Sinks:  []pipeline.Sink{&counter{}},
		Policies: map[string]pipeline.Policy{
			// The web service may take a moment to bind: retry the check.
			"health": {Timeout: 30 * time.Second, Retry: pipeline.RetryPolicy{Attempts: 5, Base: 200 * time.Millisecond}},
		},
	})
	if err != nil {
		return nil, err
	}
	v, err := store.Get(HealthReport)
	if err != nil {
		return nil, err
	}
	return HealthReport.Decode(v.Raw)
}

// Destroy stops the lab hosts the pipeline made.
func Destroy(ctx context.Context, repo, state string, hosts, sshPort, appPort int) error {
	p, err := Pipeline(repo, state, hosts, sshPort, appPort)
	if err != nil {
		return err
	}
	store, err := handoff.OpenStore(filepath.Join(state, "handoffs"))
	if err != nil {
		return err
	}
	_, err = p.Rollback(ctx, pipeline.Options{Store: store, Sinks: []pipeline.Sink{&counter{}}})
	return err
}

func main() {
	repo := flag.String("repo", ".", "the baton repository (for examples/local)")
	state := flag.String("state", ".baton/embed", "where the lab and the handoffs live")
	hosts := flag.Int("hosts", 2, "how many lab hosts")
	port := flag.Int("port", 2223, "the port of every lab sshd")
	appPort := flag.Int("app-port", 8081, "the port of the lab's web service")
	destroy := flag.Bool("destroy", false, "stop the lab hosts instead of deploying")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	abs, _ := filepath.Abs(*state)
	if *destroy {
		if err := Destroy(ctx, *repo, abs, *hosts, *port, *appPort); err != nil {
			fmt.Fprintln(os.Stderr, "embed:", err)
			os.Exit(1)
		}
		return
	}
	report, err := Deploy(ctx, *repo, abs, *hosts, *port, *appPort)
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	fmt.Println("health:", report)
}
