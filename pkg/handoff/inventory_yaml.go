package handoff

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

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
// file into an enormous one or refer to themselves: the vars may have
// maxVarNodes values more than the document has nodes (a var, so that
// tests can lower it).
var maxVarNodes = 1 << 20

const maxVarDepth = 64

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
		if v, ok := plainScalar(n); ok {
			return v, nil
		}
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

// plainScalar gives the common scalars — strings, null, true, false and
// decimal integers — as Node.Decode would, without the decoder Decode
// makes for each call, which was most of the memory an inventory took.
func plainScalar(n *yaml.Node) (any, bool) {
	switch n.Tag {
	case "!!str":
		return n.Value, true
	case "!!null":
		return nil, true
	case "!!bool":
		switch n.Value {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	case "!!int":
		s := strings.TrimPrefix(n.Value, "-")
		if s == "" || len(s) > 18 || (s[0] == '0' && s != "0") || strings.Trim(s, "0123456789") != "" {
			return nil, false
		}
		if i, err := strconv.Atoi(n.Value); err == nil {
			return i, true
		}
	}
	return nil, false
}

// noDuplicateKeys rejects a mapping that names a key twice, which JSON
// decoders and Ansible would silently resolve to the last one.
// It counts in *nodes the nodes it visits (aliases once).
func noDuplicateKeys(n *yaml.Node, depth int, nodes *int) error {
	*nodes++
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
		if err := noDuplicateKeys(c, depth+1, nodes); err != nil {
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
