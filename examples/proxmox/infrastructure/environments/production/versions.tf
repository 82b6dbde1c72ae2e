terraform {
  required_version = ">= 1.5"

  required_providers {
    proxmox = {
      source  = "bpg/proxmox"
      version = "~> 0.66"
    }
  }
}

# Credentials from the environment only: PROXMOX_VE_ENDPOINT and
# PROXMOX_VE_API_TOKEN (or PROXMOX_VE_USERNAME/PROXMOX_VE_PASSWORD), e.g.
# through `doppler run --`.
provider "proxmox" {
  insecure = var.insecure_tls
}
