image_version = "2.4.1-jump"
