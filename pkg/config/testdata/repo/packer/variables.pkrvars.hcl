node = "pve1"
