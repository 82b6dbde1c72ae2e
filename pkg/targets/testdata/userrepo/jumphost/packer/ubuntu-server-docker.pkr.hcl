# A second image in the same directory, with the same variable names:
# `packer build .` refuses the directory ("Duplicate variable"), so the
# pipeline file names one template. If this one ever ran, it would leave
# docker-template-ran beside the registry.
variable "registry" {
  type = string
}

variable "manifest" {
  type = string
}

variable "image_version" {
  type    = string
  default = "0.0.0"
}

source "null" "docker" {
  communicator = "none"
}

build {
  sources = ["source.null.docker"]

  provisioner "shell-local" {
    inline = ["touch '${var.registry}/../docker-template-ran'"]
  }
}
