# No backend block: the state stays in this directory, terraform.tfstate,
# where this repository has always kept it. modules/lab is the lab's
# Terraform (copied in by the test), standing in for a Proxmox VM clone.
terraform {
  required_version = ">= 1.4"
}

module "lab" {
  source = "./modules/lab"

  template_id  = var.vm_clone_vm_id
  lab_dir      = var.lab_dir
  ssh_port     = var.ssh_port
  base_address = var.base_address
  host_count   = var.host_count
}
