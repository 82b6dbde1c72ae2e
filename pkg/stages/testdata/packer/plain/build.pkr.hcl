# A build without a manifest: its artifact ID is the null builder's "Null".
source "null" "golden" {
  communicator = "none"
}

build {
  sources = ["source.null.golden"]

  provisioner "shell-local" {
    inline = ["echo hello"]
  }
}
