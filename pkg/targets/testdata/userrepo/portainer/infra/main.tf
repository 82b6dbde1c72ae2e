# No backend block: the state stays in this directory. modules/lab is the
# lab's Terraform (copied in by the test), standing in for Proxmox VMs.
terraform {
  required_version = ">= 1.4"
}

module "lab" {
  source = "./modules/lab"

  template_id  = var.template_vmid
  lab_dir      = var.lab_dir
  ssh_port     = var.ssh_port
  base_address = var.base_address
  host_count   = 2
}

locals {
  hosts = merge([for g in values(module.lab.ansible_inventory.all.children) : g.hosts]...)
  ini = join("\n", concat(
    ["[docker]"],
    [for name, h in local.hosts : "${name} ansible_host=${h.ansible_host} ansible_port=${h.ansible_port} lab_root=${h.lab_root}"],
    [
      "",
      "[all:vars]",
      "ansible_user=root",
      "ansible_ssh_private_key_file=~/.ssh/ansible",
      "ansible_python_interpreter=/usr/bin/python3",
      "",
    ],
  ))
}

# The inventory Ansible reads, as a file: the local provider would have to
# be downloaded, so a provisioner writes it.
resource "terraform_data" "inventory" {
  triggers_replace = [local.ini, var.inventory_path]
  input            = { path = abspath("${path.root}/${var.inventory_path}") }

  provisioner "local-exec" {
    command = "mkdir -p \"$(dirname \"$DEST\")\" && printf '%s' \"$INI\" >\"$DEST\""
    environment = {
      INI  = local.ini
      DEST = self.input.path
    }
  }

  provisioner "local-exec" {
    when        = destroy
    command     = "rm -f \"$DEST\""
    environment = { DEST = self.input.path }
  }
}

output "docker_host" {
  value = local.hosts["db-1"].ansible_host
}
