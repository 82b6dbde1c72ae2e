package handoff

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// largeInventory is a Terraform-made inventory of n hosts in groups of 100,
// each host with an address, a port, a user and a few vars of its own.
func largeInventory(n int) []byte {
	children := map[string]any{}
	for g := 0; g*100 < n; g++ {
		hosts := map[string]any{}
		for i := g * 100; i < n && i < (g+1)*100; i++ {
			hosts[fmt.Sprintf("web-%06d", i)] = map[string]any{
				"ansible_host": fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
				"ansible_port": 22,
				"ansible_user": "deploy",
				"vmid":         100000 + i,
				"zone":         fmt.Sprintf("zone-%d", i%7),
				"tags":         []string{"web", "blue", fmt.Sprintf("rack-%d", i%40)},
			}
		}
		children[fmt.Sprintf("group_%d", g)] = map[string]any{"hosts": hosts, "vars": map[string]any{"tier": "web"}}
	}
	data, err := json.Marshal(map[string]any{"all": map[string]any{"children": children, "vars": map[string]any{"env": "bench"}}})
	if err != nil {
		panic(err)
	}
	return data
}

// BenchmarkParseInventory measures the decoder of an inventory (as read
// from a file, Terraform's output or the store) on a large inventory.
func BenchmarkParseInventory(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		data := largeInventory(n)
		b.Run(fmt.Sprintf("hosts=%d/MB=%.1f", n, float64(len(data))/1e6), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				inv, err := ParseInventory(data)
				if err != nil {
					b.Fatal(err)
				}
				if len(inv.Hosts()) != n {
					b.Fatal("lost hosts")
				}
			}
		})
	}
}

// The fast path for plain scalars gives what Node.Decode gives.
func TestPlainScalarMatchesDecode(t *testing.T) {
	doc := `[hello, "", "true", true, false, True, null, ~, 0, 7, -7, 22, 007, 0x1F, 1_000, +5, 999999999999999999, 9999999999999999999, 1.5, .inf, "12"]`
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	for _, n := range root.Content[0].Content {
		got, ok := plainScalar(n)
		if !ok {
			continue
		}
		var want any
		if err := n.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s %q: got %#v, want %#v", n.Tag, n.Value, got, want)
		}
	}
}

// An inventory with more values than the alias budget parses: the budget
// bounds what aliases add, not the size of the document.
func TestLargeInventoryIsNotTakenForAnAliasBomb(t *testing.T) {
	defer func(n int) { maxVarNodes = n }(maxVarNodes)
	maxVarNodes = 1000
	inv, err := ParseInventory(largeInventory(500)) // about 5000 values
	if err != nil {
		t.Fatal(err)
	}
	if got := len(inv.Hosts()); got != 500 {
		t.Errorf("got %d hosts, want 500", got)
	}
	bomb := `web:
  vars:
    a: &a [x, x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
  hosts: {10.0.0.1: {}}`
	if _, err := ParseInventory([]byte(bomb)); err == nil || !strings.Contains(err.Error(), "too many values") {
		t.Errorf("alias bomb: err = %v, want too many values", err)
	}
}
