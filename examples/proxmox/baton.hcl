# The three stages on a Proxmox cluster (BATON_PIPELINE=proxmox from baton's
# checkout; in a repository of one's own, this file at its root). Credentials come
# from the environment only: run under a secrets wrapper, e.g.
#   doppler run -- go run mage.go deploy
# or set wrapper = ["doppler", "run", "--"] here.

default_environment = "production"

packer "ubuntu" {
  # The whole directory: plugins.pkr.hcl holds required_plugins for Packer >= 1.7.
  dir = "packer"
}

terraform "production" {
  dir  = "infrastructure/environments/production"
  vars = { template_id = packer.ubuntu.artifact_id }
  # tflint when it is installed
  # (go install github.com/terraform-linters/tflint@v0.53.0).
  lint = "auto"
  # The state: this configuration has no backend block, so it stays in its
  # directory as terraform.tfstate. Give it a backend (and backend_config here
  # for its per-environment settings) before a team shares it.
}

ansible "jumphost" {
  dir       = "ansible"
  playbook  = "playbooks/site.yml"
  inventory = terraform.production.ansible_inventory
  wait_ssh {
    # New VMs have new host keys: record them on first contact, refuse a change
    # unless Terraform replaced that VM in the same run.
    host_keys     = "accept-new"
    ready_command = "cloud-init status --wait"
    timeout       = "10m"
  }
}
