# A configuration laid out as users keep theirs: no backend block (the
# state stays in this directory), a var file for the environment, and
# hosts that a variable rebuilds one at a time.
terraform {
  required_version = ">= 1.4"
}

variable "generation" {
  description = "Bump a host's number to rebuild it."
  type        = map(number)
}

resource "terraform_data" "web" {
  for_each         = var.generation
  triggers_replace = [each.value]
}

resource "terraform_data" "jump" {
  triggers_replace = [var.generation["web-1"] > 9]
}

output "ansible_inventory" {
  value = jsonencode({
    all = {
      children = {
        web = { hosts = { for name, _ in terraform_data.web : name => { ansible_host = "127.0.0.1" } } }
      }
    }
  })
}
