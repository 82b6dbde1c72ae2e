terraform {
  required_version = ">= 1.5"

  required_providers {
    proxmox = {
      source  = "bpg/proxmox"
      version = "~> 0.66"
    }
  }
}

# Everything from the environment, e.g. through `doppler run --`:
# PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN (or PROXMOX_VE_USERNAME and
# PROXMOX_VE_PASSWORD), and PROXMOX_VE_INSECURE=true for a self-signed
# certificate. Nothing here would override them.
provider "proxmox" {}
