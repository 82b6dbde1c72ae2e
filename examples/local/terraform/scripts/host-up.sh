#!/bin/sh
# host-up.sh NAME ADDRESS PORT LAB_DIR TEMPLATE_ID: "clone" a lab host from
# a template: copy the image, give the host its own host key, authorize the
# lab's client key and start its sshd on ADDRESS:PORT.
set -eu
name=$1 addr=$2 port=$3 lab=$4 tid=$5
image="$lab/registry/$tid"
if [ ! -f "$image/id" ]; then
	echo "template $tid is not in the lab's registry ($lab/registry): build one with the packer stage (go run mage.go stage1)" >&2
	exit 1
fi
host="$lab/hosts/$name"
mkdir -p "$lab/hosts" /run/sshd
sh "$(dirname "$0")/host-down.sh" "$name" "$addr" "$port" "$lab"
mkdir -p "$host"
cp -a "$image/image" "$host/root"
mkdir -p "$host/root/run"

# The lab's client key, made once even when hosts start in parallel.
(
	flock 9
	[ -f "$lab/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C baton-lab -f "$lab/client_key"
) 9>"$lab/.lock"
ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$host/ssh_host_ed25519_key"
cp "$lab/client_key.pub" "$host/authorized_keys"
cat >"$host/sshd_config" <<CFG
ListenAddress $addr:$port
HostKey $host/ssh_host_ed25519_key
PidFile $host/sshd.pid
AuthorizedKeysFile $host/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
MaxStartups 100:30:200
CFG
/usr/sbin/sshd -f "$host/sshd_config"

# Record the host key where baton's wait and Ansible check it.
(
	flock 9
	touch "$lab/known_hosts"
	grep -v "^\[$addr\]:$port " "$lab/known_hosts" >"$lab/known_hosts.tmp" || true
	printf '[%s]:%s %s\n' "$addr" "$port" "$(cut -d' ' -f1,2 "$host/ssh_host_ed25519_key.pub")" >>"$lab/known_hosts.tmp"
	mv "$lab/known_hosts.tmp" "$lab/known_hosts"
) 9>"$lab/.lock"
echo "$name: sshd on $addr:$port from template $tid"
