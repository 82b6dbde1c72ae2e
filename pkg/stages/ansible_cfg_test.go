package stages

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestParseINI(t *testing.T) {
	data := "# a comment\n; another\n[defaults]\nforks = 3\nHost_Key_Checking: False\nroles_path = ./roles ; where roles are\ncallbacks_enabled = a#b\n[ssh_connection]\nssh_args = -o ControlMaster=auto\n  -o ControlPersist=30m\n"
	got, err := parseINI([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"defaults":       {"forks": "3", "host_key_checking": "False", "roles_path": "./roles", "callbacks_enabled": "a#b"},
		"ssh_connection": {"ssh_args": "-o ControlMaster=auto\n-o ControlPersist=30m"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseINI:\n got %q\nwant %q", got, want)
	}
	for name, bad := range map[string]string{
		"key before a section": "forks = 3\n",
		"unclosed section":     "[defaults\n",
		"no separator":         "[defaults]\nforks\n",
	} {
		if _, err := parseINI([]byte(bad)); err == nil || !strings.Contains(err.Error(), "line 1") && !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: err = %v, want the line named", name, err)
		}
	}
}

// The file is found where Ansible looks, in Ansible's order.
func TestFindAnsibleConfig(t *testing.T) {
	home, dir, other := t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	old := systemAnsibleConfig
	systemAnsibleConfig = filepath.Join(t.TempDir(), "system-ansible.cfg")
	t.Cleanup(func() { systemAnsibleConfig = old })
	env := map[string]string{}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	write := func(p string) string { os.WriteFile(p, []byte("[defaults]\n"), 0o644); return p }

	if got := findAnsibleConfig(dir, getenv); got != "" {
		t.Errorf("no file anywhere: %q", got)
	}
	sys := write(systemAnsibleConfig)
	if got := findAnsibleConfig(dir, getenv); got != sys {
		t.Errorf("system file: %q, want %q", got, sys)
	}
	user := write(filepath.Join(home, ".ansible.cfg"))
	if got := findAnsibleConfig(dir, getenv); got != user {
		t.Errorf("user file: %q, want %q", got, user)
	}
	local := write(filepath.Join(dir, "ansible.cfg"))
	if got := findAnsibleConfig(dir, getenv); got != local {
		t.Errorf("file in the directory: %q, want %q", got, local)
	}
	os.Chmod(dir, 0o777)
	if got := findAnsibleConfig(dir, getenv); got != user {
		t.Errorf("world-writable directory: %q, want it skipped for %q", got, user)
	}
	os.Chmod(dir, 0o755)
	env["ANSIBLE_CONFIG"] = other // a directory: its ansible.cfg
	fromEnv := write(filepath.Join(other, "ansible.cfg"))
	if got := findAnsibleConfig(dir, getenv); got != fromEnv {
		t.Errorf("ANSIBLE_CONFIG: %q, want %q", got, fromEnv)
	}
	env["ANSIBLE_CONFIG"] = filepath.Join(other, "missing.cfg")
	if got := findAnsibleConfig(dir, getenv); got != local {
		t.Errorf("ANSIBLE_CONFIG naming no file: %q, want the next one, %q", got, local)
	}
}

// The table of ansible.cfg keys is Ansible's own.
func TestAnsibleINIMatchesAnsibleConfig(t *testing.T) {
	requireTool(t, "ansible-config")
	got := map[string][]iniKey{}
	add := func(defs map[string]struct {
		Env []struct{ Name string }         `json:"env"`
		Ini []struct{ Section, Key string } `json:"ini"`
	}) {
		for _, d := range defs {
			for _, e := range d.Env {
				if _, ok := ansibleINI[e.Name]; ok {
					for _, i := range d.Ini {
						got[e.Name] = append(got[e.Name], iniKey{i.Section, i.Key})
					}
				}
			}
		}
	}
	type defs = map[string]struct {
		Env []struct{ Name string }         `json:"env"`
		Ini []struct{ Section, Key string } `json:"ini"`
	}
	out, err := exec.Command("ansible-config", "list", "--format", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var core defs
	if err := json.Unmarshal(out, &core); err != nil {
		t.Fatal(err)
	}
	add(core)
	out, err = exec.Command("ansible-config", "list", "-t", "connection", "--format", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var plugins struct {
		Plugins struct {
			Connection map[string]defs `json:"connection"`
		} `json:"PLUGINS"`
	}
	if err := json.Unmarshal(out, &plugins); err != nil {
		t.Fatal(err)
	}
	add(plugins.Plugins.Connection["ssh"])
	for env, want := range ansibleINI {
		for _, k := range want {
			found := false
			for _, g := range got[env] {
				found = found || g == k
			}
			if !found {
				t.Errorf("%s: Ansible does not read it from %s (it reads %v)", env, k, got[env])
			}
		}
	}
}

// envOf runs the stage's choice of settings for a directory, in a job.
func envOf(t *testing.T, a *Ansible) (map[string]string, []pipeline.Event) {
	t.Helper()
	var env []string
	probe := pipeline.Func("settings", nil, nil, func(ctx context.Context, j *pipeline.Job) error {
		r := &ansibleRun{a: a}
		defer os.RemoveAll(r.control)
		var err error
		env, err = a.environment(j, r, ansibleInventory{hosts: 3})
		return err
	})
	_, _, events, err := runStage(t, context.Background(), pipeline.ModeRun, probe, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m, events
}

// The user's ansible.cfg wins over baton's defaults, Settings over both,
// and one line says which is which.
func TestAnsibleUserConfigWins(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	old := systemAnsibleConfig
	systemAnsibleConfig = filepath.Join(t.TempDir(), "none")
	t.Cleanup(func() { systemAnsibleConfig = old })
	for _, k := range []string{"ANSIBLE_CONFIG", "ANSIBLE_FORKS", "ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_ARGS", "ANSIBLE_SSH_COMMON_ARGS", "ANSIBLE_PIPELINING"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	known := "/keys/known_hosts"

	// No ansible.cfg: baton's defaults, strict checking against its file.
	env, events := envOf(t, &Ansible{Dir: dir, KnownHosts: known})
	if env["ANSIBLE_FORKS"] != "3" || env["ANSIBLE_HOST_KEY_CHECKING"] != "True" || env["ANSIBLE_PIPELINING"] != "True" || !strings.Contains(env["ANSIBLE_SSH_ARGS"], "ControlPersist") {
		t.Errorf("without ansible.cfg: %q", env)
	}
	if got, want := env["ANSIBLE_SSH_COMMON_ARGS"], "-o UserKnownHostsFile="+known+" -o StrictHostKeyChecking=yes"; got != want {
		t.Errorf("ssh_common_args = %q, want %q", got, want)
	}
	if !hasLine(events, "ansible settings (no ansible.cfg): baton set ANSIBLE_FORCE_COLOR, ANSIBLE_FORKS") {
		t.Errorf("no settings line: %+v", events)
	}

	// The repository's ansible.cfg: its settings stay, baton's file is
	// added after its own ssh_common_args, and it decides how strictly.
	os.WriteFile(filepath.Join(dir, "ansible.cfg"), []byte("[defaults]\nforks = 9\nhost_key_checking = False\n[ssh_connection]\nssh_args = -o ControlMaster=auto -o ControlPersist=30m\nssh_common_args = -o ProxyJump=jump\npipelining = False\n"), 0o644)
	env, events = envOf(t, &Ansible{Dir: dir, KnownHosts: known, Settings: map[string]string{"ANSIBLE_PIPELINING": "True"}})
	for _, k := range []string{"ANSIBLE_FORKS", "ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_ARGS"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s=%s set over the user's ansible.cfg", k, v)
		}
	}
	if got, want := env["ANSIBLE_SSH_COMMON_ARGS"], "-o ProxyJump=jump -o UserKnownHostsFile="+known; got != want {
		t.Errorf("ssh_common_args = %q, want %q", got, want)
	}
	if env["ANSIBLE_PIPELINING"] != "True" {
		t.Errorf("Settings did not win over ansible.cfg: ANSIBLE_PIPELINING=%q", env["ANSIBLE_PIPELINING"])
	}
	cfg := filepath.Join(dir, "ansible.cfg")
	if !hasLine(events, "left to "+cfg+": forks, host_key_checking") || !hasLine(events, "forced by the stage's Settings: ANSIBLE_PIPELINING") {
		t.Errorf("settings line does not say what was left to %s: %+v", cfg, events)
	}

	// Settings say otherwise about host keys: baton's strict check is back.
	env, _ = envOf(t, &Ansible{Dir: dir, KnownHosts: known, Settings: map[string]string{"ANSIBLE_HOST_KEY_CHECKING": "True"}})
	if !strings.HasSuffix(env["ANSIBLE_SSH_COMMON_ARGS"], "StrictHostKeyChecking=yes") || env["ANSIBLE_HOST_KEY_CHECKING"] != "True" {
		t.Errorf("with Settings forcing host key checking: %q", env)
	}
}

func TestExpandUser(t *testing.T) {
	home, _ := os.UserHomeDir()
	for in, want := range map[string]string{
		"~":                 home,
		"~/.ssh/ansible":    filepath.Join(home, ".ssh/ansible"),
		"~root/.ssh/id":     "/root/.ssh/id",
		"~nosuchuser-x9/id": "~nosuchuser-x9/id",
		"/abs/~/x":          "/abs/~/x",
		"rel/key":           "rel/key",
	} {
		if got := expandUser(in); got != want {
			t.Errorf("expandUser(%q) = %q, want %q", in, got, want)
		}
	}
}
