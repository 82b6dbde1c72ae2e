variable "vm_clone_vm_id" {
  type = number
}
variable "vm_name" {
  type    = string
  default = "jump"
}
