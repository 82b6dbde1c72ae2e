package stages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestMitogenFromEnv(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
		err   bool
	}{{"", false, false}, {"0", false, false}, {"false", false, false}, {"1", true, false}, {"TRUE", true, false}, {"yes please", false, true}} {
		got, err := MitogenFromEnv(func(k string) string {
			if k != MitogenEnv {
				t.Errorf("read %s, want %s", k, MitogenEnv)
			}
			return tc.value
		})
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%q: got %v, %v; want %v, error %v", tc.value, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), MitogenEnv) {
			t.Errorf("%q: error %q does not name the setting", tc.value, err)
		}
	}
}

// loadersPy is the part of Mitogen 0.3.3's ansible_mitogen/loaders.py
// that says which releases it supports.
const loadersPy = "import ansible\n\nANSIBLE_VERSION_MIN = (2, 10)\nANSIBLE_VERSION_MAX = (2, 14)\n"

func TestMitogenSupportedReleases(t *testing.T) {
	lo, hi, err := mitogenRange([]byte(loadersPy))
	if err != nil || lo != [2]int{2, 10} || hi != [2]int{2, 14} {
		t.Fatalf("got %v %v %v, want 2.10 to 2.14", lo, hi, err)
	}
	if _, _, err := mitogenRange([]byte("ANSIBLE_VERSION_MIN = (2, 10)\n")); err == nil {
		t.Error("a loaders.py without ANSIBLE_VERSION_MAX: got no error")
	}
	for _, tc := range []struct {
		version string
		ok      bool
	}{{"2.9.27", false}, {"2.10.0", true}, {"2.14.18", true}, {"2.14.0rc1", true}, {"2.15.0", false}, {"2.16.3", false}, {"3.0.0", false}, {"devel", false}} {
		m := &mitogenInfo{Ansible: tc.version, Dir: "/m", Min: lo, Max: hi}
		err := m.supported()
		if (err == nil) != tc.ok {
			t.Errorf("ansible-core %s: got %v, want supported %v", tc.version, err, tc.ok)
		}
	}
}

func TestInterpreterFromShebang(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		first string
		want  string // "" for an error
	}{
		{"#! /usr/bin/python3", "/usr/bin/python3"},
		{"#!/opt/venv/bin/python", "/opt/venv/bin/python"},
		{"#!/usr/bin/env python3", "python3"},
		{"#!/usr/bin/env -S python3 -E", "python3 -E"},
		{"ELF", ""},
		{"#!", ""},
	} {
		path := filepath.Join(dir, "ansible-playbook")
		os.WriteFile(path, []byte(tc.first+"\nimport sys\n"), 0o755)
		got, err := interpreter(path)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: got %q, want an error", tc.first, got)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.first, got, err, tc.want)
		}
	}
}

// fakeAnsible is an ansible-playbook whose Python (a shell script) says
// it imports ansible-core version and, when withMitogen, a Mitogen 0.3.3.
func fakeAnsible(t *testing.T, version string, withMitogen bool) string {
	t.Helper()
	dir := t.TempDir()
	mitogen := ""
	if withMitogen {
		mitogen = filepath.Join(dir, "ansible_mitogen")
		os.MkdirAll(filepath.Join(mitogen, "plugins", "strategy"), 0o755)
		os.WriteFile(filepath.Join(mitogen, "plugins", "strategy", "mitogen_linear.py"), nil, 0o644)
		os.WriteFile(filepath.Join(mitogen, "loaders.py"), []byte(loadersPy), 0o644)
	}
	python := filepath.Join(dir, "python3")
	os.WriteFile(python, []byte(fmt.Sprintf("#!/bin/sh\n[ \"$1\" = -c ] || exit 9\necho '{\"ansible\": \"%s\", \"mitogen\": \"%s\"}'\n", version, mitogen)), 0o755)
	bin := filepath.Join(dir, "ansible-playbook")
	os.WriteFile(bin, []byte("#!"+python+"\nfrom ansible.cli.playbook import main\n"), 0o755)
	return bin
}

func TestMitogenSettings(t *testing.T) {
	ctx := context.Background()
	a := &Ansible{Mitogen: true}
	env := map[string]string{}
	if err := a.mitogenEnv(ctx, fakeAnsible(t, "2.14.18", true), env); err != nil {
		t.Fatal(err)
	}
	if env["ANSIBLE_STRATEGY"] != "mitogen_linear" || !strings.HasSuffix(env["ANSIBLE_STRATEGY_PLUGINS"], "/ansible_mitogen/plugins/strategy") {
		t.Errorf("got %v, want Mitogen's linear strategy from its plugins directory", env)
	}
	for name, bin := range map[string]string{
		"ansible-core too new": fakeAnsible(t, "2.16.3", true),
		"no Mitogen":           fakeAnsible(t, "2.14.18", false),
	} {
		err := a.mitogenEnv(ctx, bin, map[string]string{})
		if !errors.Is(err, ErrMitogenUnsupported) || !strings.Contains(err.Error(), MitogenEnv+"=0") {
			t.Errorf("%s: got %v, want ErrMitogenUnsupported saying how to turn Mitogen off", name, err)
		}
		if name == "ansible-core too new" && !strings.Contains(err.Error(), "ansible-core 2.16.3 is installed, but the Mitogen in") {
			t.Errorf("%s: %q does not say which versions clash", name, err)
		}
	}
	off := map[string]string{}
	if err := (&Ansible{}).mitogenEnv(ctx, "/nonexistent", off); err != nil || len(off) != 0 {
		t.Errorf("Mitogen off: got %v, %v; want nothing done", off, err)
	}
}

// The lab's own playbook runs with Mitogen on lab hosts, and runs again
// with nothing to change. Ansible refuses a strategy it cannot load, so a
// run that succeeds ran Mitogen's.
func TestAnsibleMitogenRunsTheLabPlaybook(t *testing.T) {
	bin := requireTool(t, "ansible-playbook")
	ctx := context.Background()
	if _, err := probeMitogen(ctx, bin, nil); err != nil {
		if os.Getenv("BATON_E2E") == "required" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	lab := testlab.Start(t, 3)
	app := testlab.FreePort(t, "127.0.0.12")
	inv := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(inv, lab.LocalInventory(t, app), 0o600); err != nil {
		t.Fatal(err)
	}
	// Mitogen's connection timeout (Ansible's, 10 s by default) covers the
	// start of its remote interpreter too, which a loaded machine can take
	// longer than that for: here it is a hang guard only.
	a := &Ansible{Dir: "../../examples/local/ansible", KnownHosts: lab.KnownHosts, Mitogen: true, Exec: Exec{Env: []string{"ANSIBLE_TIMEOUT=120"}}}
	env := map[string]string{}
	if err := a.mitogenEnv(ctx, bin, env); err != nil || env["ANSIBLE_STRATEGY"] != MitogenStrategy {
		t.Fatalf("settings %v, %v: want Mitogen's strategy", env, err)
	}
	args := map[string]string{"inventory": inv}
	sum, _, events, err := runStage(t, ctx, pipeline.ModeRun, a, args)
	if err != nil {
		t.Fatalf("%v\n%s", err, eventLines(events))
	}
	if note := sum.Stages[0].Note; !strings.Contains(note, "3 hosts:") || strings.Contains(note, "changed=0") || !strings.Contains(note, "failed=0") {
		t.Errorf("first run note = %q, want changes on 3 hosts and no failure", note)
	}
	for _, h := range lab.Hosts {
		data, err := os.ReadFile(filepath.Join(h.LocalRoot(), "etc", "baton", "configured-from"))
		if err != nil || strings.TrimSpace(string(data)) != "8025" {
			t.Errorf("%s: configured-from = %q, %v", h.Name, data, err)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://%s:%d/", lab.Hosts[1].Address, app))
	if err != nil {
		t.Fatalf("the web service Mitogen started does not answer: %v", err)
	}
	resp.Body.Close()
	sum, _, events, err = runStage(t, ctx, pipeline.ModeRun, a, args)
	if err != nil {
		t.Fatalf("%v\n%s", err, eventLines(events))
	}
	if note := sum.Stages[0].Note; !strings.Contains(note, "changed=0") {
		t.Errorf("second run note = %q, want changed=0", note)
	}
}

func eventLines(events []pipeline.Event) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString(e.Line + "\n")
	}
	return b.String()
}

// CheckMitogen, which `go run mage.go tools` reports, says what it found
// when Mitogen can run, and refuses a program that is not Ansible's.
func TestCheckMitogen(t *testing.T) {
	ctx := context.Background()
	if _, err := CheckMitogen(ctx, "/nonexistent/ansible-playbook"); err == nil {
		t.Error("a missing ansible-playbook: got no error")
	}
	bin := requireTool(t, "ansible-playbook")
	if _, err := probeMitogen(ctx, bin, nil); err != nil {
		if os.Getenv("BATON_E2E") == "required" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	what, err := CheckMitogen(ctx, bin)
	if err != nil || !strings.Contains(what, "ansible-core ") || !strings.Contains(what, "which supports ") {
		t.Errorf("CheckMitogen = %q, %v; want the ansible-core and the range Mitogen supports", what, err)
	}
}
