variable "template_id" {
  type        = number
  description = "The golden template's VMID, from the Packer stage."

  validation {
    condition     = var.template_id >= 100 && var.template_id <= 999999999
    error_message = "The template_id must be a Proxmox VMID, from 100 to 999999999."
  }
}

variable "node" {
  type    = string
  default = "pve"
}

variable "datastore" {
  type    = string
  default = "local-lvm"
}

variable "admin_user" {
  type    = string
  default = "ops"
}

variable "ssh_public_keys" {
  type        = list(string)
  default     = []
  description = "Keys cloud-init authorizes for admin_user."
}

variable "insecure_tls" {
  type    = bool
  default = false
}

variable "vms" {
  type = map(object({
    group  = string
    cores  = number
    memory = number
  }))
  default = {
    jump-1 = { group = "jump", cores = 1, memory = 1024 }
  }
}
