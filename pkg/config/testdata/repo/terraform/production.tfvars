vm_name = "jump-prod"
