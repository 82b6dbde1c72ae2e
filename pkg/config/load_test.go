package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// repo copies testdata/repo, a repository shaped like the homelab ones
// baton is for, into a temporary directory and returns its path.
func repo(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir("testdata/repo", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/repo", path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestLoadRepo(t *testing.T) {
	dir := repo(t)
	state := t.TempDir()
	p, err := Load(filepath.Join(dir, FileName), Options{StateRoot: state, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if p.Env != "default" || p.State != filepath.Join(state, ".baton", "default") {
		t.Errorf("env %q state %q, want default under %s", p.Env, p.State, state)
	}
	var got []string
	for _, s := range p.Stages {
		got = append(got, s.Address())
	}
	want := []string{"packer.image", "terraform.infra", "ansible.configure", "terraform.apps", "command.smoke"}
	if !slices.Equal(got, want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
	img, infra, conf, apps, smoke := p.Stages[0], p.Stages[1], p.Stages[2], p.Stages[3], p.Stages[4]
	if img.Dir != filepath.Join(dir, "packer") || img.Template != "ubuntu-server-minimal.pkr.hcl" || img.VarFiles[0] != "variables.pkrvars.hcl" || img.Vars["vm_id"].Text != "8025" {
		t.Errorf("packer stage = %+v", img)
	}
	if v := infra.Vars["vm_clone_vm_id"]; v.Ref != "packer.image.artifact_id" || infra.Lint != "auto" || len(infra.BackendConfig) != 0 {
		t.Errorf("terraform stage = %+v", infra)
	}
	if conf.Dir != filepath.Join(dir, "ansible_collections", "acme", "jump") || conf.Inventory.Ref != "terraform.infra.ansible_inventory" || conf.Wait.HostKeys != "accept-new" || conf.Wait.Timeout.String() != "2m0s" {
		t.Errorf("ansible stage = %+v", conf)
	}
	if !slices.Equal(apps.After, []string{"ansible.configure"}) || smoke.Env["MODE"].Text != "quick" || smoke.Env["HOST"].Ref != "terraform.infra.vm_ip" {
		t.Errorf("apps %+v, smoke %+v", apps, smoke)
	}

	// Typed handoffs: the artifact is a template ID, the inventory an
	// inventory, any other output any value.
	defs := p.Defs()
	if _, err := defs["packer.image.artifact_id"].ParseText("abc"); err == nil {
		t.Error("the artifact handoff took a word for a template ID")
	}
	if _, ok := defs["terraform.infra.ansible_inventory"].(handoff.Key[*handoff.AnsibleInventory]); !ok {
		t.Errorf("inventory handoff is %T", defs["terraform.infra.ansible_inventory"])
	}
	if raw, err := defs["terraform.infra.vm_ip"].ParseText("10.0.0.5"); err != nil || string(raw) != `"10.0.0.5"` {
		t.Errorf("vm_ip from text: %s, %v", raw, err)
	}

	pl, err := p.Build(stages.Exec{})
	if err != nil {
		t.Fatal(err)
	}
	graph := pl.Mermaid()
	for _, edge := range []string{
		"packer_image -->|packer.image.artifact_id| terraform_infra",
		"terraform_infra -->|terraform.infra.ansible_inventory, terraform.infra.-replaced| ansible_configure_wait",
		"ansible_configure_wait -.->|after| ansible_configure",
		"ansible_configure -.->|after| terraform_apps",
		"terraform_infra -->|terraform.infra.ansible_inventory| terraform_apps",
		"terraform_infra -->|terraform.infra.vm_ip| command_smoke",
		"terraform_apps -.->|after| command_smoke",
	} {
		if !strings.Contains(graph, edge) {
			t.Errorf("graph lacks %q:\n%s", edge, graph)
		}
	}
}

func TestEnvironmentAndFunctions(t *testing.T) {
	dir := repo(t)
	src := `default_environment = "lab"
wrapper = ["doppler", "run", "--"]
terraform "infra" {
  dir  = "terraform"
  vars = { vm_clone_vm_id = env("VMID", "8030"), vm_name = "${baton.env}-${env("SITE")}" }
  backend_config = { path = "${baton.state}/tf.tfstate" }
  wrapper = []
  timeout = "10m"
  attempts = 3
}
`
	env := map[string]string{"SITE": "fra"}
	p, err := Parse(filepath.Join(dir, FileName), []byte(src), Options{StateRoot: dir, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Stages[0]
	if p.Env != "lab" || s.Vars["vm_clone_vm_id"].Text != "8030" || s.Vars["vm_name"].Text != "lab-fra" {
		t.Errorf("env %q vars %+v", p.Env, s.Vars)
	}
	if s.BackendConfig["path"] != filepath.Join(dir, ".baton", "lab", "tf.tfstate") {
		t.Errorf("backend_config = %v", s.BackendConfig)
	}
	if w := p.Wrappers([]string{"op", "run", "--"}); len(w) != 0 {
		t.Errorf("wrappers %q: the stage sets none", w)
	}
	if pol := p.Policies()["terraform.infra"]; pol.Timeout.Minutes() != 10 || pol.Retry.Attempts != 3 {
		t.Errorf("policy = %+v", pol)
	}
	// BATON_ENV wins over default_environment.
	p, err = Parse(filepath.Join(dir, FileName), []byte(src), Options{Env: "staging", Getenv: func(k string) string { return env[k] }})
	if err != nil || p.Env != "staging" || p.Stages[0].Vars["vm_name"].Text != "staging-fra" {
		t.Errorf("with Env staging: %v, %+v", err, p)
	}
	// env() without a default fails when the variable is unset.
	delete(env, "SITE")
	_, err = Parse(filepath.Join(dir, FileName), []byte(src), Options{Getenv: func(k string) string { return env[k] }})
	if err == nil || !strings.Contains(err.Error(), "baton.hcl:5:") || !strings.Contains(err.Error(), "SITE is not set") {
		t.Errorf("unset SITE: %v", err)
	}
}

// TestInventoryPathWaitsForItsWriter: an inventory read by path is no
// handoff, so the wait for SSH, which reads it first, must follow the
// stages in after as the playbook does, not start beside them.
func TestInventoryPathWaitsForItsWriter(t *testing.T) {
	dir := repo(t)
	src := `terraform "infra" {
  dir  = "terraform"
  vars = { vm_clone_vm_id = 8025 }
}
ansible "configure" {
  dir       = "ansible_collections/acme/jump"
  playbook  = "playbooks/site.yml"
  inventory = "inventory/hosts.ini"
  after     = [terraform.infra]
}
`
	graph := build(t, dir, src).Mermaid()
	for _, edge := range []string{
		"terraform_infra -.->|after| ansible_configure_wait",
		"ansible_configure_wait -.->|after| ansible_configure",
	} {
		if !strings.Contains(graph, edge) {
			t.Errorf("graph lacks %q:\n%s", edge, graph)
		}
	}
}

// TestBadFiles: each bad pipeline file is refused whole, before any tool
// starts, with the line and what is allowed.
func TestBadFiles(t *testing.T) {
	dir := repo(t)
	good, _ := os.ReadFile(filepath.Join(dir, FileName))
	replace := func(old, new string) string {
		if !strings.Contains(string(good), old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	envs := func(old, new string) string {
		if !strings.Contains(fixtureEnvs, old) {
			t.Fatalf("environments fixture lacks %q", old)
		}
		return string(good) + strings.Replace(fixtureEnvs, old, new, 1)
	}
	for _, tt := range []struct {
		name, src string
		line      string
		want      []string
	}{
		{"syntax", "packer \"x\" {\n  dir = \n}\n", "baton.hcl:2:", []string{"expression"}},
		{"unknown block", "widget \"x\" {}\n", "baton.hcl:1:", []string{`"widget"`, `packer "<name>"`}},
		{"unknown attribute", replace(`  lint      = "auto"`, `  lint      = "auto"
  colour    = "red"`), "baton.hcl:13:", []string{`"colour"`, "allowed here:", "backend_config"}},
		{"no label", "packer {}\n", "baton.hcl:1:", []string{"label"}},
		{"bad name", "packer \"Image\" {}\n", "baton.hcl:1:", []string{"lowercase"}},
		{"twice", replace(`terraform "apps" {`, `terraform "infra" {`), "baton.hcl:25:", []string{"terraform.infra is declared twice", "line 8"}},
		{"unknown stage", replace(`packer.image.artifact_id`, `packer.imag.artifact_id`), "baton.hcl:11:", []string{"no stage packer.imag", "packer.image"}},
		{"unknown output", replace(`inventory = terraform.infra.ansible_inventory`, `inventory = terraform.infra.inventory`), "baton.hcl:18:", []string{`no output "inventory"`, "ansible_inventory, vm_ip"}},
		{"packer output", replace(`packer.image.artifact_id`, `packer.image.id`), "baton.hcl:11:", []string{"artifact_id only"}},
		{"ansible output", replace(`HOST = terraform.infra.vm_ip`, `HOST = ansible.configure.host`), "baton.hcl:33:", []string{"gives no outputs", "after = [ansible.configure]"}},
		{"command output", replace(`outputs = ["status"]`, `outputs = []`) + "\nterraform \"x\" {\n  dir = \"apps\"\n  vars = { hosts = command.smoke.status }\n}\n", "baton.hcl:40:", []string{`no output "status"`}},
		{"image as inventory", replace(`inventory = terraform.infra.ansible_inventory`, `inventory = packer.image.artifact_id`), "baton.hcl:18:", []string{"not an inventory"}},
		{"in an expression", replace(`{ vm_clone_vm_id = packer.image.artifact_id }`, `{ vm_clone_vm_id = "${packer.image.artifact_id}0" }`), "baton.hcl:11:", []string{"only be used alone"}},
		{"ref where fixed", replace(`playbook  = "playbooks/site.yml"`, `playbook  = terraform.infra.vm_ip`), "baton.hcl:17:", []string{"cannot be used here"}},
		{"undeclared terraform var", replace(`{ vm_clone_vm_id = packer.image.artifact_id }`, `{ template_id = packer.image.artifact_id }`), "baton.hcl:11:", []string{`"template_id"`, "does not declare", "vm_clone_vm_id, vm_name"}},
		{"undeclared packer var", replace(`vars      = { vm_id = 8025 }`, `vars      = { docker_version = "27" }`), "baton.hcl:5:", []string{`"docker_version"`, "ubuntu-server-minimal.pkr.hcl", "node, vm_id"}},
		{"missing dir", replace(`dir       = "terraform"`, `dir       = "tf"`), "baton.hcl:9:", []string{"tf is not a directory"}},
		{"missing template", replace(`ubuntu-server-minimal.pkr.hcl`, `ubuntu.pkr.hcl`), "baton.hcl:3:", []string{"template packer/ubuntu.pkr.hcl does not exist"}},
		{"missing var file", replace(`["production.tfvars"]`, `["staging.tfvars"]`), "baton.hcl:10:", []string{"var file terraform/staging.tfvars does not exist"}},
		{"missing playbook", replace(`playbooks/site.yml`, `site.yml`), "baton.hcl:17:", []string{"playbook ansible_collections/acme/jump/site.yml does not exist"}},
		{"missing inventory file", replace(`inventory = terraform.infra.ansible_inventory`, `inventory = "hosts.ini"`), "baton.hcl:18:", []string{"hosts.ini does not exist", "after = [that stage]"}},
		{"cycle", replace(`  lint      = "auto"`, `  lint      = "auto"
  after     = [command.smoke]`), "baton.hcl:8:", []string{"a cycle: terraform.infra → command.smoke → terraform.apps → ansible.configure → terraform.infra"}},
		{"after a non-stage", replace(`after = [ansible.configure]`, `after = ["ansible.configure"]`), "baton.hcl:28:", []string{"no quotes"}},
		{"after unknown", replace(`after = [ansible.configure]`, `after = [ansible.config]`), "baton.hcl:28:", []string{"no stage ansible.config"}},
		{"self", replace(`after = [ansible.configure]`, `after = [terraform.apps]`), "baton.hcl:28:", []string{"refers to itself"}},
		{"lint value", replace(`lint      = "auto"`, `lint      = "always"`), "baton.hcl:12:", []string{`want one of ["off" "auto" "required"]`}},
		{"host keys value", replace(`host_keys = "accept-new"`, `host_keys = "yes"`), "baton.hcl:20:", []string{"accept-new"}},
		{"timeout value", replace(`timeout   = "2m"`, `timeout   = "soon"`), "baton.hcl:21:", []string{`"90s"`}},
		{"wait attribute", replace(`timeout   = "2m"`, `retries = 3`), "baton.hcl:21:", []string{`"retries"`, "host_keys"}},
		{"vars not a map", replace(`vars      = { vm_id = 8025 }`, `vars      = ["vm_id"]`), "baton.hcl:5:", []string{"must be a map"}},
		{"var_files not a list", replace(`var_files = ["variables.pkrvars.hcl"]`, `var_files = "variables.pkrvars.hcl"`), "baton.hcl:4:", []string{"list of strings"}},
		{"no argv", replace(`argv    = ["sh", "-c", "echo '{\"status\": \"ok\"}'"]`, ``), "baton.hcl:31:", []string{"needs argv"}},
		{"bad environment", "default_environment = \"Prod\"\n" + string(good), "baton.hcl:1:", []string{`"Prod" is not valid`}},
		{"empty", "", "baton.hcl:", []string{"no stages"}},
		{"unknown function", replace(`vars      = { vm_id = 8025 }`, `vars      = { vm_id = file("x") }`), "baton.hcl:5:", []string{"file"}},
		{"unknown variable", replace(`vars      = { vm_id = 8025 }`, `vars      = { vm_id = var.id }`), "baton.hcl:5:", []string{`"var"`}},
		{"env unknown stage", envs("terraform \"infra\" {\n    var_files", "terraform \"infr\" {\n    var_files"), "baton.hcl:44:", []string{`environment "production": terraform "infr" is not a stage`, "terraform.infra"}},
		{"env unknown attribute", envs(`var_files = ["small.tfvars"]`, `lint = "required"`), "baton.hcl:45:", []string{`"lint"`, "allowed here: var_files, vars"}},
		{"env top attribute", envs(`requires = ["staging"]`, `approve = true`), "baton.hcl:43:", []string{`"approve"`, "allowed here: requires"}},
		{"env unknown required", envs(`requires = ["staging"]`, `requires = ["stage"]`), "baton.hcl:43:", []string{`requires "stage"`, "environments: production, staging"}},
		{"env requires itself", envs(`requires = ["staging"]`, `requires = ["production"]`), "baton.hcl:43:", []string{"requires itself"}},
		{"env requires cycle", envs("environment \"staging\" {\n", "environment \"staging\" {\n  requires = [\"production\"]\n"), "baton.hcl:38:", []string{"a cycle of requires: staging → production → staging"}},
		{"env var file missing", envs(`small.tfvars`, `big.tfvars`), "baton.hcl:45:", []string{`environment "production": terraform.infra: var file terraform/big.tfvars does not exist`}},
		{"env undeclared var", envs(`{ node = "pve2" }`, `{ nodes = "pve2" }`), "baton.hcl:49:", []string{`"nodes"`, "does not declare", "node, vm_id"}},
		{"env handoff", envs(`{ MODE = "full" }`, `{ MODE = terraform.infra.vm_ip }`), "baton.hcl:53:", []string{"fixed values only", "command.smoke's own block"}},
		{"env twice", envs(`environment "production" {`, `environment "staging" {`), "baton.hcl:42:", []string{`environment "staging" is declared twice`, "line 37"}},
		{"env stage twice", envs("  packer \"image\" {", "  terraform \"infra\" {"), "baton.hcl:48:", []string{"terraform.infra is set twice", "line 44"}},
		{"env bad name", envs(`environment "production" {`, `environment "Prod" {`), "baton.hcl:42:", []string{`"Prod" is not valid`}},
		{"default env undeclared", "default_environment = \"local\"\n" + envs("", ""), "baton.hcl:1:", []string{`no environment "local"`, "production, staging"}},
		{"indexed ref", replace(`HOST = terraform.infra.vm_ip`, `HOST = terraform.infra.vm_ip[0]`), "baton.hcl:33:", []string{"without indexes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(dir, FileName), []byte(tt.src), Options{Getenv: func(string) string { return "" }})
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v (%T), want Problems", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.line) {
				t.Errorf("err = %v\nwant it at %s", msg, tt.line)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("err = %v\nwant %q in it", msg, w)
				}
			}
		})
	}
}

// TestAllProblemsAtOnce: one run of Load reports every problem, in the
// order of the file.
func TestAllProblemsAtOnce(t *testing.T) {
	dir := repo(t)
	src := "packer \"image\" {\n  dir = \"nope\"\n}\nterraform \"infra\" {\n  dir = \"terraform\"\n  vars = { x = 1 }\n}\nwidget \"w\" {}\n"
	_, err := Parse(filepath.Join(dir, FileName), []byte(src), Options{})
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("err = %v, want 3 problems", err)
	}
	if ps[0].Line != 2 || ps[1].Line != 6 || ps[2].Line != 8 {
		t.Errorf("lines %d %d %d, want 2 6 8", ps[0].Line, ps[1].Line, ps[2].Line)
	}
}

func TestFind(t *testing.T) {
	dir := repo(t)
	for _, spec := range []string{"", dir, filepath.Join(dir, FileName)} {
		if got, err := Find(dir, spec); err != nil || got != filepath.Join(dir, FileName) {
			t.Errorf("Find(%q) = %q, %v", spec, got, err)
		}
	}
	if _, err := Find(t.TempDir(), ""); !IsNotFound(err) {
		t.Errorf("Find in an empty directory: %v, want not found", err)
	}
}

func TestLoadRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir, Options{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	big := filepath.Join(dir, FileName)
	os.WriteFile(big, make([]byte, maxFile+1), 0o644)
	if _, err := Load(big, Options{}); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a 1 MiB file: %v", err)
	}
}

// FuzzParse: no pipeline file makes Parse panic, and every refusal is a
// Problems whose every entry has a message.
func FuzzParse(f *testing.F) {
	good, err := os.ReadFile("testdata/repo/baton.hcl")
	if err != nil {
		f.Fatal(err)
	}
	lab, _ := os.ReadFile("../../examples/local/baton.hcl")
	for _, s := range []string{string(good), string(lab), "", "packer \"x\" {}", "terraform \"a\" { after = [terraform.a] }", "command \"c\" { env = { A = command.c.x } outputs = [\"x\"] argv = [\"true\"] }", "x = ${", "ansible \"a\" { wait_ssh { wait_ssh {} } }"} {
		f.Add(s)
	}
	dir, _ := filepath.Abs("testdata/repo")
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(filepath.Join(dir, FileName), []byte(src), Options{Getenv: func(string) string { return "" }, StateRoot: t.TempDir()})
		if err != nil {
			var ps Problems
			if errors.As(err, &ps) {
				for _, pr := range ps {
					if pr.Msg == "" {
						t.Fatalf("a problem without a message in %v", err)
					}
				}
			}
			return
		}
		if _, err := p.Build(stages.Exec{}); err != nil && !strings.Contains(err.Error(), "stage") && !strings.Contains(err.Error(), "handoff") {
			t.Fatalf("Build of a checked file: %v", err)
		}
	})
}

func BenchmarkLoad(b *testing.B) {
	dir := repo(b)
	path := filepath.Join(dir, FileName)
	for b.Loop() {
		if _, err := Load(path, Options{StateRoot: dir}); err != nil {
			b.Fatal(err)
		}
	}
}

// build parses src as the pipeline file of the repository at dir, with no
// environment variables, and builds its stages.
func build(t *testing.T, dir, src string) *pipeline.Pipeline {
	t.Helper()
	p, err := Parse(filepath.Join(dir, FileName), []byte(src), Options{StateRoot: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := p.Build(stages.Exec{})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}
