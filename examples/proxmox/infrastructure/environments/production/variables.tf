variable "template_id" {
  type        = number
  description = "The golden template's VMID, from the Packer stage."

  validation {
    condition     = var.template_id >= 100 && var.template_id <= 999999999
    error_message = "The template_id must be a Proxmox VMID, from 100 to 999999999."
  }
}

variable "node" {
  type        = string
  default     = "pve"
  description = "The Proxmox node the VMs run on (the template's node)."
}

variable "datastore" {
  type        = string
  default     = "local-lvm"
  description = "The storage for the VMs' cloud-init drives."
}

variable "admin_user" {
  type        = string
  default     = "ops"
  description = "The user cloud-init creates, and Ansible's ansible_user."
}

variable "ssh_public_keys" {
  type        = list(string)
  description = "Keys cloud-init authorizes for admin_user; Ansible logs in with them (set TF_VAR_ssh_public_keys or a tfvars file)."

  validation {
    condition     = length(var.ssh_public_keys) > 0
    error_message = "Give at least one SSH public key: Ansible logs in with it."
  }
}

variable "bridge" {
  type    = string
  default = "vmbr0"
}

variable "vms" {
  type = map(object({
    group  = string
    cores  = number
    memory = number
  }))
  description = "The VMs by name: their Ansible group and size (memory in MiB)."
  default = {
    jump-1 = { group = "jump", cores = 1, memory = 1024 }
  }
}
