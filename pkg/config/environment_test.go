package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/stages"
)

// fixtureEnvs is appended to testdata/repo/baton.hcl (36 lines): its
// first line is line 37.
const fixtureEnvs = `environment "staging" {
  terraform "infra" {
    vars = { vm_name = "jump-${baton.env}" }
  }
}
environment "production" {
  requires = ["staging"]
  terraform "infra" {
    var_files = ["small.tfvars"]
    vars      = { vm_name = env("PROD_NAME") }
  }
  packer "image" {
    vars   = { node = "pve2" }
    exists = ["test", "-d", "/"]
  }
  command "smoke" {
    env = { MODE = "full" }
  }
}
`

func TestEnvironments(t *testing.T) {
	dir := repo(t)
	good, _ := os.ReadFile(filepath.Join(dir, FileName))
	src := []byte(string(good) + fixtureEnvs)
	path := filepath.Join(dir, FileName)
	env := map[string]string{"PROD_NAME": "jump-p"}
	getenv := func(k string) string { return env[k] }

	p, err := Parse(path, src, Options{Env: "production", StateRoot: dir, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	img, infra, smoke := p.Stages[0], p.Stages[1], p.Stages[4]
	if got, want := infra.VarFiles, []string{"production.tfvars", "small.tfvars"}; !slices.Equal(got, want) {
		t.Errorf("production var files %q, want %q: the environment's after the stage's own", got, want)
	}
	if infra.Vars["vm_name"].Text != "jump-p" || infra.Vars["vm_clone_vm_id"].Ref != "packer.image.artifact_id" {
		t.Errorf("production vars %+v, want vm_name from PROD_NAME and the handoff kept", infra.Vars)
	}
	if !slices.Equal(img.Exists, []string{"test", "-d", "/"}) {
		t.Errorf("packer exists %q, want production's", img.Exists)
	}
	if img.Vars["node"].Text != "pve2" || img.Vars["vm_id"].Text != "8025" || smoke.Env["MODE"].Text != "full" || smoke.Env["HOST"].Ref == "" {
		t.Errorf("packer vars %+v, command env %+v", img.Vars, smoke.Env)
	}
	if e := p.Environment("production"); e == nil || !slices.Equal(e.Requires, []string{"staging"}) {
		t.Errorf("production = %+v, want requires staging", e)
	}
	if got := p.EnvNames(); !slices.Equal(got, []string{"staging", "production"}) {
		t.Errorf("environments %v, want them in the file's order", got)
	}
	if _, err := p.Build(stages.Exec{}); err != nil {
		t.Errorf("build with production's overrides: %v", err)
	}

	// Staging: its own block only; production's env() is not evaluated,
	// so PROD_NAME need not be set.
	delete(env, "PROD_NAME")
	p, err = Parse(path, src, Options{Env: "staging", StateRoot: dir, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if infra := p.Stages[1]; infra.Vars["vm_name"].Text != "jump-staging" || !slices.Equal(infra.VarFiles, []string{"production.tfvars"}) {
		t.Errorf("staging vars %+v var files %q", infra.Vars, infra.VarFiles)
	}
	if p.Stages[0].Vars["node"].Text != "" || p.Environment("staging").Requires != nil {
		t.Errorf("staging took production's settings: %+v", p.Stages[0].Vars)
	}

	// An environment the file does not declare is refused with the list.
	for _, tt := range []struct{ env, want string }{
		{"qa", `BATON_ENV to one of them`},
		{"", `default_environment`},
	} {
		_, err := Parse(path, src, Options{Env: tt.env, StateRoot: dir, Getenv: getenv})
		if err == nil || !strings.Contains(err.Error(), "environments: staging, production") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %q: %v, want the environments listed and %q", tt.env, err, tt.want)
		}
	}
	// default_environment names one of them.
	p, err = Parse(path, []byte("default_environment = \"staging\"\n"+string(src)), Options{StateRoot: dir, Getenv: getenv})
	if err != nil || p.Env != "staging" {
		t.Errorf("default_environment staging: %v, %+v", err, p)
	}
}
