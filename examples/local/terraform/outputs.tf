output "ansible_inventory" {
  description = "The hosts as a static Ansible inventory: groups db and web."
  value = {
    all = {
      vars = {
        ansible_user                 = "root"
        ansible_ssh_private_key_file = "${var.lab_dir}/client_key"
        ansible_ssh_common_args      = "-o UserKnownHostsFile=${var.lab_dir}/known_hosts -o StrictHostKeyChecking=yes"
        ansible_python_interpreter   = "/usr/bin/python3"
        app_port                     = var.app_port
      }
      children = {
        for g in distinct([for h in local.hosts : h.group]) : g => {
          hosts = {
            for i, h in local.hosts : h.name => {
              ansible_host = h.address
              ansible_port = var.ssh_port
              lab_root     = "${var.lab_dir}/hosts/${h.name}/root"
              template_id  = terraform_data.host[i].input.template
            } if h.group == g
          }
        }
      }
    }
  }
}

output "hosts" {
  description = "Every host's address:port."
  value       = [for h in local.hosts : "${h.address}:${var.ssh_port}"]
}

output "known_hosts_file" {
  value = "${var.lab_dir}/known_hosts"
}

output "client_key_file" {
  value = "${var.lab_dir}/client_key"
}
