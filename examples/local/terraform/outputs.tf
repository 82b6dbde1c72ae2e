output "ansible_inventory" {
  description = "The hosts as a static Ansible inventory: group db (db-1) and group web (web-1, …)."
  value = {
    all = {
      vars = {
        # ansible_user is also here, where consumers such as
        # examples/homelab/apps read it from all.vars.
        ansible_user                 = "root"
        ansible_ssh_private_key_file = "${var.lab_dir}/client_key"
        ansible_ssh_common_args      = "-o ${local.known_hosts_option} -o StrictHostKeyChecking=yes"
        ansible_python_interpreter   = "/usr/bin/python3"
        app_port                     = var.app_port
      }
      children = {
        for g in distinct([for h in local.hosts : h.group]) : g => {
          hosts = {
            for i, h in local.hosts : h.name => {
              ansible_host = h.address
              ansible_port = var.ssh_port
              ansible_user = "root"
              lab_root     = "${var.lab_dir}/hosts/${h.name}/root"
              # From the resource, so the inventory follows the apply.
              template_id = terraform_data.host[i].input.template
            } if h.group == g
          }
        }
      }
    }
  }
}

output "template_id" {
  description = "The template every host was cloned from."
  value       = var.template_id
}

output "hosts" {
  description = "Every host's address:port, db-1 first."
  value       = [for i, h in local.hosts : "${terraform_data.host[i].input.address}:${terraform_data.host[i].input.port}"]
}

output "known_hosts_file" {
  description = "The known_hosts file holding every host's key, as [address]:port lines."
  value       = "${var.lab_dir}/known_hosts"
}

output "client_key_file" {
  description = "The private key authorized on every host (its .pub beside it)."
  value       = "${var.lab_dir}/client_key"
}
