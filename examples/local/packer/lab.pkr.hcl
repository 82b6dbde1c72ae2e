# The lab's golden image: a directory of baked-in files registered under the
# next free integer template ID, the way Proxmox numbers templates (8025, …).
# Works with Debian's Packer 1.6.6 and current Packer: the null builder,
# shell-local and manifest are built in, so nothing needs `packer init`
# (and there is deliberately no required_plugins block).

variable "registry" {
  type        = string
  description = "The lab's template registry, one directory per template ID (e.g. <project>/.baton/local/lab/registry). Create it before the first build: the next ID is counted when the template is parsed."
}

variable "manifest" {
  type        = string
  description = "Where the manifest post-processor records each build (it appends); custom_data.template_id is the ID built."
}

variable "version" {
  type        = string
  default     = "1.0.0"
  description = "A version marker baked into the image (etc/baton-image)."
}

locals {
  # The next free ID after the highest registered one, 8025 for the first.
  # A template counts only once its id file exists, and build-image.sh
  # writes it last. Packer 1.6.6 has no tonumber and its locals cannot use
  # other locals, so this is one expression; a missing registry is empty.
  template_id = max(concat([8024], [for f in fileset(var.registry, "*/id") : dirname(f) + 0])...) + 1
}

source "null" "lab" {
  communicator = "none"
}

build {
  sources = ["source.null.lab"]

  provisioner "shell-local" {
    environment_vars = [
      "BUILD_SCRIPT=${path.root}/build-image.sh",
      "REGISTRY=${var.registry}",
      "MANIFEST=${var.manifest}",
      "TEMPLATE_ID=${local.template_id}",
      "IMAGE_VERSION=${var.version}",
    ]
    inline = ["sh \"$BUILD_SCRIPT\""]
  }

  post-processor "manifest" {
    output      = var.manifest
    custom_data = { template_id = "${local.template_id}" }
  }
}
