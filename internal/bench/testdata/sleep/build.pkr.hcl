# BenchmarkConcurrentStages' build: the null builder and a shell-local step
# that sleeps, so that two builds take about twice one when run in turn.
# Built-in plugins only, for Debian's Packer 1.6.6 and current Packer.
variable "manifest" {
  type = string
}

variable "template_id" {
  type = string
}

variable "sleep" {
  type    = string
  default = "2"
}

source "null" "sleep" {
  communicator = "none"
}

build {
  sources = ["source.null.sleep"]

  provisioner "shell-local" {
    inline = ["sleep ${var.sleep}"]
  }

  post-processor "manifest" {
    output      = var.manifest
    custom_data = { template_id = var.template_id }
  }
}
