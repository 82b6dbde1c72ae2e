output "ansible_inventory" {
  value = jsonencode({ all = { hosts = { jump = { ansible_host = "127.0.0.11" } } } })
}
output "vm_ip" {
  value = "127.0.0.11"
}
