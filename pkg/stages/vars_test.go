package stages

import (
	"maps"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// Every stage that takes variables merges them one way: Set, then the
// handoffs of Vars over it.
func TestToolVars(t *testing.T) {
	var in handoff.Values
	in.Set(handoff.Value{Name: "template_id", Raw: []byte("8025")})
	in.Set(handoff.Value{Name: "node", Raw: []byte(`"pve2"`)})
	tid, node := handoff.TemplateID, handoff.NewString("node")
	tests := []struct {
		name string
		vars []Var
		set  map[string]string
		want map[string]string
	}{
		{"static only", nil, map[string]string{"a": "1"}, map[string]string{"a": "1"}},
		{"handoffs only, strings unquoted", []Var{{"template_id", tid}, {"vm_node", node}}, nil,
			map[string]string{"template_id": "8025", "vm_node": "pve2"}},
		{"a handoff wins over a static value", []Var{{"template_id", tid}}, map[string]string{"template_id": "1", "b": "2"},
			map[string]string{"template_id": "8025", "b": "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toolVars(&in, tc.vars, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	_, err := toolVars(&in, []Var{{"x", handoff.NewString("missing")}}, nil)
	if err == nil || !strings.Contains(err.Error(), "handoff missing is not available") {
		t.Errorf("err = %v, want the missing handoff named", err)
	}
}
