# A build whose artifact ID is not a number: the template ID comes from the
# manifest's custom_data, as in examples/local.
variable "manifest" {
  type = string
}

variable "template_id" {
  type    = string
  default = "8025"
}

variable "secret" {
  type    = string
  default = ""
}

source "null" "golden" {
  communicator = "none"
}

build {
  sources = ["source.null.golden"]

  provisioner "shell-local" {
    inline = ["echo building template ${var.template_id}, with a comma", "echo token=${var.secret}"]
  }

  post-processor "manifest" {
    output      = var.manifest
    custom_data = { template_id = var.template_id }
  }
}
