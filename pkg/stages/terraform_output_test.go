//go:build baton_tf_v2

package stages

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/baton-deploy/baton/pkg/handoff"
)

func TestGiveOutputs(t *testing.T) {
	inv := `{"all":{"children":{"web":{"hosts":{"web-1":{"ansible_host":"10.0.0.5"}}}}}}`
	token := handoff.NewString("token") // not Secret(): the output's sensitivity decides
	tests := []struct {
		name    string
		outs    map[string]tfexec.OutputMeta
		want    []Output
		secrets []string // masked, in order
		given   map[string]bool
		err     string
	}{
		{"an inventory object", map[string]tfexec.OutputMeta{"inv": {Value: json.RawMessage(inv)}},
			[]Output{{"inv", handoff.Inventory}}, nil, map[string]bool{"inventory": false}, ""},
		{"a jsonencode()d inventory", map[string]tfexec.OutputMeta{"inv": {Value: json.RawMessage(mustJSON(t, inv))}},
			[]Output{{"inv", handoff.Inventory}}, nil, map[string]bool{"inventory": false}, ""},
		{"sensitive outputs are masked, wanted or not, and given as sensitive",
			map[string]tfexec.OutputMeta{
				"token": {Sensitive: true, Value: json.RawMessage(`"tok-s3cr3t"`)},
				"db":    {Sensitive: true, Value: json.RawMessage(`{"password": "pw-s3cr3t", "port": 5432, "tls": true}`)},
				"plain": {Value: json.RawMessage(`"shown"`)},
			},
			[]Output{{"token", token}}, []string{"5432", "pw-s3cr3t", `{"password":"pw-s3cr3t","port":5432,"tls":true}`, "tok-s3cr3t"},
			map[string]bool{"token": true}, ""},
		{"a missing output names those there are", map[string]tfexec.OutputMeta{"a": {Value: json.RawMessage(`1`)}, "b": {Value: json.RawMessage(`2`)}},
			[]Output{{"x", token}, {"y", token}}, nil, nil, "no output x, y (outputs: a, b): add `output \"x\" { value = ... }`"},
		{"no outputs at all", nil, []Output{{"x", token}}, nil, nil, "no output x (outputs: none)"},
		{"a value the handoff rejects", map[string]tfexec.OutputMeta{"id": {Value: json.RawMessage(`"abc"`)}},
			[]Output{{"id", handoff.TemplateID}}, nil, nil, "output id is not a valid template_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &handoff.Values{}
			var secrets []string
			err := giveOutputs(tt.outs, tt.want, out, func(v ...string) {
				if out.Len() > 0 {
					t.Error("a value was given before the secrets were masked")
				}
				secrets = append(secrets, v...)
			})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(secrets, "|"), strings.Join(tt.secrets, "|"); got != want {
				t.Errorf("masked %q, want %q", got, want)
			}
			for name, sensitive := range tt.given {
				v, ok := out.Lookup(name)
				if !ok || v.Sensitive != sensitive {
					t.Errorf("%s given: %v, sensitive %v; want sensitive %v", name, ok, v.Sensitive, sensitive)
				}
			}
			if out.Len() != len(tt.given) {
				t.Errorf("gave %d values, want %d", out.Len(), len(tt.given))
			}
		})
	}
}

func mustJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSecretStrings(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{`"abc"`, `abc`},
		{`12345678901234567890`, `12345678901234567890`},
		{`["a", ["b", 1.5], null, false]`, `1.5|["a",["b",1.5],null,false]|a|b`},
		{"{\n  \"k\": \"v\"\n}", `v|{"k":"v"}`},
		{`not json`, `not json`},
	}
	for _, tt := range tests {
		if got := strings.Join(secretStrings(json.RawMessage(tt.raw)), "|"); got != tt.want {
			t.Errorf("secretStrings(%s) = %s, want %s", tt.raw, got, tt.want)
		}
	}
}
