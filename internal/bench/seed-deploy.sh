#!/bin/sh
# The seed's deploy-pipeline.sh flow, faithfully, on the local lab: Packer
# is built twice (the second time only to read the template ID), a fixed
# sleep 30 waits for the machines, and ansible-playbook runs with its own
# defaults. Arguments: REPO LAB STATE PORT APP_PORT HOSTS
set -eu
repo=$1 lab=$2 state=$3 port=$4 app=$5 hosts=$6
ex="$repo/examples/local"
cd "$ex/packer"
packer build -var registry="$lab/registry" -var manifest="$lab/seed-manifest.json" . >/dev/null
id=$(packer build -machine-readable -var registry="$lab/registry" -var manifest="$lab/seed-manifest.json" . |
	sed -n 's/.*registered template \([0-9]*\).*/\1/p' | tail -1)
cd "$ex/terraform"
export TF_DATA_DIR="$state/seed-tf"
terraform init -input=false -backend-config=path="$state/seed.tfstate" >/dev/null
terraform apply -input=false -auto-approve -var template_id="$id" -var lab_dir="$lab" \
	-var ssh_port="$port" -var app_port="$app" -var host_count="$hosts" >/dev/null
terraform output -json ansible_inventory >"$state/seed-inventory.json"
sleep 30
cd "$ex/ansible"
ansible-playbook -i "$state/seed-inventory.json" site.yml >/dev/null
