locals {
  # The QEMU agent reports each VM's IPv4 addresses per interface, loopback
  # first; a VM without one gets null, which baton's Inventory handoff
  # rejects by name rather than handing Ansible a host it cannot reach.
  addresses = {
    for name, vm in proxmox_virtual_environment_vm.vm :
    name => try([for a in flatten(vm.ipv4_addresses) : a if !startswith(a, "127.")][0], null)
  }
}

output "ansible_inventory" {
  description = "The VMs as a static Ansible inventory, grouped by their group."
  value = {
    all = {
      vars = {
        ansible_user               = var.admin_user
        ansible_python_interpreter = "/usr/bin/python3"
      }
      children = {
        for g in distinct([for vm in var.vms : vm.group]) : g => {
          hosts = {
            for name, vm in var.vms : name => {
              ansible_host = local.addresses[name]
              vmid         = proxmox_virtual_environment_vm.vm[name].vm_id
              template_id  = var.template_id
            } if vm.group == g
          }
        }
      }
    }
  }
}
