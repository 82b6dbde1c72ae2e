//go:build baton_tf_v2

package stages

import (
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestInputVars(t *testing.T) {
	in := &handoff.Values{}
	if err := handoff.TemplateID.Put(in, 8025); err != nil {
		t.Fatal(err)
	}
	s := &Terraform{
		Vars: []Var{{Name: "template_id", From: handoff.TemplateID}},
		Set:  map[string]string{"template_id": "1", "out_dir": "/x y", "a": ""},
	}
	got, err := s.inputVars(&pipeline.Job{In: in})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a=|out_dir=/x y|template_id=8025"; strings.Join(got, "|") != want {
		t.Errorf("vars = %q, want %q", got, want)
	}
	if _, err := s.inputVars(&pipeline.Job{In: &handoff.Values{}}); err == nil || !strings.Contains(err.Error(), "template_id") {
		t.Errorf("without the handoff: %v, want an error naming it", err)
	}
}

func TestCheckDeclared(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		vars  []string
		err   string
	}{
		{"declared in HCL and JSON", map[string]string{
			"a.tf":      "variable \"template_id\" {\n  type = number\n}\n  variable out_dir {}\nvariable \"with-dash\" { default = 1 }\n",
			"b.tf.json": `{"variable": {"from_json": {}}}`,
		}, []string{"template_id=8025", "out_dir=/x", "with-dash=2", "from_json=3"}, ""},
		{"undeclared", map[string]string{"a.tf": "variable \"out_dir\" {}\n# variable \"template_id\" {}\n"},
			[]string{"template_id=8025", "out_dir=/x", "other=1"}, "variable template_id, other is not declared in "},
		{"no configuration: left to Terraform", map[string]string{"README": "x"}, []string{"template_id=1"}, ""},
		{"JSON Terraform cannot read either: left to Terraform", map[string]string{"a.tf.json": "{"}, []string{"template_id=1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			err := checkDeclared(dir, tt.vars)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("err = %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "add `variable \"template_id\" {}`")):
				t.Errorf("err = %v, want %q and the declaration to add", err, tt.err)
			}
		})
	}
}
