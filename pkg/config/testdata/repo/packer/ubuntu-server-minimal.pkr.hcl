variable "vm_id" {
  type = number
}
variable "node" {
  type = string
}
source "null" "minimal" {
  communicator = "none"
}
build {
  sources = ["source.null.minimal"]
}
