variable "template_vmid" {
  type        = number
  default     = 9000
  description = "The VM template the hosts are cloned from."
}

variable "api_token" {
  type        = string
  sensitive   = true
  description = "The hypervisor's API token: from Doppler (API_TOKEN, as TF_VAR_api_token)."

  validation {
    condition     = length(var.api_token) >= 16
    error_message = "The api_token must be at least 16 characters."
  }
}

variable "lab_dir" {
  type = string
}

variable "ssh_port" {
  type = number
}

variable "base_address" {
  type = number
}

variable "inventory_path" {
  type        = string
  default     = "../ansible/inventory/hosts.ini"
  description = "Where the INI inventory is written, relative to this directory."
}
