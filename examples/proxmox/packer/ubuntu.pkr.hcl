# Ubuntu 24.04 minimal golden image for Proxmox, cloned from the official
# cloud image (imported once as VM "ubuntu-2404-cloud"), with cloud-init
# and the QEMU guest agent. Its artifact ID is the template's VMID, which
# baton hands to Terraform as template_id.
#
# Credentials come from the environment only (or a secrets wrapper such as
# `doppler run --`): PROXMOX_URL, PROXMOX_USERNAME, PROXMOX_PASSWORD.
# Packer 1.6.6 (Debian) has the proxmox builders built in; Packer 1.10 and
# later need the plugin once: packer plugins install github.com/hashicorp/proxmox

variable "proxmox_url" {
  type    = string
  default = env("PROXMOX_URL")
}

variable "proxmox_username" {
  type    = string
  default = env("PROXMOX_USERNAME")
}

variable "proxmox_password" {
  type      = string
  default   = env("PROXMOX_PASSWORD")
  sensitive = true
}

variable "node" {
  type    = string
  default = "pve"
}

variable "storage" {
  type    = string
  default = "local-lvm"
}

variable "vm_id" {
  type        = number
  default     = 8025
  description = "The template's VMID: what baton hands to Terraform."
}

variable "cloud_image_vm" {
  type        = string
  default     = "ubuntu-2404-cloud"
  description = "The VM holding Ubuntu's cloud image to clone from."
}

source "proxmox-clone" "ubuntu" {
  proxmox_url             = var.proxmox_url
  username                = var.proxmox_username
  password                = var.proxmox_password
  node                    = var.node
  clone_vm                = var.cloud_image_vm
  full_clone              = true
  vm_id                   = var.vm_id
  template_name           = "ubuntu-2404-golden"
  template_description    = "Ubuntu 24.04 minimal, cloud-init, qemu-guest-agent; built by baton"
  cores                   = 2
  memory                  = 2048
  scsi_controller         = "virtio-scsi-single"
  qemu_agent              = true
  cloud_init              = true
  cloud_init_storage_pool = var.storage
  ssh_username            = "ubuntu"
  ssh_timeout             = "10m"

  network_adapters {
    model  = "virtio"
    bridge = "vmbr0"
  }
}

build {
  sources = ["source.proxmox-clone.ubuntu"]

  provisioner "shell" {
    inline = [
      "cloud-init status --wait || test $? -eq 2",
      "sudo apt-get update",
      "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-guest-agent",
      "sudo systemctl enable qemu-guest-agent",
      "sudo cloud-init clean --logs --machine-id",
    ]
  }
}
