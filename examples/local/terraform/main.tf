# The local lab's "machines": each host is a real sshd on its own loopback
# address (127.0.0.11, .12, …) with its own host key, "cloned" from a
# template in the lab's registry. Only the built-in terraform_data resource
# is used, so nothing is downloaded.
terraform {
  required_version = ">= 1.4"

  # The state's path is given at init: -backend-config=path=…
  backend "local" {}
}

locals {
  registry = "${var.lab_dir}/registry"
  hosts = [for i in range(var.host_count) : {
    name    = i == 0 ? "db-1" : "web-${i}"
    group   = i == 0 ? "db" : "web"
    address = "127.0.${floor((11 + i) / 256)}.${(11 + i) % 256}"
  }]
}

resource "terraform_data" "host" {
  count = var.host_count

  # A new template replaces the host, as a new clone would.
  triggers_replace = [var.template_id, local.hosts[count.index].address, var.ssh_port, var.lab_dir]

  input = {
    name     = local.hosts[count.index].name
    address  = local.hosts[count.index].address
    port     = var.ssh_port
    lab_dir  = var.lab_dir
    scripts  = "${path.module}/scripts"
    template = var.template_id
  }

  provisioner "local-exec" {
    command = "sh '${self.input.scripts}/host-up.sh' '${self.input.name}' '${self.input.address}' '${self.input.port}' '${self.input.lab_dir}' '${self.input.template}'"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sh '${self.input.scripts}/host-down.sh' '${self.input.name}' '${self.input.address}' '${self.input.port}' '${self.input.lab_dir}'"
  }
}
