#!/bin/sh
# The floor: the same tool commands back to back, no waits, no
# orchestration, with the fast Ansible settings baton uses.
# Arguments: REPO LAB STATE PORT APP_PORT HOSTS
set -eu
repo=$1 lab=$2 state=$3 port=$4 app=$5 hosts=$6
ex="$repo/examples/local"
cd "$ex/packer"
packer build -machine-readable -var registry="$lab/registry" -var manifest="$lab/floor-manifest.json" . >"$state/floor-packer.out"
id=$(sed -n 's/.*registered template \([0-9]*\).*/\1/p' "$state/floor-packer.out" | tail -1)
cd "$ex/terraform"
export TF_DATA_DIR="$state/floor-tf"
[ -d "$TF_DATA_DIR" ] || terraform init -input=false -backend-config=path="$state/floor.tfstate" >/dev/null
terraform apply -input=false -auto-approve -var template_id="$id" -var lab_dir="$lab" \
	-var ssh_port="$port" -var app_port="$app" -var host_count="$hosts" >/dev/null
terraform output -json ansible_inventory >"$state/floor-inventory.json"
cd "$ex/ansible"
ANSIBLE_PIPELINING=True ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=60s" ANSIBLE_FORKS="$hosts" \
	ansible-playbook -i "$state/floor-inventory.json" site.yml >/dev/null
