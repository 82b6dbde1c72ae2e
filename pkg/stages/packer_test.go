package stages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// packer166Output is what Debian's Packer 1.6.6 printed for a null build
// with a manifest post-processor, two artifacts for one build.
const packer166Output = `1795399574,,ui,say,==> null.lab: Running local shell script: /tmp/packer-shell1040055722
1795399574,,ui,message,    null.lab: hello%!(PACKER_COMMA) world
1795399574,,ui,say,Build 'null.lab' finished after 20 milliseconds 186 microseconds.
1795399574,,ui,say,\n==> Builds finished. The artifacts of successful builds are:
1795399574,null.lab,artifact-count,2
1795399574,null.lab,artifact,0,builder-id,fnoeding.null
1795399574,null.lab,artifact,0,id,Null
1795399574,null.lab,artifact,0,string,Did not export anything. This is the null builder
1795399574,null.lab,artifact,0,files-count,0
1795399574,null.lab,artifact,0,end
1795399574,null.lab,artifact,1,builder-id,fnoeding.null
1795399574,null.lab,artifact,1,id,Null
1795399574,null.lab,artifact,1,end
`

// proxmoxOutput is the shape of a proxmox-iso build's artifact lines (from
// Packer's documentation of machine-readable output), with two builds.
const proxmoxOutput = `1700000000,,ui,say,==> proxmox-iso.ubuntu: Creating VM
1700000001,proxmox-iso.ubuntu,artifact-count,1
1700000001,proxmox-iso.ubuntu,artifact,0,builder-id,proxmox.iso
1700000001,proxmox-iso.ubuntu,artifact,0,id,8025
1700000001,proxmox-iso.ubuntu,artifact,0,string,A template was created: 8025
1700000001,proxmox-iso.ubuntu,artifact,0,end
1700000001,proxmox-clone.debian,artifact,0,builder-id,proxmox.clone
1700000001,proxmox-clone.debian,artifact,0,id,8026
1700000001,proxmox-clone.debian,artifact,0,end
`

func TestParseMachineReadable(t *testing.T) {
	mo, err := parseMachineReadable([]byte(proxmoxOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := []packerArtifact{
		{Build: "proxmox-iso.ubuntu", BuilderID: "proxmox.iso", ID: "8025", String: "A template was created: 8025"},
		{Build: "proxmox-clone.debian", BuilderID: "proxmox.clone", ID: "8026"},
	}
	if !reflect.DeepEqual(mo.Artifacts, want) {
		t.Errorf("artifacts:\n got %+v\nwant %+v", mo.Artifacts, want)
	}
	mo, err = parseMachineReadable([]byte(packer166Output))
	if err != nil {
		t.Fatal(err)
	}
	if len(mo.Artifacts) != 2 || mo.Artifacts[1].Index != 1 || mo.Artifacts[0].ID != "Null" {
		t.Errorf("1.6.6 artifacts = %+v, want two of null.lab", mo.Artifacts)
	}
	line, ok := humanLine("1795399574,,ui,message,    null.lab: hello%!(PACKER_COMMA) world")
	if !ok || line != "    null.lab: hello, world" {
		t.Errorf("humanLine = %q, %v; want the message with its comma", line, ok)
	}
	if _, ok := humanLine("1795399574,null.lab,artifact,0,end"); ok {
		t.Error("artifact lines should not be shown")
	}
	if _, err := parseMachineReadable([]byte("1,b,artifact,x,id,1\n")); err == nil {
		t.Error("a bad artifact index was accepted")
	}
}

func FuzzParseMachineReadable(f *testing.F) {
	f.Add([]byte(packer166Output))
	f.Add([]byte(proxmoxOutput))
	f.Add([]byte("1,,error,x%!(PACKER_COMMA)y\n1,a,artifact,0,id\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mo, err := parseMachineReadable(data)
		if err != nil {
			return
		}
		for _, a := range mo.Artifacts {
			if a.Index < 0 {
				t.Fatalf("negative index in %+v", a)
			}
		}
		for _, line := range strings.Split(string(data), "\n") {
			humanLine(line)
		}
	})
}

func TestManifestLastRun(t *testing.T) {
	m, err := parseManifest([]byte(`{"builds": [
		{"name": "lab", "builder_type": "null", "artifact_id": "Null", "packer_run_uuid": "old", "custom_data": {"template_id": "8025"}},
		{"name": "lab", "builder_type": "null", "artifact_id": "Null", "packer_run_uuid": "new", "custom_data": {"template_id": "8026"}}
	], "last_run_uuid": "new"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := m.LastRun()
	if len(got) != 1 || got[0].CustomData["template_id"] != "8026" || got[0].FullName() != "null.lab" {
		t.Errorf("LastRun = %+v, want the one build of run new", got)
	}
	if _, err := parseManifest([]byte(`{"builds": 5}`)); err == nil {
		t.Error("a bad manifest was accepted")
	}
}

func TestPackerArgs(t *testing.T) {
	p := &Packer{Dir: "/x", Template: "lab.pkr.hcl", Set: map[string]string{"b": "2", "a": "1"}, VarFiles: []string{"prod.pkrvars.hcl"}}
	want := []string{"build", "-machine-readable", "-color=false", "-var", "a=1", "-var", "b=2", "-var-file=prod.pkrvars.hcl", "lab.pkr.hcl"}
	if got := p.buildArgs(); !reflect.DeepEqual(got, want) {
		t.Errorf("build args:\n got %q\nwant %q", got, want)
	}
	if got := p.validateArgs(); got[0] != "validate" || got[len(got)-1] != "lab.pkr.hcl" {
		t.Errorf("validate args = %q", got)
	}
	if got := p.Gives(); len(got) != 1 || got[0].Name() != "template_id" {
		t.Errorf("Gives = %v, want template_id", got)
	}
}

func TestPackerSelectsBuilds(t *testing.T) {
	mo, _ := parseMachineReadable([]byte(proxmoxOutput))
	ubuntu, debian := handoff.NewTemplateID("ubuntu_template"), handoff.NewTemplateID("debian_template")
	p := &Packer{Builds: map[string]handoff.Def{"ubuntu": ubuntu, "proxmox-clone.debian": debian}}
	ids, err := p.artifactIDs(mo, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0].id != "8026" || ids[1].id != "8025" {
		t.Errorf("ids = %+v", ids)
	}
	if _, err := (&Packer{}).artifactIDs(mo, "", ""); err == nil || !strings.Contains(err.Error(), "set Builds") {
		t.Errorf("two builds for one handoff: err = %v", err)
	}
	p.Builds["nosuch"] = handoff.NewTemplateID("x")
	if _, err := p.artifactIDs(mo, "", ""); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("missing build: err = %v", err)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestPackerBuildE2E(t *testing.T) {
	requireTool(t, "packer")
	dir := copyDir(t, "testdata/packer/manifest")
	manifest := filepath.Join(t.TempDir(), "manifest.json")
	p := &Packer{Dir: dir, Manifest: manifest, IDKey: "template_id",
		Set: map[string]string{"manifest": manifest, "template_id": "8031", "secret": "hunter22"}}
	ctx := context.Background()
	sum, store, events, err := runStageWithSecrets(t, ctx, p, []string{"hunter22"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := store.Get(handoff.TemplateID)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := handoff.TemplateID.Decode(v.Raw); id != 8031 {
		t.Errorf("template_id = %d, want 8031 from the manifest", id)
	}
	if note := sum.Stages[0].Note; note != "built template_id=8031" {
		t.Errorf("note = %q", note)
	}
	var builds int
	for _, e := range events {
		if strings.Contains(e.Line, "hunter22") {
			t.Errorf("secret in event: %q", e.Line)
		}
		if strings.Contains(e.Line, "$ ") && strings.Contains(e.Line, " build ") {
			builds++
		}
	}
	if builds != 1 {
		t.Errorf("packer build ran %d times, want exactly once", builds)
	}
	if !hasLine(events, "building template 8031, with a comma") {
		t.Error("the build's output was not streamed as readable lines")
	}

	// A second build appends to the manifest; only the new run counts.
	p.Set["template_id"] = "8032"
	if _, store, _, err = runStageWithSecrets(t, ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	v, _ = store.Get(handoff.TemplateID)
	if id, _ := handoff.TemplateID.Decode(v.Raw); id != 8032 {
		t.Errorf("second build: template_id = %d, want 8032", id)
	}
	data, _ := os.ReadFile(manifest)
	if m, _ := parseManifest(data); len(m.Builds) != 2 {
		t.Errorf("manifest holds %d builds, want 2", len(m.Builds))
	}
}

func TestPackerErrorsE2E(t *testing.T) {
	requireTool(t, "packer")
	ctx := context.Background()
	t.Run("non-numeric artifact without manifest", func(t *testing.T) {
		_, _, _, err := runStage(t, ctx, pipeline.ModeRun, &Packer{Dir: copyDir(t, "testdata/packer/plain")}, nil)
		if err == nil || !strings.Contains(err.Error(), `"Null"`) || !strings.Contains(err.Error(), "manifest route") {
			t.Errorf("err = %v, want the artifact ID and the manifest route", err)
		}
	})
	t.Run("manifest not written", func(t *testing.T) {
		_, _, _, err := runStage(t, ctx, pipeline.ModeRun, &Packer{Dir: copyDir(t, "testdata/packer/plain"), Manifest: "nope.json"}, nil)
		if err == nil || !strings.Contains(err.Error(), "nope.json") {
			t.Errorf("err = %v, want it to name the manifest", err)
		}
	})
	t.Run("build fails", func(t *testing.T) {
		_, _, _, err := runStage(t, ctx, pipeline.ModeRun, &Packer{Dir: copyDir(t, "testdata/packer/fail")}, nil)
		var te *ToolError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want a *ToolError", err)
		}
		if te.ExitCode != 1 || !strings.Contains(te.Stderr, "exit status: 3") {
			t.Errorf("ToolError = exit %d, stderr %q; want exit 1 and the build's error", te.ExitCode, te.Stderr)
		}
	})
	t.Run("validate", func(t *testing.T) {
		dir := copyDir(t, "testdata/packer/manifest")
		sum, _, _, err := runStage(t, ctx, pipeline.ModePlan, &Packer{Dir: dir, Set: map[string]string{"manifest": "m.json"}}, nil)
		if err != nil || sum.Stages[0].Note != "template is valid" {
			t.Fatalf("plan: %v, %+v", err, sum)
		}
		if _, err := os.Stat(filepath.Join(dir, "m.json")); !os.IsNotExist(err) {
			t.Error("validate built something")
		}
		os.WriteFile(filepath.Join(dir, "build.pkr.hcl"), []byte(`source "null" "x" {`), 0o644)
		if _, _, _, err := runStage(t, ctx, pipeline.ModePlan, &Packer{Dir: dir}, nil); err == nil {
			t.Error("validate passed a broken template")
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		_, _, _, err := runStage(t, ctx, pipeline.ModeRun, &Packer{Dir: t.TempDir(), Binary: "/nonexistent/packer"}, nil)
		var me *MissingToolError
		if !errors.As(err, &me) || me.Tool != "packer" {
			t.Errorf("err = %v, want *MissingToolError for packer", err)
		}
	})
}

func hasLine(events []pipeline.Event, want string) bool {
	for _, e := range events {
		if e.Kind == pipeline.LogLine && strings.Contains(e.Line, want) {
			return true
		}
	}
	return false
}
