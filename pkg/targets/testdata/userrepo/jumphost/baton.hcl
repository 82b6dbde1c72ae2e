# A Proxmox jump host repository as it is: two Packer templates in one
# directory, a Terraform configuration with its own variable names and no
# backend, and the playbooks in an Ansible collection with its ansible.cfg.
# The test sets UR_* to give the lab its own addresses and port.

packer "image" {
  dir       = "packer"
  template  = "ubuntu-server-minimal.pkr.hcl"
  var_files = ["variables.pkrvars.hcl"]
  vars = {
    registry = "${baton.state}/lab/registry"
    manifest = "${baton.state}/lab/packer-manifest.json"
  }
  manifest = "${baton.state}/lab/packer-manifest.json"
  id_key   = "template_id"
  exists   = ["sh", "-c", "test -f \"$1/$BATON_ARTIFACT_ID/id\"", "exists", "${baton.state}/lab/registry"]
}

terraform "infra" {
  dir = "terraform"
  vars = {
    vm_clone_vm_id = packer.image.artifact_id
    lab_dir        = "${baton.state}/lab"
    ssh_port       = env("UR_PORT")
    base_address   = env("UR_BASE")
  }
}

ansible "configure" {
  dir       = "ansible_collections/acme/jumphost"
  playbook  = "playbooks/site.yml"
  inventory = terraform.infra.ansible_inventory
  # The client key is the inventory's, ~/.ssh/ansible. A new image makes
  # new clones with new keys: accept-new records them on first contact and,
  # when Terraform replaced the hosts in the same run, forgets the old ones.
  wait_ssh {
    host_keys = "accept-new"
  }
}
