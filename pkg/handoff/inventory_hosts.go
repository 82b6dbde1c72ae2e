package handoff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

func (inv *AnsibleInventory) group(name string) *invGroup {
	if inv.groups == nil {
		inv.groups = map[string]*invGroup{}
	}
	g := inv.groups[name]
	if g == nil {
		g = &invGroup{hosts: map[string]map[string]any{}}
		inv.groups[name] = g
	}
	return g
}

func (inv *AnsibleInventory) hasHost(host string) bool {
	for _, g := range inv.groups {
		if _, ok := g.hosts[host]; ok {
			return true
		}
	}
	return false
}

// validate checks what needs the whole inventory: no cycles among children
// and an address for every host.
func (inv *AnsibleInventory) validate() error {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case active:
			start := 0
			for i, n := range path {
				if n == name {
					start = i
				}
			}
			return fmt.Errorf("groups form a cycle through children: %s", strings.Join(append(path[start:], name), " → "))
		case done:
			return nil
		}
		state[name] = active
		path = append(path, name)
		for _, c := range inv.groups[name].children {
			if c == "all" {
				return fmt.Errorf("group %q: all cannot be a child group: every group is already in all", name)
			}
			if err := visit(c); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	for _, name := range inv.groupNames() {
		if err := visit(name); err != nil {
			return err
		}
	}
	for _, h := range inv.Hosts() {
		if err := checkAddress(h); err != nil {
			return err
		}
		if h.Address == "" {
			return fmt.Errorf("group %q: host %q has no address: set ansible_host, or name the host by its IP address or DNS name", h.Groups[0], h.Name)
		}
	}
	return nil
}

func (inv *AnsibleInventory) groupNames() []string {
	names := make([]string, 0, len(inv.groups))
	for n := range inv.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Groups lists the inventory's groups by name, "all" included.
func (inv *AnsibleInventory) Groups() []string {
	if inv == nil {
		return nil
	}
	return inv.groupNames()
}

// Hosts lists every host once, sorted by name, with the vars Ansible would
// give it from the inventory.
func (inv *AnsibleInventory) Hosts() []InventoryHost {
	if inv == nil {
		return nil
	}
	memberships := inv.memberships()
	shared := groupSetVars{inv: inv, tree: inv.tree(), bySet: map[string]groupSet{}}
	hosts := make([]InventoryHost, 0, len(memberships))
	for name, ms := range memberships {
		sort.Slice(ms, func(i, j int) bool { return ms[i].group < ms[j].group })
		hosts = append(hosts, newInventoryHost(name, shared.of(ms), ms))
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts
}

// membership is a host's place in one group it is listed in, with the
// vars it has there.
type membership struct {
	group string
	vars  map[string]any
}

// memberships lists, for each host, the groups that list it.
func (inv *AnsibleInventory) memberships() map[string][]membership {
	out := map[string][]membership{}
	for name, g := range inv.groups {
		for host, vars := range g.hosts {
			out[host] = append(out[host], membership{name, vars})
		}
	}
	return out
}

// groupSet is what the hosts listed in the same groups share: the vars of
// those groups and their ancestors, and the groups' names.
type groupSet struct {
	vars   map[string]any
	groups []string
}

// groupSetVars works out the vars of each set of groups once, not once per
// host: an inventory of thousands of hosts usually has only a few sets.
type groupSetVars struct {
	inv   *AnsibleInventory
	tree  *groupTree
	bySet map[string]groupSet
	key   strings.Builder
}

// of returns what the groups of ms (sorted by group) give their hosts:
// the vars of every ancestor group, "all" first and the deepest last, so
// that a child group's vars win over its parents'.
func (g *groupSetVars) of(ms []membership) groupSet {
	g.key.Reset()
	for _, m := range ms {
		g.key.WriteString(m.group)
		g.key.WriteByte(0)
	}
	if sh, ok := g.bySet[g.key.String()]; ok {
		return sh
	}
	t := g.tree
	groups := []string{}
	for _, m := range ms {
		for _, a := range t.ancestors(m.group) {
			groups = appendNew(groups, a)
		}
	}
	sort.Slice(groups, func(i, j int) bool {
		if t.depth[groups[i]] != t.depth[groups[j]] {
			return t.depth[groups[i]] < t.depth[groups[j]]
		}
		return groups[i] < groups[j]
	})
	sh := groupSet{vars: map[string]any{}}
	for _, name := range groups {
		for k, v := range g.inv.groups[name].vars {
			sh.vars[k] = v
		}
	}
	for _, m := range ms {
		sh.groups = append(sh.groups, m.group)
	}
	g.bySet[g.key.String()] = sh
	return sh
}

// newInventoryHost is the host name with its groups' vars and, over them,
// its own, and the connection settings Ansible reads from those vars.
func newInventoryHost(name string, sh groupSet, ms []membership) InventoryHost {
	n := len(sh.vars)
	for _, m := range ms {
		n += len(m.vars)
	}
	vars := make(map[string]any, n)
	for k, v := range sh.vars {
		vars[k] = v
	}
	for _, m := range ms {
		for k, v := range m.vars {
			vars[k] = v
		}
	}
	h := InventoryHost{Name: name, Vars: vars, Groups: append([]string(nil), sh.groups...)}
	h.Address, _ = vars["ansible_host"].(string)
	if h.Address == "" && isAddress(name) {
		h.Address = name
	}
	h.User, _ = vars["ansible_user"].(string)
	h.Port, _ = portOf(vars["ansible_port"])
	return h
}

// groupTree is the inventory's groups seen from the children up.
type groupTree struct {
	parents map[string][]string
	depth   map[string]int // distance from "all", for var precedence
	above   map[string][]string
}

func (inv *AnsibleInventory) tree() *groupTree {
	t := &groupTree{parents: map[string][]string{}, depth: map[string]int{"all": 0}, above: map[string][]string{}}
	names := inv.groupNames()
	for _, pn := range names {
		for _, c := range inv.groups[pn].children {
			t.parents[c] = append(t.parents[c], pn)
		}
	}
	queue := []string{"all"}
	// Groups nobody lists are children of all.
	for _, n := range names {
		if n != "all" && len(t.parents[n]) == 0 {
			t.depth[n] = 1
			queue = append(queue, n)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, c := range inv.groups[n].children {
			if _, ok := t.depth[c]; !ok {
				t.depth[c] = t.depth[n] + 1
				queue = append(queue, c)
			}
		}
	}
	return t
}

// ancestors is the group and every group it is a child of, "all" included.
func (t *groupTree) ancestors(name string) []string {
	if out, ok := t.above[name]; ok {
		return out
	}
	out := []string{name}
	for i := 0; i < len(out); i++ {
		for _, pn := range t.parents[out[i]] {
			out = appendNew(out, pn)
		}
	}
	out = appendNew(out, "all")
	t.above[name] = out
	return out
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// MarshalJSON writes the static shape ansible-playbook reads from a .json
// inventory: every group under all.children with its hosts and vars, and
// nested groups named (as empty mappings) under their parents' children.
func (inv *AnsibleInventory) MarshalJSON() ([]byte, error) {
	type group struct {
		Hosts    map[string]map[string]any `json:"hosts,omitempty"`
		Vars     map[string]any            `json:"vars,omitempty"`
		Children map[string]struct{}       `json:"children,omitempty"`
	}
	type top struct {
		Hosts    map[string]map[string]any `json:"hosts,omitempty"`
		Vars     map[string]any            `json:"vars,omitempty"`
		Children map[string]group          `json:"children,omitempty"`
	}
	all := top{}
	if inv != nil {
		for _, name := range inv.groupNames() {
			g := inv.groups[name]
			hosts := map[string]map[string]any{}
			for h, v := range g.hosts {
				if v == nil {
					v = map[string]any{}
				}
				hosts[h] = v
			}
			if len(hosts) == 0 {
				hosts = nil
			}
			if name == "all" {
				all.Hosts, all.Vars = hosts, g.vars
				continue
			}
			out := group{Hosts: hosts, Vars: g.vars}
			for _, c := range g.children {
				if out.Children == nil {
					out.Children = map[string]struct{}{}
				}
				out.Children[c] = struct{}{}
			}
			if all.Children == nil {
				all.Children = map[string]group{}
			}
			all.Children[name] = out
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]top{"all": all}); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}
