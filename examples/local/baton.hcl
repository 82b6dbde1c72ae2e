# The local lab as a pipeline file: Packer registers a golden image, Terraform
# starts one sshd per host on 127.0.0.11, .12, … from it, baton waits until every
# host answers SSH, Ansible configures them. `go run mage.go deploy` in baton's
# checkout runs this file (BATON_PIPELINE=local names it too).
#
# Its state — the registry of images, the hosts' trees, keys, Terraform's state —
# lives under .baton/<environment>/, so environments never share hosts' files.
#
# Three environments, each on its own loopback addresses so that all of them run
# at once: local (127.0.0.11…, what plain `go run mage.go deploy` uses), staging
# (127.0.0.21…) and production (127.0.0.31…), which only takes a release that
# succeeded on staging: `go run mage.go promote staging production`. Staging and
# production share one registry of images, as a cluster's environments share
# its templates, so that production can run the image staging built. With more
# than 10 hosts (BATON_HOSTS) the addresses would overlap: move base_address.

default_environment = "local"

environment "local" {}

environment "staging" {
  packer "image" {
    vars   = { registry = "${baton.root}/.baton/shared/lab-registry" }
    exists = ["sh", "-c", "test -f \"$1/$BATON_ARTIFACT_ID/id\"", "exists", "${baton.root}/.baton/shared/lab-registry"]
  }
  terraform "hosts" {
    vars = { base_address = 21, registry = "${baton.root}/.baton/shared/lab-registry" }
  }
}

environment "production" {
  requires = ["staging"]
  packer "image" {
    vars   = { registry = "${baton.root}/.baton/shared/lab-registry" }
    exists = ["sh", "-c", "test -f \"$1/$BATON_ARTIFACT_ID/id\"", "exists", "${baton.root}/.baton/shared/lab-registry"]
  }
  terraform "hosts" {
    vars = { base_address = 31, registry = "${baton.root}/.baton/shared/lab-registry" }
  }
}

packer "image" {
  dir      = "packer"
  template = "lab.pkr.hcl"
  vars = {
    registry = "${baton.state}/lab/registry"
    manifest = "${baton.state}/lab/packer-manifest.json"
  }
  # The ID is the manifest's custom_data.template_id: the null builder has none.
  manifest = "${baton.state}/lab/packer-manifest.json"
  id_key   = "template_id"
  # An unchanged build is skipped only while its template is still registered.
  exists = ["sh", "-c", "test -f \"$1/$BATON_ARTIFACT_ID/id\"", "exists", "${baton.state}/lab/registry"]
}

terraform "hosts" {
  dir = "terraform"
  vars = {
    template_id = packer.image.artifact_id
    lab_dir     = "${baton.state}/lab"
    host_count  = env("BATON_HOSTS", "3")
    ssh_port    = env("BATON_LAB_PORT", "2222")
    app_port    = env("BATON_APP_PORT", "8080")
  }
  # main.tf has a partial local backend: the state lives with the environment.
  backend_config = { path = "${baton.state}/terraform.tfstate" }
  # Lab hosts are disposable: one whose sshd died is remade by the next deploy
  # (its state sees no drift in a dead host; baton dials them and passes -replace).
  replace_unreachable = true
}

ansible "configure" {
  dir       = "ansible"
  playbook  = "site.yml"
  inventory = terraform.hosts.ansible_inventory
  wait_ssh {
    # Terraform writes each host's key into the lab's known_hosts as it starts it.
    host_keys   = "known_hosts"
    known_hosts = "${baton.state}/lab/known_hosts"
    key_file    = "${baton.state}/lab/client_key"
  }
}
