package stages

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

const recapOutput = `PLAY [Configure] ***************************************************************

TASK [copy] ********************************************************************
changed: [web-1]
fatal: [db-1]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect", "unreachable": true}

PLAY RECAP *********************************************************************
web-2                      : ok=2    changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
db-1                       : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
web-1                      : ok=2    changed=1    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0

`

func TestParseRecap(t *testing.T) {
	r := parseRecap([]byte(recapOutput))
	want := playRecap{
		{Host: "db-1", Unreachable: 1},
		{Host: "web-1", OK: 2, Changed: 1, Skipped: 1},
		{Host: "web-2", OK: 2, Changed: 1, Failed: 1},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("recap:\n got %+v\nwant %+v", r, want)
	}
	if got := r.Failed(); !reflect.DeepEqual(got, []string{"web-2"}) {
		t.Errorf("Failed = %v", got)
	}
	if got := r.Unreachable(); !reflect.DeepEqual(got, []string{"db-1"}) {
		t.Errorf("Unreachable = %v", got)
	}
	if got, want := r.String(), "3 hosts: ok=4 changed=2 unreachable=1 failed=1"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if parseRecap([]byte("ERROR! the playbook could not be parsed")) != nil {
		t.Error("a recap from output without one")
	}
}

func FuzzParseRecap(f *testing.F) {
	f.Add([]byte(recapOutput))
	f.Add([]byte("PLAY RECAP\nh : ok=1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := parseRecap(data)
		for _, h := range r {
			if h.Host == "" || strings.ContainsAny(h.Host, " \t") {
				t.Fatalf("bad host %q", h.Host)
			}
		}
		_ = r.String()
	})
}

func TestAnsibleArgsAndEnv(t *testing.T) {
	a := &Ansible{Dir: "testdata/ansible", Limit: "web", Tags: []string{"a", "b"}, Set: map[string]string{"x": "1"}}
	r := &ansibleRun{a: a, inventory: "/run/inv.json", extra: map[string]string{"x": "1"}}
	want := []string{"-i", "/run/inv.json", "--extra-vars", `{"x":"1"}`, "--limit", "web", "--tags", "a,b", "site.yml"}
	if got := r.args(); !reflect.DeepEqual(got, want) {
		t.Errorf("args:\n got %q\nwant %q", got, want)
	}
}

// writeInventory writes the lab's inventory where a user would keep one.
func writeInventory(t *testing.T, lab *testlab.Lab) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inventory.json")
	if err := os.WriteFile(path, lab.Inventory(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAnsibleE2E(t *testing.T) {
	requireTool(t, "ansible-playbook")
	lab := testlab.Start(t, 3)
	inv := writeInventory(t, lab)
	ctx := context.Background()
	tid := handoff.NewString("build")
	// A known_hosts path with a space, as under "My Projects", must reach
	// ssh whole.
	knownHosts := filepath.Join(t.TempDir(), "with space", "known_hosts")
	data, err := os.ReadFile(lab.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(knownHosts), 0o700)
	if err := os.WriteFile(knownHosts, data, 0o600); err != nil {
		t.Fatal(err)
	}
	a := &Ansible{Dir: "testdata/ansible", KnownHosts: knownHosts, Vars: []Var{{Name: "template_id", From: tid}}}
	args := map[string]string{"inventory": inv, "build": "8025"}

	// A dry run on fresh hosts changes nothing.
	sum, _, _, err := runStage(t, ctx, pipeline.ModePlan, a, args)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.Stages[0].Note, "changed=3") {
		t.Errorf("check note = %q, want 3 would-be changes", sum.Stages[0].Note)
	}
	for _, h := range lab.Hosts {
		if _, err := os.Stat(filepath.Join(labDir(lab, h), "configured-from")); !os.IsNotExist(err) {
			t.Fatalf("--check wrote on %s", h.Name)
		}
	}

	sum, _, events, err := runStage(t, ctx, pipeline.ModeRun, a, args)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Stages[0].Note; got != "3 hosts: ok=3 changed=3 unreachable=0 failed=0" {
		t.Errorf("first run note = %q", got)
	}
	for _, h := range lab.Hosts {
		data, err := os.ReadFile(filepath.Join(labDir(lab, h), "configured-from"))
		if err != nil || strings.TrimSpace(string(data)) != "8025" {
			t.Errorf("%s: configured-from = %q, %v; want the handoff 8025", h.Name, data, err)
		}
	}
	if !hasLine(events, "PLAY RECAP") {
		t.Error("the playbook's output was not streamed")
	}
	sum, _, _, err = runStage(t, ctx, pipeline.ModeRun, a, args)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.Stages[0].Note, "changed=0") {
		t.Errorf("second run note = %q, want changed=0", sum.Stages[0].Note)
	}

	// Check: every host answers; then one stops and is named.
	if _, _, _, err := runStage(t, ctx, pipeline.ModeCheck, a, args); err != nil {
		t.Fatalf("check: %v", err)
	}
	lab.Hosts[2].Stop()
	if _, _, _, err := runStage(t, ctx, pipeline.ModeCheck, a, args); err == nil || !strings.Contains(err.Error(), "host-3") {
		t.Errorf("check with a stopped host: %v, want it named", err)
	}
	_, _, _, err = runStage(t, ctx, pipeline.ModeRun, a, args)
	if err == nil || !strings.Contains(err.Error(), "could not reach host-3") {
		t.Errorf("run with a stopped host: %v, want host-3 named as unreachable", err)
	}

	// A failing task names the host that failed.
	failing := *a
	failing.Set = map[string]string{"fail_on": "host-2"}
	_, _, _, err = runStage(t, ctx, pipeline.ModeRun, &failing, args)
	if err == nil || !strings.Contains(err.Error(), "failed on host-2") {
		t.Errorf("run with a failing host: %v, want host-2 named", err)
	}
}

func labDir(lab *testlab.Lab, h *testlab.Host) string { return filepath.Join(lab.Dir, h.Name) }

func TestAnsibleBadInputs(t *testing.T) {
	requireTool(t, "ansible-playbook")
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "site.yml"), []byte("- hosts: all\n  tasks:\n    - name: x\n      ansible.builtin.debug: {msg: hi\n"), 0o644)
	inv := filepath.Join(dir, "inv.json")
	os.WriteFile(inv, []byte(`{"all": {"hosts": {"127.0.0.1": {}}}}`), 0o644)
	_, _, _, err := runStage(t, ctx, pipeline.ModeRun, &Ansible{Dir: dir}, map[string]string{"inventory": inv})
	if err == nil || !strings.Contains(err.Error(), "--syntax-check") {
		t.Errorf("broken playbook: %v, want the syntax check to stop it", err)
	}
	_, _, _, err = runStage(t, ctx, pipeline.ModeRun, &Ansible{Dir: dir, Playbook: "nope.yml"}, map[string]string{"inventory": inv})
	if err == nil || !strings.Contains(err.Error(), "nope.yml") {
		t.Errorf("missing playbook: %v", err)
	}
}

func TestAnsibleSyntaxCheckIsCachedPerPlaybooks(t *testing.T) {
	requireTool(t, "ansible-playbook")
	lab := testlab.Start(t, 1)
	inv := writeInventory(t, lab)
	dir := copyDir(t, "testdata/ansible")
	a := &Ansible{Dir: dir, KnownHosts: lab.KnownHosts, CacheDir: t.TempDir(), Set: map[string]string{"template_id": "1"}}
	args := map[string]string{"inventory": inv}
	syntaxRuns := func() int {
		_, _, events, err := runStage(t, context.Background(), pipeline.ModeRun, a, args)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if strings.HasPrefix(e.Line, "$ ") && strings.Contains(e.Line, "--syntax-check") {
				n++
			}
		}
		return n
	}
	if n := syntaxRuns(); n != 1 {
		t.Errorf("first run: %d syntax checks, want 1", n)
	}
	if n := syntaxRuns(); n != 0 {
		t.Errorf("same playbooks: %d syntax checks, want none", n)
	}
	os.WriteFile(filepath.Join(dir, "site.yml"), append(mustRead(t, filepath.Join(dir, "site.yml")), "\n# changed\n"...), 0o644)
	if n := syntaxRuns(); n != 1 {
		t.Errorf("changed playbook: %d syntax checks, want 1", n)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// With a fact cache, facts are gathered once per inventory value: the
// second run with the same inventory uses them, a new inventory (hosts
// remade) gathers afresh, and only its cache is kept. Without one, every
// run gathers.
func TestAnsibleFactCache(t *testing.T) {
	requireTool(t, "ansible-playbook")
	lab := testlab.Start(t, 1)
	inv := writeInventory(t, lab)
	dir := copyDir(t, "testdata/ansible")
	cache := t.TempDir()
	a := &Ansible{Dir: dir, Playbook: "facts.yml", KnownHosts: lab.KnownHosts, FactCache: cache}
	gathered := func(inventory string) string {
		t.Helper()
		if _, _, _, err := runStage(t, context.Background(), pipeline.ModeRun, a, map[string]string{"inventory": inventory}); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(mustRead(t, filepath.Join(lab.Hosts[0].Dir(), "facts-gathered"))))
	}
	first := gathered(inv)
	if again := gathered(inv); again != first {
		t.Errorf("same inventory: facts gathered again at %s (first at %s), want them from the cache", again, first)
	}
	// The same host in a new inventory value: facts are gathered afresh.
	var doc map[string]any
	json.Unmarshal(mustRead(t, inv), &doc)
	all := doc["all"].(map[string]any)
	vars, _ := all["vars"].(map[string]any)
	if vars == nil {
		vars = map[string]any{}
	}
	vars["remade"] = true
	all["vars"] = vars
	data, _ := json.Marshal(doc)
	remade := filepath.Join(t.TempDir(), "inventory.json")
	os.WriteFile(remade, data, 0o600)
	if fresh := gathered(remade); fresh == first {
		t.Errorf("new inventory: facts from %s reused, want them gathered afresh", first)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 1 {
		t.Errorf("the fact cache holds %d generations, want only the current one", len(entries))
	}

	a.FactCache = ""
	before := gathered(inv)
	if after := gathered(inv); after == before {
		t.Errorf("without a fact cache, facts were not gathered again (%s)", after)
	}
}
