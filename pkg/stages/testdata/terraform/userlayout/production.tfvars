generation = {
  "web-1" = 1
  "web-2" = 1
}
