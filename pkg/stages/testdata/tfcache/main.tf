# A configuration whose init installs one provider, baton/fake, from the
# filesystem mirror the test writes. Nothing uses the provider, so it is
# installed but never started.
terraform {
  required_providers {
    fake = {
      source  = "baton/fake"
      version = "0.0.1"
    }
  }
}
