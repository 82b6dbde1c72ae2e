# The homelab's third stage: application stacks deployed onto the hosts the
# first Terraform made and Ansible configured. It reads the inventory
# handoff (as JSON) and puts one stack per web host, over SSH with the lab's
# key, where the host's web service publishes it.
terraform {
  required_version = ">= 1.4"
  backend "local" {}
}

variable "inventory" {
  type        = any
  description = "The inventory handoff: the static Ansible inventory of the hosts."
}

variable "stack" {
  type    = string
  default = "whoami"
}

variable "stack_version" {
  type    = string
  default = "1"
}

locals {
  all_vars = var.inventory.all.vars
  web      = var.inventory.all.children.web.hosts
  ssh      = "ssh -i ${local.all_vars.ansible_ssh_private_key_file} ${local.all_vars.ansible_ssh_common_args} -o BatchMode=yes"
}

resource "terraform_data" "stack" {
  for_each         = local.web
  triggers_replace = [var.stack, var.stack_version, each.value.ansible_host]

  input = {
    ssh  = "${local.ssh} -p ${each.value.ansible_port} ${local.all_vars.ansible_user}@${each.value.ansible_host}"
    file = "${each.value.lab_root}/srv/www/${var.stack}.html"
    page = "<p>${var.stack} ${var.stack_version} on ${each.key}</p>"
  }

  provisioner "local-exec" {
    command = "${self.input.ssh} 'cat > ${self.input.file}' <<'PAGE'\n${self.input.page}\nPAGE"
  }

  provisioner "local-exec" {
    when       = destroy
    on_failure = continue
    command    = "${self.input.ssh} 'rm -f ${self.input.file}'"
  }
}

output "app_urls" {
  description = "Where each stack answers."
  value       = { for name, h in local.web : name => "http://${h.ansible_host}:${local.all_vars.app_port}/${var.stack}.html" }
}
