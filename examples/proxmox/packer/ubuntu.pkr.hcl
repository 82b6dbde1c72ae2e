# Ubuntu 24.04 minimal golden template for Proxmox, cloned from Ubuntu's
# minimal cloud image (imported once as the VM named var.cloud_image_vm; see
# the README), with cloud-init and the QEMU guest agent. Its artifact ID is
# the template's VMID, which baton hands to Terraform as template_id.
#
# Credentials come from the environment only (or a secrets wrapper such as
# `doppler run --`): the proxmox builders read PROXMOX_URL, PROXMOX_USERNAME
# and PROXMOX_PASSWORD themselves (the plugin also PROXMOX_TOKEN), so the
# template names none of them.

variable "node" {
  type        = string
  default     = "pve"
  description = "The Proxmox node to build on."
}

variable "storage" {
  type        = string
  default     = "local-lvm"
  description = "The storage pool for the template's cloud-init drive."
}

variable "vm_id" {
  type        = number
  default     = 8025
  description = "The template's VMID: what baton hands to Terraform."
}

variable "cloud_image_vm" {
  type        = string
  default     = "ubuntu-2404-cloud"
  description = "The name of the VM holding Ubuntu's cloud image, to clone from."
}

variable "bridge" {
  type    = string
  default = "vmbr0"
}

variable "ssh_host" {
  type        = string
  default     = ""
  description = "The build VM's address; empty asks its QEMU guest agent (see the README)."
}

variable "insecure_skip_tls_verify" {
  type        = bool
  default     = false
  description = "Accept the node's self-signed certificate."
}

source "proxmox-clone" "ubuntu" {
  node                     = var.node
  insecure_skip_tls_verify = var.insecure_skip_tls_verify
  clone_vm                 = var.cloud_image_vm
  full_clone               = true
  vm_id                    = var.vm_id
  vm_name                  = "ubuntu-2404-build"
  template_name            = "ubuntu-2404-golden"
  template_description     = "Ubuntu 24.04 minimal, cloud-init, qemu-guest-agent; built by baton"
  cores                    = 2
  memory                   = 2048
  scsi_controller          = "virtio-scsi-single"
  qemu_agent               = true
  cloud_init               = true
  cloud_init_storage_pool  = var.storage
  ssh_username             = "ubuntu"
  ssh_host                 = var.ssh_host
  ssh_timeout              = "15m"

  network_adapters {
    model  = "virtio"
    bridge = var.bridge
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
      "sudo apt-get clean",
      "sudo cloud-init clean --logs --machine-id",
    ]
  }
}
