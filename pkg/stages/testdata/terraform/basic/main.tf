# A configuration that needs no provider download: terraform_data with
# local-exec provisioners, driven by the template_id handoff.
terraform {
  required_version = ">= 1.4"
  backend "local" {}
}

variable "template_id" {
  type = number
}

variable "out_dir" {
  type = string
}

variable "sleep" {
  type    = number
  default = 0
}

variable "fail" {
  type    = bool
  default = false
}

resource "terraform_data" "host" {
  count            = 2
  triggers_replace = [var.template_id]
  input            = { name = "host-${count.index + 1}", dir = var.out_dir }

  provisioner "local-exec" {
    command = "sleep ${var.sleep}; if ${var.fail}; then echo 'clone failed: no such template' >&2; exit 7; fi; echo ${var.template_id} > ${self.input.dir}/${self.input.name}"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "rm -f ${self.input.dir}/${self.input.name}"
  }
}

output "ansible_inventory" {
  value = {
    all = {
      children = {
        web = {
          hosts = { for i, h in terraform_data.host : h.input.name => { ansible_host = "127.0.0.${11 + i}", template_id = var.template_id } }
        }
      }
    }
  }
}

output "token" {
  value     = "tok-${var.template_id}-s3cr3t"
  sensitive = true
}
