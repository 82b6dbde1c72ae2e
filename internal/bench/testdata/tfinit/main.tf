# BenchmarkTerraformInit's configuration: a local backend (its state path is
# given at init) and one built-in terraform_data resource, so nothing is
# downloaded and every run after the first plans no changes.
terraform {
  required_version = ">= 1.4"
  backend "local" {}
}

variable "template_id" {
  type = number
}

resource "terraform_data" "host" {
  input = { template_id = var.template_id }
}

output "host" {
  value = terraform_data.host.output
}
