package handoff

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// staticInventory is the shape examples/local's Terraform writes.
const staticInventory = `{
  "all": {
    "vars": {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3"},
    "children": {
      "web": {
        "hosts": {
          "web-1": {"ansible_host": "127.0.0.11", "ansible_port": 2222},
          "web-2": {"ansible_host": "127.0.0.12", "ansible_port": 2222}
        },
        "vars": {"http_port": 8080}
      },
      "db": {"hosts": {"db-1": {"ansible_host": "127.0.0.13", "ansible_port": 2222, "ansible_user": "postgres"}}}
    }
  }
}`

// dynamicInventory is what a dynamic inventory script prints (ansible-inventory --list).
const dynamicInventory = `{
  "_meta": {"hostvars": {
    "web-1": {"ansible_host": "127.0.0.11", "ansible_port": 2222},
    "web-2": {"ansible_host": "127.0.0.12", "ansible_port": 2222},
    "db-1": {"ansible_host": "127.0.0.13", "ansible_port": 2222, "ansible_user": "postgres"}
  }},
  "all": {"children": ["ungrouped", "web", "db"], "vars": {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3"}},
  "web": {"hosts": ["web-1", "web-2"], "vars": {"http_port": 8080}},
  "db": ["db-1"],
  "ungrouped": {"hosts": []}
}`

const yamlInventory = `
all:
  vars:
    ansible_user: root
    ansible_python_interpreter: /usr/bin/python3
  children:
    web:
      hosts:
        web-1: {ansible_host: 127.0.0.11, ansible_port: 2222}
        web-2:
          ansible_host: 127.0.0.12
          ansible_port: 2222
      vars:
        http_port: 8080
    db:
      hosts:
        db-1: {ansible_host: 127.0.0.13, ansible_port: 2222, ansible_user: postgres}
`

func TestParseInventoryShapesAgree(t *testing.T) {
	encoded, _ := json.Marshal(staticInventory) // a jsonencode()d Terraform output
	for name, in := range map[string]string{
		"static json":    staticInventory,
		"dynamic script": dynamicInventory,
		"static yaml":    yamlInventory,
		"json string":    string(encoded),
	} {
		t.Run(name, func(t *testing.T) {
			inv, err := ParseInventory([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			hosts := inv.Hosts()
			var got []string
			for _, h := range hosts {
				got = append(got, h.Name+"="+h.User+"@"+h.SSHAddr()+" "+strings.Join(h.Groups, ","))
			}
			want := []string{
				"db-1=postgres@127.0.0.13:2222 db",
				"web-1=root@127.0.0.11:2222 web",
				"web-2=root@127.0.0.12:2222 web",
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("hosts:\n got %q\nwant %q", got, want)
			}
			if v := hosts[1].Vars["http_port"]; v != 8080 {
				t.Errorf("web-1 http_port = %#v, want 8080 from its group", v)
			}
			if v := hosts[0].Vars["http_port"]; v != nil {
				t.Errorf("db-1 got web's var http_port = %v", v)
			}
		})
	}
}

func TestInventoryNormalisesToStaticShape(t *testing.T) {
	inv, err := ParseInventory([]byte(dynamicInventory))
	if err != nil {
		t.Fatal(err)
	}
	out, err := inv.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		All struct {
			Vars     map[string]any `json:"vars"`
			Children map[string]struct {
				Hosts map[string]map[string]any `json:"hosts"`
			} `json:"children"`
		} `json:"all"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.All.Children["web"].Hosts["web-2"]["ansible_host"]; got != "127.0.0.12" {
		t.Errorf("all.children.web.hosts.web-2.ansible_host = %v, want 127.0.0.12\n%s", got, out)
	}
	if got := doc.All.Vars["ansible_user"]; got != "root" {
		t.Errorf("all.vars.ansible_user = %v, want root", got)
	}
	// Normalising is idempotent: the static form parses to itself.
	again, err := ParseInventory(out)
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := again.MarshalJSON()
	if string(out) != string(out2) {
		t.Errorf("not idempotent:\n%s\n%s", out, out2)
	}
}

func TestInventoryNestedGroups(t *testing.T) {
	in := `
all:
  vars: {ansible_user: root, tier: none}
  children:
    prod:
      vars: {tier: prod}
      children:
        web:
          vars: {tier: web}
          hosts:
            10.0.0.5: {}
        db:
          hosts:
            db.example.com:
    ungrouped:
      hosts:
        10.0.0.9:
`
	inv, err := ParseInventory([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	hosts := inv.Hosts()
	if len(hosts) != 3 {
		t.Fatalf("got %d hosts, want 3", len(hosts))
	}
	tiers := map[string]any{}
	for _, h := range hosts {
		tiers[h.Name] = h.Vars["tier"]
		if h.Address != h.Name {
			t.Errorf("host %s: address %q, want its name", h.Name, h.Address)
		}
	}
	want := map[string]any{"10.0.0.5": "web", "db.example.com": "prod", "10.0.0.9": "none"}
	if !reflect.DeepEqual(tiers, want) {
		t.Errorf("tier by host = %v, want %v (inner groups win)", tiers, want)
	}
	out, _ := inv.MarshalJSON()
	again, err := ParseInventory(out)
	if err != nil {
		t.Fatalf("normalised form does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again.Hosts(), hosts) {
		t.Errorf("hosts changed by normalising:\n%v\n%v", again.Hosts(), hosts)
	}
}

func TestParseInventoryErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // all must appear in the error
	}{
		{"not yaml", `{"all": [`, []string{"not JSON or YAML"}},
		{"a list", `[1, 2]`, []string{"mapping of group names"}},
		{"no address", `{"all": {"children": {"web": {"hosts": {"web-1": {}}}}}}`, []string{`group "web"`, `host "web-1"`, "no address", "ansible_host"}},
		{"no address dynamic", `{"web": {"hosts": ["web-1"]}, "_meta": {"hostvars": {}}}`, []string{`"web-1"`, "no address"}},
		{"empty host name", `{"web": {"hosts": {"": {"ansible_host": "10.0.0.1"}}}}`, []string{`group "web"`, "empty name"}},
		{"empty group name", `{"": {"hosts": {"a.example": {}}}}`, []string{"empty name"}},
		{"duplicate in list", `{"web": {"hosts": ["10.0.0.1", "10.0.0.1"]}}`, []string{`group "web"`, `"10.0.0.1"`, "twice"}},
		{"duplicate key", `{"web": {"hosts": {"10.0.0.1": {}, "10.0.0.1": {}}}}`, []string{"10.0.0.1", "already defined"}},
		{"host vars not a mapping", `{"web": {"hosts": {"web-1": "10.0.0.1"}}}`, []string{`group "web"`, `host "web-1"`, "mapping"}},
		{"group vars a list", `{"web": {"vars": [1], "hosts": {"10.0.0.1": {}}}}`, []string{`group "web"`, "vars", "mapping"}},
		{"hostvars not a mapping", `{"web": ["10.0.0.1"], "_meta": {"hostvars": {"10.0.0.1": [1]}}}`, []string{`host "10.0.0.1"`, "mapping"}},
		{"cycle", `{"a": {"children": {"b": {"children": {"a": {}}}}}}`, []string{"cycle", "a → b → a"}},
		{"cycle dynamic", `{"a": {"children": ["b"]}, "b": {"children": ["c"]}, "c": {"children": ["b"]}}`, []string{"cycle", "b → c → b"}},
		{"all as child", `{"web": {"children": ["all"]}}`, []string{`group "web"`, "all cannot be a child"}},
		{"unknown key", `{"web": {"host": {"10.0.0.1": {}}}}`, []string{`group "web"`, `unknown key "host"`}},
		{"range", `{"web": {"hosts": {"web[1:3].example.com": {}}}}`, []string{"ranges are not supported"}},
		{"port in name", `{"web": {"hosts": {"web.example.com:2222": {}}}}`, []string{"ansible_port"}},
		{"bad port", `{"web": {"hosts": {"10.0.0.1": {"ansible_port": "ssh"}}}}`, []string{`host "10.0.0.1"`, "ansible_port", "1 to 65535"}},
		{"bad ansible_host", `{"web": {"hosts": {"w": {"ansible_host": 5}}}}`, []string{`host "w"`, "ansible_host"}},
		{"orphan hostvars", `{"web": ["10.0.0.1"], "_meta": {"hostvars": {"10.0.0.2": {}}}}`, []string{`"10.0.0.2"`, "in no group"}},
		{"string not inventory", `"hello: ["`, []string{"not an inventory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInventory([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error for %s", tt.in)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestInventoryKeyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/inventory.yml"
	writeFile(t, path, yamlInventory)
	raw, err := Inventory.ParseText(path)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Inventory.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(inv.Hosts()); got != 3 {
		t.Errorf("got %d hosts, want 3", got)
	}
	if got, want := Inventory.Display(raw), "3 hosts (db-1, web-1, web-2)"; got != want {
		t.Errorf("Display = %q, want %q", got, want)
	}
	if _, err := Inventory.ParseText(dir + "/missing.json"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: err = %v", err)
	}
	writeFile(t, dir+"/bad.json", `{"web": {"hosts": {"web-1": {}}}}`)
	if _, err := Inventory.ParseText(dir + "/bad.json"); err == nil || !strings.Contains(err.Error(), dir+"/bad.json") {
		t.Errorf("bad inventory: error %v does not name the file", err)
	}
}

// FuzzParseInventory checks that any input either fails cleanly or parses
// to an inventory whose static form parses back to the same hosts.
func FuzzParseInventory(f *testing.F) {
	for _, s := range []string{staticInventory, dynamicInventory, yamlInventory,
		`{"a": {"children": ["a"]}}`, `{"web": null}`, `all: {hosts: {10.0.0.1: }}`,
		`{"_meta": {"hostvars": {"h": {"ansible_host": "1.2.3.4"}}}, "g": ["h"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory(data)
		if err != nil {
			if inv != nil {
				t.Fatal("inventory and error both returned")
			}
			return
		}
		out, err := inv.MarshalJSON()
		if err != nil {
			t.Fatalf("valid inventory does not marshal: %v", err)
		}
		again, err := ParseInventory(out)
		if err != nil {
			t.Fatalf("normalised form does not parse: %v\n%s", err, out)
		}
		out2, err := again.MarshalJSON()
		if err != nil || string(out) != string(out2) {
			t.Fatalf("normalising is not idempotent:\n%s\n%s", out, out2)
		}
		for _, h := range again.Hosts() {
			if h.Address == "" {
				t.Fatalf("host %q has no address", h.Name)
			}
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
