package config

import (
	"time"
)

// Kind is the tool a stage runs.
type Kind string

// The kinds of stage a pipeline file may hold, one block type each.
const (
	Packer    Kind = "packer"
	Terraform Kind = "terraform"
	Ansible   Kind = "ansible"
	Command   Kind = "command"
)

var kinds = []Kind{Packer, Terraform, Ansible, Command}

// Pipeline is a checked pipeline file for one environment.
type Pipeline struct {
	// Path is the file's absolute path; Dir the directory it is in, which
	// every stage's dir is relative to.
	Path string
	Dir  string
	// Env is the environment the file was read for; State its state
	// directory (<state root>/.baton/<env>).
	Env   string
	State string
	// Wrapper is the default command every tool runs under; WrapperSet
	// says whether the file set it (an empty list means none).
	Wrapper    []string
	WrapperSet bool
	// Stages are the file's stages in the order they are written, with
	// Env's environment block applied.
	Stages []*Stage
	// Environments are the file's environment blocks in the order they
	// are written; none means any environment name may be used.
	Environments []*Environment
}

// Stage is one block of the file.
type Stage struct {
	Kind Kind
	Name string
	// Line is where the block starts, for messages.
	Line int
	// Dir is the stage's absolute directory; the stage's other paths are
	// relative to it.
	Dir string
	// After holds the addresses of stages this one follows without taking
	// anything from them.
	After []string
	// Wrapper is the command the stage's tool runs under; WrapperSet says
	// whether the block set it.
	Wrapper    []string
	WrapperSet bool
	Binary     string
	Timeout    time.Duration
	Attempts   int

	// Packer and Terraform.
	Template string // Packer: a file or directory relative to Dir; "" is "."
	VarFiles []string
	Vars     map[string]Value
	// Packer.
	Manifest     string
	IDKey        string
	ArtifactType string // "template_id" (default) or "string"
	Exists       []string
	// Terraform.
	Lint          string // "off" (default), "auto" or "required"
	BackendConfig map[string]string
	// ReplaceUnreachable: replace what makes hosts that do not answer SSH.
	ReplaceUnreachable bool
	// Ansible.
	Playbook  string
	Inventory Value // a reference to an output, or a path (Text)
	Settings  map[string]string
	Limit     string
	Tags      []string
	Forks     int
	Mitogen   bool
	Wait      Wait
	// Command.
	Argv    []string
	Env     map[string]Value
	Outputs []string
}

// Address is the stage's name in the pipeline: <kind>.<name>.
func (s *Stage) Address() string { return string(s.Kind) + "." + s.Name }

// Wait is an Ansible block's wait for SSH before the playbook runs.
type Wait struct {
	Enabled bool
	// HostKeys is "known_hosts" (keys must be in KnownHosts already),
	// "accept-new" (the default: first keys are recorded, changed ones
	// refused unless Terraform replaced the host) or "pinned".
	HostKeys     string
	PinnedKeys   []string // with "pinned": authorized_keys lines
	KnownHosts   string
	KeyFile      string
	User         string
	ReadyCommand string
	Timeout      time.Duration
}

// Value is what a variable is set to: another stage's product (Ref, a
// handoff name such as "packer.image.artifact_id") or a fixed text.
type Value struct {
	Ref  string
	Text string
	Line int
}

// IsRef reports whether v is another stage's product.
func (v Value) IsRef() bool { return v.Ref != "" }
