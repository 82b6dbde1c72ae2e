source "null" "golden" {
  communicator = "none"
}

build {
  sources = ["source.null.golden"]

  provisioner "shell-local" {
    inline = ["echo the disk is full >&2", "exit 3"]
  }
}
