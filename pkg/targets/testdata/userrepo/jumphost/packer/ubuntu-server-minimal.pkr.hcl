# The jump host's image: a minimal server. Packer's null builder and
# shell-local stand in for proxmox-iso: build-image.sh (the lab's, copied
# in by the test) registers the image under the next free template ID.
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

locals {
  template_id = max(concat([8024], [for f in fileset(var.registry, "*/id") : dirname(f) + 0])...) + 1
}

source "null" "minimal" {
  communicator = "none"
}

build {
  sources = ["source.null.minimal"]

  provisioner "shell-local" {
    environment_vars = [
      "BUILD_SCRIPT=${path.root}/build-image.sh",
      "REGISTRY=${var.registry}",
      "TEMPLATE_ID=${local.template_id}",
      "IMAGE_VERSION=${var.image_version}",
    ]
    inline = ["sh \"$BUILD_SCRIPT\""]
  }

  post-processor "manifest" {
    output      = var.manifest
    custom_data = { template_id = "${local.template_id}" }
  }
}
