// Package config reads a pipeline file, baton.hcl, into a checked pipeline.
//
// A baton.hcl sits at the root of the repository it deploys and describes
// that repository as it is: which directories hold the Packer templates,
// the Terraform configurations and the Ansible playbooks, their var files
// and variable names, and how the stages hand values to each other:
//
//	packer "image" {
//	  dir       = "packer"
//	  template  = "ubuntu.pkr.hcl"
//	  var_files = ["variables.pkrvars.hcl"]
//	}
//	terraform "infra" {
//	  dir  = "terraform"
//	  vars = { vm_clone_vm_id = packer.image.artifact_id }
//	}
//	ansible "configure" {
//	  dir       = "ansible"
//	  playbook  = "site.yml"
//	  inventory = terraform.infra.ansible_inventory
//	}
//
// A stage's address is <kind>.<name>. A reference to another stage's
// product (packer.<name>.artifact_id, terraform.<name>.<output>,
// command.<name>.<output>) is a handoff: it orders the stages and carries a
// typed, validated value between them; after = [...] orders stages that
// pass nothing. Load checks everything it can before any tool starts — the
// file's syntax and attributes, references, cycles, that directories,
// templates, var files and playbooks exist, that every variable set is one
// the Terraform or Packer configuration declares, that every output
// referred to is one it declares — and reports each problem as
// baton.hcl:LINE with what was wrong and what is allowed.
//
// Environment blocks say what each environment changes, stage by stage,
// and where a release must have succeeded before it is promoted there:
//
//	environment "staging" {
//	  terraform "infra" { vars = { vm_count = 1 } }
//	}
//	environment "production" {
//	  requires = ["staging"]
//	  terraform "infra" {
//	    var_files = ["production.tfvars"]
//	    vars      = { vm_count = 5 }
//	  }
//	}
//
// Options.Env chooses one: its var files come after the stage's own (so
// their values win) and its vars, env (command) replace the stage's of the
// same name, and a Packer stage's exists (where the environment's artifacts
// are registered) replaces the stage's. A stage's other settings and the handoffs between stages are
// the same in every environment. Every block is checked whichever
// environment is chosen, but only the chosen one's values are evaluated
// (another's env() may need secrets this shell lacks). A file that
// declares environments refuses any other name, and its
// default_environment must be one of them; a file that declares none
// takes any valid name, each with its own state under .baton/<env>.
package config
