# The lab's golden image: a directory of baked-in files registered under the
# next free integer template ID, the way Proxmox numbers templates (8025, …).
# Works with Debian's Packer 1.6.6 and current Packer: the null builder,
# shell-local and manifest are built in, so nothing needs `packer init`.

variable "registry" {
  type        = string
  description = "The lab's template registry: one directory per template ID."
}

variable "manifest" {
  type        = string
  description = "Where the manifest post-processor records each build."
}

variable "image_version" {
  type    = string
  default = "1.0.0"
}

locals {
  # The next free ID after the highest registered one (8025 first). A
  # directory counts only once its id file is written, last.
  template_id = max(concat([8024], [for f in fileset(var.registry, "*/id") : dirname(f) + 0])...) + 1
}

source "null" "golden" {
  communicator = "none"
}

build {
  sources = ["source.null.golden"]

  provisioner "shell-local" {
    inline = ["sh '${path.root}/build-image.sh' '${var.registry}' '${local.template_id}' '${var.image_version}'"]
  }

  post-processor "manifest" {
    output      = var.manifest
    custom_data = { template_id = "${local.template_id}" }
  }
}
