variable "hosts" {
  type = any
}
output "urls" {
  value = ["http://127.0.0.11:8080"]
}
