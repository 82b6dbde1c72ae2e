# Packer 1.7 and later install the proxmox plugin from this block (baton runs
# `packer init` when a template declares required_plugins). Debian's Packer
# 1.6.6 has the proxmox builders built in and rejects this block
# ("Blocks of type "required_plugins" are not expected here"): with 1.6.6,
# delete this file.
packer {
  required_plugins {
    proxmox = {
      source  = "github.com/hashicorp/proxmox"
      version = ">= 1.1.8"
    }
  }
}
