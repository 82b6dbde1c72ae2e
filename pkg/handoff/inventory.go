package handoff

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// AnsibleInventory is a validated Ansible inventory in the static shape:
// groups with hosts (each with its vars), group vars and child groups, all
// under the implicit group "all". The zero value is an empty inventory.
//
// Build one with [ParseInventory]; it is immutable afterwards.
type AnsibleInventory struct {
	groups map[string]*invGroup
}

type invGroup struct {
	hosts    map[string]map[string]any // host → its vars in this group
	vars     map[string]any
	children []string
}

// InventoryHost is one host of an inventory with the vars Ansible would
// give it from the inventory: the vars of "all", then of its groups from the
// outermost to the innermost, then its own.
type InventoryHost struct {
	Name    string
	Address string // ansible_host, or the name when the name is an address
	Port    int    // ansible_port; 0 when unset (SSH's default, 22)
	User    string // ansible_user; empty when unset
	Groups  []string
	Vars    map[string]any
}

// SSHAddr is the host's address and port (22 when unset) as host:port.
func (h InventoryHost) SSHAddr() string {
	port := h.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(h.Address, strconv.Itoa(port))
}

// groupKeys are the keys a group may have in the static shape.
var groupKeys = map[string]bool{"hosts": true, "vars": true, "children": true}

// ParseInventory reads an Ansible inventory in JSON or YAML. It accepts the
// static shape (all → children → groups whose hosts are a map of host → vars)
// and the dynamic-inventory-script shape (groups whose hosts and children are
// lists, host vars under _meta.hostvars), and a JSON string holding either
// (what `terraform output` gives for a jsonencode()d value).
//
// Every host must have an address: ansible_host, or a name that is an IP
// address or DNS name. Empty or duplicate names, vars that are not mappings,
// unknown group keys and cycles among children are errors naming the group
// and host.
func ParseInventory(data []byte) (*AnsibleInventory, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not JSON or YAML: %s", yamlErr(err))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!str" && strings.TrimSpace(root.Value) != "" {
		// A jsonencode()d output: parse what the string holds, once.
		var inner yaml.Node
		if err := yaml.Unmarshal([]byte(root.Value), &inner); err != nil {
			return nil, fmt.Errorf("a string that is not an inventory: %s", yamlErr(err))
		}
		root = &inner
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
	}
	var nodes int
	if err := noDuplicateKeys(root, 0, &nodes); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("an inventory is a mapping of group names to groups, e.g. {\"all\": {\"children\": {\"web\": {\"hosts\": {\"web-1\": {\"ansible_host\": \"10.0.0.5\"}}}}}}")
	}
	p := &invParser{inv: &AnsibleInventory{groups: map[string]*invGroup{}}, budget: budget{nodes: nodes + maxVarNodes}}
	if err := p.parse(root); err != nil {
		return nil, err
	}
	if err := p.inv.validate(); err != nil {
		return nil, err
	}
	return p.inv, nil
}

type invParser struct {
	inv      *AnsibleInventory
	hostvars map[string]map[string]any // from _meta.hostvars
	listed   map[string]bool           // hosts listed by the dynamic shape
	budget   budget
}

func (p *invParser) parse(root *yaml.Node) error {
	var meta *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		name, body := root.Content[i].Value, root.Content[i+1]
		if name == "_meta" {
			meta = body
			continue
		}
		if err := p.group(name, body); err != nil {
			return err
		}
	}
	if meta != nil {
		if err := p.meta(meta); err != nil {
			return err
		}
	}
	p.inv.group("all")
	return nil
}

func (p *invParser) meta(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return errors.New("_meta must be a mapping with hostvars")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "hostvars" {
			continue
		}
		hv := n.Content[i+1]
		if hv.Kind != yaml.MappingNode {
			return errors.New("_meta.hostvars must map host names to their vars")
		}
		p.hostvars = map[string]map[string]any{}
		for j := 0; j+1 < len(hv.Content); j += 2 {
			host := hv.Content[j].Value
			vars, err := varsOf(hv.Content[j+1], &p.budget)
			if err != nil {
				return fmt.Errorf("_meta.hostvars: host %q: %w", host, err)
			}
			p.hostvars[host] = vars
		}
	}
	// Host vars apply to the host wherever it is listed.
	for _, g := range p.inv.groups {
		for host := range g.hosts {
			if p.listed[host] && p.hostvars[host] != nil {
				g.hosts[host] = p.hostvars[host]
			}
		}
	}
	for host := range p.hostvars {
		if !p.listed[host] && !p.inv.hasHost(host) {
			return fmt.Errorf("_meta.hostvars: host %q is in no group: list it in a group's hosts", host)
		}
	}
	return nil
}

// group reads one group, in either shape, merging into what is known of it.
func (p *invParser) group(name string, n *yaml.Node) error {
	if err := checkGroupName(name); err != nil {
		return err
	}
	g := p.inv.group(name)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil // a group with nothing in it
		}
		return fmt.Errorf("group %q: want a mapping with hosts, vars and children, got %q", name, truncate(n.Value))
	case yaml.SequenceNode: // dynamic shape: a group that is just its hosts
		return p.hostList(name, g, n)
	case yaml.MappingNode:
	default:
		return fmt.Errorf("group %q: want a mapping with hosts, vars and children", name)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		if !groupKeys[key] {
			return fmt.Errorf("group %q: unknown key %q: a group has only hosts, vars and children", name, key)
		}
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			continue
		}
		var err error
		switch key {
		case "hosts":
			if val.Kind == yaml.SequenceNode {
				err = p.hostList(name, g, val)
			} else {
				err = p.hostMap(name, g, val)
			}
		case "vars":
			var vars map[string]any
			if vars, err = varsOf(val, &p.budget); err != nil {
				err = fmt.Errorf("group %q: vars: %w", name, err)
				break
			}
			if g.vars == nil {
				g.vars = map[string]any{}
			}
			for k, v := range vars {
				g.vars[k] = v
			}
		case "children":
			err = p.children(name, g, val)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *invParser) hostList(group string, g *invGroup, n *yaml.Node) error {
	seen := map[string]bool{}
	for _, h := range n.Content {
		if h.Kind != yaml.ScalarNode {
			return fmt.Errorf("group %q: hosts: want host names, got a %s", group, kindName(h))
		}
		if err := checkHostName(group, h.Value); err != nil {
			return err
		}
		if seen[h.Value] {
			return fmt.Errorf("group %q: host %q is listed twice", group, h.Value)
		}
		seen[h.Value] = true
		if p.listed == nil {
			p.listed = map[string]bool{}
		}
		p.listed[h.Value] = true
		if _, ok := g.hosts[h.Value]; !ok {
			g.hosts[h.Value] = map[string]any{}
		}
	}
	return nil
}

func (p *invParser) hostMap(group string, g *invGroup, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("group %q: hosts: want a mapping of host names to their vars, or a list of names", group)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		host := n.Content[i].Value
		if err := checkHostName(group, host); err != nil {
			return err
		}
		vars, err := varsOf(n.Content[i+1], &p.budget)
		if err != nil {
			return fmt.Errorf("group %q: host %q: %w", group, host, err)
		}
		merged := g.hosts[host]
		if merged == nil {
			merged = map[string]any{}
		}
		for k, v := range vars {
			merged[k] = v
		}
		g.hosts[host] = merged
	}
	return nil
}

func (p *invParser) children(group string, g *invGroup, n *yaml.Node) error {
	add := func(child string) {
		for _, c := range g.children {
			if c == child {
				return
			}
		}
		g.children = append(g.children, child)
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("group %q: children: want group names, got a %s", group, kindName(c))
			}
			if err := checkGroupName(c.Value); err != nil {
				return fmt.Errorf("group %q: children: %w", group, err)
			}
			p.inv.group(c.Value)
			add(c.Value)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			child := n.Content[i].Value
			if err := p.group(child, n.Content[i+1]); err != nil {
				return err
			}
			add(child)
		}
	default:
		return fmt.Errorf("group %q: children: want a mapping of groups or a list of group names", group)
	}
	return nil
}
