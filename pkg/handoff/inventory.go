package handoff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
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
	if err := noDuplicateKeys(root, 0); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("an inventory is a mapping of group names to groups, e.g. {\"all\": {\"children\": {\"web\": {\"hosts\": {\"web-1\": {\"ansible_host\": \"10.0.0.5\"}}}}}}")
	}
	p := &invParser{inv: &AnsibleInventory{groups: map[string]*invGroup{}}, budget: budget{nodes: maxVarNodes}}
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
		if h.Address == "" {
			return fmt.Errorf("group %q: host %q has no address: set ansible_host, or name the host by its IP address or DNS name", h.Groups[0], h.Name)
		}
		if err := checkAddress(h); err != nil {
			return err
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
	depth := inv.depths()
	type member struct {
		group string
		vars  map[string]any
	}
	memberships := map[string][]member{}
	for name, g := range inv.groups {
		for host, vars := range g.hosts {
			memberships[host] = append(memberships[host], member{name, vars})
		}
	}
	hosts := make([]InventoryHost, 0, len(memberships))
	for name, ms := range memberships {
		groups := inv.ancestors(ms[0].group)
		for _, m := range ms[1:] {
			for _, a := range inv.ancestors(m.group) {
				groups = appendNew(groups, a)
			}
		}
		sort.Slice(groups, func(i, j int) bool {
			if depth[groups[i]] != depth[groups[j]] {
				return depth[groups[i]] < depth[groups[j]]
			}
			return groups[i] < groups[j]
		})
		vars := map[string]any{}
		for _, g := range groups {
			for k, v := range inv.groups[g].vars {
				vars[k] = v
			}
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].group < ms[j].group })
		for _, m := range ms {
			for k, v := range m.vars {
				vars[k] = v
			}
		}
		h := InventoryHost{Name: name, Vars: vars}
		for _, m := range ms {
			h.Groups = append(h.Groups, m.group)
		}
		h.Address, _ = vars["ansible_host"].(string)
		if h.Address == "" && isAddress(name) {
			h.Address = name
		}
		h.User, _ = vars["ansible_user"].(string)
		h.Port, _ = portOf(vars["ansible_port"])
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	return hosts
}

// depths gives each group its distance from "all", for var precedence.
func (inv *AnsibleInventory) depths() map[string]int {
	depth := map[string]int{"all": 0}
	queue := []string{"all"}
	// Groups nobody lists are children of all.
	for _, n := range inv.groupNames() {
		if n != "all" && !inv.isChild(n) {
			depth[n] = 1
			queue = append(queue, n)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, c := range inv.groups[n].children {
			if _, ok := depth[c]; !ok {
				depth[c] = depth[n] + 1
				queue = append(queue, c)
			}
		}
	}
	return depth
}

func (inv *AnsibleInventory) isChild(name string) bool {
	for _, g := range inv.groups {
		for _, c := range g.children {
			if c == name {
				return true
			}
		}
	}
	return false
}

// ancestors is the group and every group it is a child of, "all" included.
func (inv *AnsibleInventory) ancestors(name string) []string {
	out := []string{name}
	for i := 0; i < len(out); i++ {
		for _, pn := range inv.groupNames() {
			for _, c := range inv.groups[pn].children {
				if c == out[i] {
					out = appendNew(out, pn)
				}
			}
		}
	}
	return appendNew(out, "all")
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

func checkGroupName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("a group has an empty name")
	}
	if strings.ContainsAny(name, " \t\r\n[],:") {
		return fmt.Errorf("group %q: a group name has no spaces, brackets, commas or colons", name)
	}
	return nil
}

func checkHostName(group, host string) error {
	if strings.TrimSpace(host) == "" {
		return fmt.Errorf("group %q: a host has an empty name", group)
	}
	if strings.ContainsAny(host, " \t\r\n,") {
		return fmt.Errorf("group %q: host %q: a host name has no spaces or commas", group, host)
	}
	if strings.ContainsAny(host, "[]") {
		return fmt.Errorf("group %q: host %q: host ranges are not supported here: list each host", group, host)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return fmt.Errorf("group %q: host %q: put the port in ansible_port, not in the name", group, host)
	}
	return nil
}

func checkAddress(h InventoryHost) error {
	if v, ok := h.Vars["ansible_host"]; ok {
		s, isString := v.(string)
		if !isString || strings.TrimSpace(s) == "" || strings.ContainsAny(s, " \t\r\n") {
			return fmt.Errorf("host %q: ansible_host must be an IP address or DNS name, got %v", h.Name, v)
		}
	}
	if v, ok := h.Vars["ansible_port"]; ok {
		if _, err := portOf(v); err != nil {
			return fmt.Errorf("host %q: %w", h.Name, err)
		}
	}
	return nil
}

func portOf(v any) (int, error) {
	var n int
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int:
		n = v
	case float64:
		n = int(v)
		if float64(n) != v {
			n = -1
		}
	case string:
		var err error
		if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			n = -1
		}
	default:
		n = -1
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("ansible_port must be a port from 1 to 65535, got %v", v)
	}
	return n, nil
}

// isAddress reports whether a host name can be connected to as it is: an IP
// address, localhost, or a DNS name with a dot.
func isAddress(name string) bool {
	if net.ParseIP(name) != nil || name == "localhost" {
		return true
	}
	if !strings.Contains(name, ".") || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

// varsOf reads a mapping of variables; null is no variables.
func varsOf(n *yaml.Node, b *budget) (map[string]any, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return map[string]any{}, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("vars must be a mapping of names to values, got a %s", kindName(n))
	}
	v, err := valueOf(n, b, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// Bounds on the vars of one inventory, so that YAML aliases cannot multiply a small
// file into an enormous one or refer to themselves.
const (
	maxVarNodes = 1 << 20
	maxVarDepth = 64
)

type budget struct{ nodes int }

// valueOf turns a YAML node into plain Go values with string keys, so that
// every value can be written back as JSON.
func valueOf(n *yaml.Node, b *budget, depth int) (any, error) {
	if b.nodes--; b.nodes < 0 {
		return nil, errors.New("vars expand to too many values (YAML aliases?)")
	}
	if depth > maxVarDepth {
		return nil, fmt.Errorf("vars nested more than %d levels deep (a YAML alias that refers to itself?)", maxVarDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return valueOf(n.Alias, b, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("a key must be a name, got a %s", kindName(k))
			}
			v, err := valueOf(n.Content[i+1], b, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := valueOf(c, b, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		switch n.Tag {
		case "!!str", "!!null", "!!bool", "!!int", "!!float":
			if err := n.Decode(&v); err != nil {
				return n.Value, nil
			}
		default: // e.g. !vault or !unsafe: keep the text
			return n.Value, nil
		}
		if f, ok := v.(float64); ok && (f != f || f > 1e308 || f < -1e308) {
			return n.Value, nil // NaN and infinities have no JSON form
		}
		return v, nil
	}
	return nil, fmt.Errorf("unsupported YAML node")
}

// noDuplicateKeys rejects a mapping that names a key twice, which JSON
// decoders and Ansible would silently resolve to the last one.
func noDuplicateKeys(n *yaml.Node, depth int) error {
	if depth > 100 {
		return errors.New("nested more than 100 levels deep")
	}
	if n.Kind == yaml.MappingNode {
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, dup := seen[k.Value]; dup {
				return fmt.Errorf("line %d: key %q is already defined at line %d", k.Line, k.Value, line)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := noDuplicateKeys(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return fmt.Sprintf("scalar %q", truncate(n.Value))
}

func yamlErr(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
