variable "vm_clone_vm_id" {
  type        = number
  description = "The template VMID the jump host is cloned from."
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

variable "host_count" {
  type    = number
  default = 2
}
