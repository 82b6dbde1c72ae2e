# The other homelab shape, on the local lab, with no Go: Packer builds the image,
# Terraform makes the hosts (infra), Ansible configures them, and a second
# Terraform configuration (apps) puts an application stack on them once they are
# configured — the same tool twice, each with its own directory, state and
# outputs. Run it from baton's checkout:
#
#   BATON_PIPELINE=examples/homelab go run mage.go deploy
#   HOMELAB_STACK_VERSION=2 BATON_PIPELINE=examples/homelab go run mage.go deploy   # only apps changes
#   BATON_PIPELINE=examples/homelab go run mage.go destroy                         # apps first, then infra

default_environment = "homelab"

packer "image" {
  dir      = "../local/packer"
  template = "lab.pkr.hcl"
  vars = {
    registry = "${baton.state}/lab/registry"
    manifest = "${baton.state}/lab/packer-manifest.json"
  }
  manifest = "${baton.state}/lab/packer-manifest.json"
  id_key   = "template_id"
  exists   = ["sh", "-c", "test -f \"$1/$BATON_ARTIFACT_ID/id\"", "exists", "${baton.state}/lab/registry"]
}

terraform "infra" {
  dir = "../local/terraform"
  vars = {
    template_id  = packer.image.artifact_id
    lab_dir      = "${baton.state}/lab"
    host_count   = env("BATON_HOSTS", "3")
    base_address = env("HOMELAB_BASE_ADDRESS", "21")
    ssh_port     = env("BATON_LAB_PORT", "2224")
    app_port     = env("BATON_APP_PORT", "8082")
  }
  backend_config = { path = "${baton.state}/infra.tfstate" }
}

ansible "configure" {
  dir       = "../local/ansible"
  inventory = terraform.infra.ansible_inventory
  wait_ssh {
    host_keys   = "known_hosts"
    known_hosts = "${baton.state}/lab/known_hosts"
    key_file    = "${baton.state}/lab/client_key"
  }
}

terraform "apps" {
  dir = "apps"
  vars = {
    inventory     = terraform.infra.ansible_inventory
    stack         = env("HOMELAB_STACK", "whoami")
    stack_version = env("HOMELAB_STACK_VERSION", "1")
  }
  backend_config = { path = "${baton.state}/apps.tfstate" }
  after          = [ansible.configure]
}
