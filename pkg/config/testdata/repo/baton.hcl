packer "image" {
  dir       = "packer"
  template  = "ubuntu-server-minimal.pkr.hcl"
  var_files = ["variables.pkrvars.hcl"]
  vars      = { vm_id = 8025 }
}

terraform "infra" {
  dir       = "terraform"
  var_files = ["production.tfvars"]
  vars      = { vm_clone_vm_id = packer.image.artifact_id }
  lint      = "auto"
}

ansible "configure" {
  dir       = "ansible_collections/acme/jump"
  playbook  = "playbooks/site.yml"
  inventory = terraform.infra.ansible_inventory
  wait_ssh {
    host_keys = "accept-new"
    timeout   = "2m"
  }
}

terraform "apps" {
  dir   = "apps"
  vars  = { hosts = terraform.infra.ansible_inventory }
  after = [ansible.configure]
}

command "smoke" {
  argv    = ["sh", "-c", "echo '{\"status\": \"ok\"}'"]
  env     = { HOST = terraform.infra.vm_ip, MODE = "quick" }
  outputs = ["status"]
  after   = [terraform.apps]
}
