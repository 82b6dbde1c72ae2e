# The local lab's "machines": each host is a real sshd on its own loopback
# address (127.0.0.11, .12, …) with its own host key and root directory,
# "cloned" from a template in the lab's registry. Only the built-in
# terraform_data resource is used, so nothing is downloaded and no provider
# lock file is written.
terraform {
  # terraform_data is new in 1.4; nothing here needs more than 1.5.
  required_version = ">= 1.4"

  # A partial backend: the state's path is given at init,
  # terraform init -backend-config=path=<project>/.baton/local/terraform.tfstate
  backend "local" {}
}

locals {
  registry = var.registry == null ? "${var.lab_dir}/registry" : var.registry

  # ssh reads UserKnownHostsFile as a list of files split on whitespace, so
  # a lab_dir with spaces is quoted inside the option (Ansible shlex-splits
  # ansible_ssh_common_args first).
  known_hosts_option = length(regexall("\\s", var.lab_dir)) == 0 ? "UserKnownHostsFile=${var.lab_dir}/known_hosts" : "'UserKnownHostsFile=\"${var.lab_dir}/known_hosts\"'"

  # db-1 first, then web-1, web-2, … Addresses count up from
  # 127.0.0.<base_address>, skipping .0 and .255: …, 127.0.0.254, 127.0.1.1, …
  hosts = [for i in range(var.host_count) : {
    name    = i == 0 ? "db-1" : "web-${i}"
    group   = i == 0 ? "db" : "web"
    address = "127.0.${floor((var.base_address - 1 + i) / 254)}.${(var.base_address - 1 + i) % 254 + 1}"
  }]
}

resource "terraform_data" "host" {
  count = var.host_count

  # A new template (or address, port or lab) replaces the host, as a new
  # clone would: the old one is destroyed first, then the new one created.
  triggers_replace = [var.template_id, local.hosts[count.index].address, var.ssh_port, var.lab_dir]

  input = {
    name     = local.hosts[count.index].name
    group    = local.hosts[count.index].group
    address  = local.hosts[count.index].address
    port     = var.ssh_port
    lab_dir  = var.lab_dir
    registry = local.registry
    scripts  = "${path.module}/scripts"
    template = var.template_id
  }

  # The values reach the scripts as environment variables, never spliced
  # into the command line, so any path is safe.
  provisioner "local-exec" {
    command = "sh \"$LAB_SCRIPTS/host-up.sh\""
    environment = {
      LAB_SCRIPTS  = self.input.scripts
      LAB_HOST     = self.input.name
      LAB_ADDRESS  = self.input.address
      LAB_PORT     = self.input.port
      LAB_DIR      = self.input.lab_dir
      LAB_REGISTRY = self.input.registry
      LAB_TEMPLATE = self.input.template
    }
  }

  # Destroy-time provisioners see only self: what the host was created with.
  provisioner "local-exec" {
    when    = destroy
    command = "sh \"$LAB_SCRIPTS/host-down.sh\""
    environment = {
      LAB_SCRIPTS = self.input.scripts
      LAB_HOST    = self.input.name
      LAB_ADDRESS = self.input.address
      LAB_PORT    = self.input.port
      LAB_DIR     = self.input.lab_dir
    }
  }
}
