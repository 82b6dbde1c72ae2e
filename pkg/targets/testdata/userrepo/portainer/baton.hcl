# Terraform makes the hosts and writes an INI inventory, Ansible configures
# them, then a second Terraform configuration deploys the apps (Portainer
# stacks, here a stand-in) onto them. Every tool runs under Doppler; the
# Terraform stages with tf-var names, so API_TOKEN reaches them as
# var.api_token. The test sets UR_* to give the lab its own addresses and
# port.

wrapper = ["doppler", "run", "--"]

terraform "infra" {
  dir     = "infra"
  wrapper = ["doppler", "run", "--name-transformer", "tf-var", "--"]
  vars = {
    lab_dir      = "${baton.state}/lab"
    ssh_port     = env("UR_PORT")
    base_address = env("UR_BASE")
  }
}

ansible "configure" {
  dir       = "ansible"
  playbook  = "site.yml"
  inventory = "inventory/hosts.ini" # written by terraform.infra
  after     = [terraform.infra]
  wait_ssh { host_keys = "accept-new" }
}

terraform "apps" {
  dir     = "apps"
  wrapper = ["doppler", "run", "--name-transformer", "tf-var", "--"]
  vars    = { docker_host = terraform.infra.docker_host }
  after   = [ansible.configure]
}

command "smoke" {
  argv = ["sh", "-c", "echo \"smoke test of $ENDPOINT\""]
  env  = { ENDPOINT = terraform.apps.endpoint, TOKEN_SHA256 = terraform.apps.token_sha256 }
}
