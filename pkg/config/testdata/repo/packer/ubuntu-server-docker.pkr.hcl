variable "vm_id" {
  type = number
}
variable "docker_version" {
  type = string
}
source "null" "docker" {
  communicator = "none"
}
build {
  sources = ["source.null.docker"]
}
