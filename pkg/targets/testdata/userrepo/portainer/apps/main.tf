# The apps on the Docker host: a stand-in for Portainer stacks.
terraform {
  required_version = ">= 1.4"
}

variable "docker_host" {
  type = string
}

variable "api_token" {
  type        = string
  sensitive   = true
  description = "From Doppler (API_TOKEN, as TF_VAR_api_token)."
}

resource "terraform_data" "stack" {
  input = { host = var.docker_host, name = "monitoring" }
}

output "endpoint" {
  value = "http://${terraform_data.stack.output.host}:9000/${terraform_data.stack.output.name}"
}

# A fingerprint, to show which token the apps were deployed with.
output "token_sha256" {
  value = nonsensitive(sha256(var.api_token))
}
