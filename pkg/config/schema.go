package config

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// fileSchema is the top level of a pipeline file.
var fileSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "default_environment"},
		{Name: "wrapper"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: string(Packer), LabelNames: []string{"name"}},
		{Type: string(Terraform), LabelNames: []string{"name"}},
		{Type: string(Ansible), LabelNames: []string{"name"}},
		{Type: string(Command), LabelNames: []string{"name"}},
		{Type: "environment", LabelNames: []string{"name"}},
	},
}

// common attributes of every stage block.
var common = []string{"dir", "after", "wrapper", "timeout", "attempts"}

// attributes of each kind of block, beyond the common ones.
var kindAttrs = map[Kind][]string{
	Packer:    {"binary", "template", "var_files", "vars", "manifest", "id_key", "artifact_type", "exists"},
	Terraform: {"binary", "var_files", "vars", "lint", "backend_config", "replace_unreachable"},
	Ansible:   {"binary", "playbook", "inventory", "vars", "settings", "limit", "tags", "forks", "mitogen"},
	Command:   {"argv", "env", "outputs"},
}

var waitSchema = &hcl.BodySchema{Attributes: attrSchemas([]string{"enabled", "host_keys", "pinned_keys", "known_hosts", "key_file", "user", "ready_command", "timeout"})}

func stageSchema(k Kind) *hcl.BodySchema {
	s := &hcl.BodySchema{Attributes: attrSchemas(append(append([]string(nil), common...), kindAttrs[k]...))}
	if k == Ansible {
		s.Blocks = []hcl.BlockHeaderSchema{{Type: "wait_ssh"}}
	}
	return s
}

func attrSchemas(names []string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		out[i] = hcl.AttributeSchema{Name: n}
	}
	return out
}

// allowed lists what a block of kind k may hold, for messages.
func allowed(k Kind) string {
	names := append(append([]string(nil), common...), kindAttrs[k]...)
	sort.Strings(names)
	if k == Ansible {
		names = append(names, "wait_ssh { }")
	}
	return strings.Join(names, ", ")
}

const allowedTop = `default_environment, wrapper, and blocks packer "<name>", terraform "<name>", ansible "<name>", command "<name>", environment "<name>"`
