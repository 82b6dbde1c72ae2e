variable "template_id" {
  type        = number
  description = "The lab template to clone the hosts from: the Packer stage's template_id (custom_data in its manifest)."

  validation {
    condition     = var.template_id >= 100 && var.template_id <= 999999999 && floor(var.template_id) == var.template_id
    error_message = "The template_id must be an integer from 100 to 999999999, like a Proxmox VMID."
  }
}

variable "lab_dir" {
  type        = string
  description = "Absolute directory of the lab's state: registry/, hosts/<name>/, client_key and known_hosts (e.g. <project>/.baton/local/lab)."

  validation {
    condition     = substr(var.lab_dir, 0, 1) == "/" && length(regexall("/$", var.lab_dir)) == 0
    error_message = "The lab_dir must be an absolute path without a trailing slash."
  }
}

variable "registry" {
  type        = string
  default     = null
  description = "The template registry Packer builds into; null means <lab_dir>/registry."

  validation {
    condition     = var.registry == null || can(regex("^/", var.registry))
    error_message = "The registry must be an absolute path."
  }
}

variable "host_count" {
  type        = number
  default     = 3
  description = "How many hosts to start: the first is db-1 in group db, the others web-1, web-2, … in group web."

  validation {
    condition     = var.host_count >= 1 && var.host_count <= 200 && floor(var.host_count) == var.host_count
    error_message = "The host_count must be an integer from 1 to 200."
  }
}

variable "base_address" {
  type        = number
  default     = 11
  description = "Where the hosts' loopback addresses start: the first host is 127.0.0.<base_address>, the next .<base_address + 1>, and so on past .254 into 127.0.1.1, 127.0.1.2, …"

  validation {
    condition     = var.base_address >= 1 && var.base_address <= 254 && floor(var.base_address) == var.base_address
    error_message = "The base_address must be an integer from 1 to 254 (the last octet of 127.0.0.x)."
  }
}

variable "ssh_port" {
  type        = number
  default     = 2222
  description = "The port every lab sshd listens on, each on its own loopback address."

  validation {
    condition     = var.ssh_port >= 1 && var.ssh_port <= 65535 && floor(var.ssh_port) == var.ssh_port
    error_message = "The ssh_port must be a TCP port, 1 to 65535."
  }
}

variable "app_port" {
  type        = number
  default     = 8080
  description = "The port of the web service Ansible starts on each web host (the inventory's app_port)."

  validation {
    condition     = var.app_port >= 1 && var.app_port <= 65535 && floor(var.app_port) == var.app_port
    error_message = "The app_port must be a TCP port, 1 to 65535."
  }
}
