variable "template_id" {
  type        = number
  description = "The lab template to clone the hosts from (the Packer stage's template_id)."

  validation {
    condition     = var.template_id >= 100 && var.template_id <= 999999999 && floor(var.template_id) == var.template_id
    error_message = "The template_id must be an integer from 100 to 999999999, like a Proxmox VMID."
  }
}

variable "lab_dir" {
  type        = string
  description = "Absolute directory of the lab: registry/, hosts/, keys and known_hosts."

  validation {
    condition     = substr(var.lab_dir, 0, 1) == "/"
    error_message = "The lab_dir must be an absolute path."
  }
}

variable "host_count" {
  type        = number
  default     = 3
  description = "How many hosts to start: the first is in group db, the others in web."

  validation {
    condition     = var.host_count >= 1 && var.host_count <= 200
    error_message = "The host_count must be from 1 to 200."
  }
}

variable "ssh_port" {
  type        = number
  default     = 2222
  description = "The port every lab sshd listens on, each on its own loopback address."
}

variable "app_port" {
  type        = number
  default     = 8080
  description = "The port of the web service Ansible starts on each web host."
}
