vm_name = "jump-small"
