//go:build baton_tf_v2

package stages

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestTerraformEnvironment(t *testing.T) {
	t.Setenv("TF_VAR_region", "from-env")
	t.Setenv("TF_LOG", "trace")
	t.Setenv("TF_INPUT", "1")
	t.Setenv("TF_DATA_DIR", "")
	os.Unsetenv("TF_DATA_DIR")
	dir := t.TempDir()
	tests := []struct {
		name        string
		s           Terraform
		env         map[string]string // want in the environment; "" = absent
		carried     map[string]string
		wantDataDir string
	}{
		{"defaults", Terraform{Dir: dir},
			map[string]string{"TF_VAR_region": "", "TF_LOG": "", "TF_INPUT": "", "TF_DATA_DIR": ""},
			map[string]string{"TF_VAR_region": "from-env"}, filepath.Join(dir, ".terraform")},
		{"exec env and directories", Terraform{Dir: dir, DataDir: "/abs/data", PluginCacheDir: filepath.Join(dir, "cache"),
			Exec: Exec{Env: []string{"TF_VAR_region=from-exec", "TF_CLI_ARGS_plan=-compact-warnings", "TF_WORKSPACE=blue", "DOPPLER=1", "TF_REATTACH_PROVIDERS={}"}}},
			map[string]string{"TF_DATA_DIR": "/abs/data", "TF_PLUGIN_CACHE_DIR": filepath.Join(dir, "cache"), "DOPPLER": "1", "TF_WORKSPACE": "", "TF_REATTACH_PROVIDERS": ""},
			map[string]string{"TF_VAR_region": "from-exec", "TF_CLI_ARGS_plan": "-compact-warnings", "TF_WORKSPACE": "blue"}, "/abs/data"},
		{"relative TF_DATA_DIR from the environment is Terraform's, in Dir", Terraform{Dir: dir, Exec: Exec{Env: []string{"TF_DATA_DIR=.tfdata"}}},
			map[string]string{"TF_DATA_DIR": filepath.Join(dir, ".tfdata")},
			map[string]string{"TF_VAR_region": "from-env"}, filepath.Join(dir, ".tfdata")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &terraformRun{t: &tt.s, name: "terraform", dir: dir}
			env, err := r.environment()
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.env {
				if got, ok := env[k]; got != want || (want == "" && ok) {
					t.Errorf("env[%s] = %q (set: %v), want %q", k, got, ok, want)
				}
			}
			if got, want := strings.Join(mapPairs(r.carried), " "), strings.Join(mapPairs(tt.carried), " "); got != want {
				t.Errorf("carried = %s, want %s", got, want)
			}
			if r.dataDir != tt.wantDataDir {
				t.Errorf("dataDir = %s, want %s", r.dataDir, tt.wantDataDir)
			}
		})
	}
}

func mapPairs(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// The launcher restores every carried variable exactly, whatever its value,
// records its process ID, and runs the wrapper and the binary with the
// arguments.
func TestLauncherScript(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "it's.pid")
	carried := map[string]string{
		"TF_VAR_plain":  "8025",
		"TF_VAR_tricky": "a b 'c' \"d\" $HOME `x` \\ \n;|&",
		"TF_VAR_empty":  "",
		"TF_CLI_ARGS":   "-no-color",
	}
	keys := sortedKeys(carried)
	script := launcherScript(pidFile, keys, []string{"env", "WRAPPED=yes", "sh", "-c", `echo "pid=$$ args=$*"; env`, "sh"})
	for _, v := range carried {
		if len(v) > 3 && strings.Contains(script, v) {
			t.Fatalf("the script holds a value: %s", script)
		}
	}
	path := filepath.Join(dir, "launch.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "plan", "-var", "x=1 2")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TF_INPUT=1"}
	for i, k := range keys {
		cmd.Env = append(cmd.Env, carrierName(i)+"="+carried[k])
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	pid, _ := os.ReadFile(pidFile)
	if !bytes.Contains(out, []byte("pid="+strings.TrimSpace(string(pid))+" args=plan -var x=1 2\n")) {
		t.Errorf("the process ID or the arguments did not come through:\n%s", out)
	}
	env := envMapOf(strings.Split(string(out), "\n"))
	for _, k := range keys {
		// env prints a multi-line value over several lines: compare the first.
		want, _, _ := strings.Cut(carried[k], "\n")
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if env["TF_INPUT"] != "0" || env["WRAPPED"] != "yes" {
		t.Errorf("TF_INPUT = %q, WRAPPED = %q; want 0 and yes", env["TF_INPUT"], env["WRAPPED"])
	}
	if _, ok := env[carrierName(0)]; ok {
		t.Error("the carriers were left in the environment")
	}
}

// What reaches Terraform's environment through terraform-exec and the
// launcher, including a wrapper.
func TestTerraformEnvReachesTerraform(t *testing.T) {
	bin := fakeTerraform(t, `env | grep -E '^(TF_|WRAPPED=|BATON_TF_ENV)' | sort`)
	t.Setenv("TF_VAR_from_env", "1")
	t.Setenv("TF_LOG", "trace")
	data := t.TempDir()
	s := &Terraform{Dir: t.TempDir(), Binary: bin, DataDir: data,
		Exec: Exec{Env: []string{"TF_VAR_from_exec=a b", "TF_WORKSPACE=blue"}, Wrapper: []string{"env", "WRAPPED=yes"}}}
	_, _, events, err := runStage(t, context.Background(), pipeline.ModePlan, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		if e.Stream == "plan.stdout" {
			got = append(got, e.Line)
		}
	}
	env := envMapOf(got)
	want := map[string]string{"TF_VAR_from_env": "1", "TF_VAR_from_exec": "a b", "TF_WORKSPACE": "blue", "WRAPPED": "yes",
		"TF_INPUT": "0", "TF_IN_AUTOMATION": "1", "TF_DATA_DIR": data, "TF_LOG": ""}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q (environment: %q)", k, env[k], v, got)
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "BATON_TF_ENV") {
			t.Errorf("carrier %s reached Terraform", k)
		}
	}
}

// TF_VAR_* from the environment and from Exec.Env reach a real Terraform.
func TestTerraformEnvE2E(t *testing.T) {
	s, _ := terraformFixture(t)
	os.WriteFile(filepath.Join(s.Dir, "env.tf"), []byte(`
variable "from_env" {
  type    = string
  default = "default"
}
variable "from_exec" {
  type    = string
  default = "default"
}
output "from_env" { value = var.from_env }
output "from_exec" { value = var.from_exec }
`), 0o644)
	t.Setenv("TF_VAR_from_env", "set in the environment")
	s.Exec.Env = []string{"TF_VAR_from_exec=set in Exec.Env"}
	fromEnv, fromExec := handoff.NewString("from_env"), handoff.NewString("from_exec")
	s.Outputs = []Output{{Name: "from_env", As: fromEnv}, {Name: "from_exec", As: fromExec}}
	_, store, _, _, err := tfRun(t, context.Background(), pipeline.ModeRun, s, map[string]string{"template_id": "8025"})
	if err != nil {
		t.Fatal(err)
	}
	vs := tfValues(t, store, fromEnv, fromExec)
	if got, _ := fromEnv.Get(vs); got != "set in the environment" {
		t.Errorf("var.from_env = %q", got)
	}
	if got, _ := fromExec.Get(vs); got != "set in Exec.Env" {
		t.Errorf("var.from_exec = %q", got)
	}
}
