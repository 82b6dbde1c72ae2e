# VMs cloned from the golden template baton built, with a cloud-init user
# and the QEMU agent enabled so that Terraform learns their addresses.
resource "proxmox_virtual_environment_vm" "vm" {
  for_each  = var.vms
  name      = each.key
  node_name = var.node
  tags      = ["baton", each.value.group]

  clone {
    vm_id = var.template_id
    full  = true
  }

  agent {
    enabled = true
  }

  cpu {
    cores = each.value.cores
  }

  memory {
    dedicated = each.value.memory
  }

  network_device {
    bridge = var.bridge
  }

  initialization {
    datastore_id = var.datastore

    ip_config {
      ipv4 {
        address = "dhcp"
      }
    }

    user_account {
      username = var.admin_user
      keys     = var.ssh_public_keys
    }
  }
}
