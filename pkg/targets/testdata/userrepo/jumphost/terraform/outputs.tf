locals {
  lab = module.lab.ansible_inventory.all
}

# The inventory as a jsonencode()d string, with the key the way this
# repository names it: under ~.
output "ansible_inventory" {
  value = jsonencode({
    all = {
      vars = {
        ansible_user                 = "root"
        ansible_ssh_private_key_file = "~/.ssh/ansible"
        ansible_python_interpreter   = "/usr/bin/python3"
      }
      children = local.lab.children
    }
  })
}
