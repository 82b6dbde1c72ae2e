#!/bin/sh
# host-up.sh: "clone" one lab host from a template — copy the template's
# image as the host's root, give the host its own host key, authorize the
# lab's client key, start the host's own sshd on ADDRESS:PORT and record its
# key in the lab's known_hosts. Re-runnable: a host that is already up is
# stopped and started again from scratch. It does not wait for sshd to
# answer; the pipeline's wait-for-SSH stage does.
#
# Environment (from main.tf's create-time provisioner, i.e. self.input):
#   LAB_HOST LAB_ADDRESS LAB_PORT LAB_DIR LAB_TEMPLATE [LAB_REGISTRY]
set -eu
name=${LAB_HOST:?LAB_HOST is not set}
addr=${LAB_ADDRESS:?LAB_ADDRESS is not set}
port=${LAB_PORT:?LAB_PORT is not set}
lab=${LAB_DIR:?LAB_DIR is not set}
tid=${LAB_TEMPLATE:?LAB_TEMPLATE is not set}
registry=${LAB_REGISTRY:-$lab/registry}
here=$(dirname "$0")
host="$lab/hosts/$name"
image="$registry/$tid"

if [ ! -f "$image/id" ] || [ "$(cat "$image/id")" != "$tid" ] || [ ! -d "$image/image" ]; then
	echo "host-up.sh: template $tid is not in the lab's registry $registry ($image/id is missing): build it with the Packer stage first" >&2
	exit 1
fi

# Restart cleanly: whatever ran for this host before goes first.
sh "$here/host-down.sh" >/dev/null

# Nothing else may hold the address: sshd would only say so in its log.
# /proc/net/tcp{,6} list listeners as hex address:port, state 0A.
hexport=$(printf '%04X' "$port")
hexaddr=$(echo "$addr" | awk -F. '{ printf "%02X%02X%02X%02X", $4, $3, $2, $1 }')
if cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v a="$hexaddr:$hexport" -v p=":$hexport" '
	$4 == "0A" && ($2 == a || $2 == "00000000" p || $2 == "00000000000000000000000000000000" p) { found = 1 }
	END { exit !found }'; then
	echo "host-up.sh: $addr:$port is already in use by another process; choose another ssh_port" >&2
	exit 1
fi

mkdir -p "$host" /run/sshd
cp -a "$image/image" "$host/root"
mkdir -p "$host/root/run" "$host/home"

# The lab's client key, made once even when hosts start in parallel, and
# renamed into place so no host ever copies half a key.
(
	flock 9
	if [ ! -f "$lab/client_key" ] || [ ! -f "$lab/client_key.pub" ]; then
		rm -f "$lab/client_key.tmp" "$lab/client_key.tmp.pub"
		ssh-keygen -q -t ed25519 -N '' -C baton-lab -f "$lab/client_key.tmp"
		mv "$lab/client_key.tmp.pub" "$lab/client_key.pub"
		mv "$lab/client_key.tmp" "$lab/client_key"
	fi
) 9>"$lab/.lock"
ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$host/ssh_host_ed25519_key"
cp "$lab/client_key.pub" "$host/authorized_keys"

cat >"$host/sshd_config" <<EOF
# $name of the baton lab, cloned from template $tid.
ListenAddress $addr:$port
HostKey "$host/ssh_host_ed25519_key"
PidFile "$host/sshd.pid"
AuthorizedKeysFile "$host/authorized_keys"
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
MaxStartups 100:30:200
MaxSessions 100
# Every session (the wait stage's probe, each of Ansible's commands) starts
# in the lab's own environment, not after this machine's login-shell
# start-up: root's ~/.bashrc may run pyenv, nvm or conda, 0.5 s a command.
# HOME is the host's own, empty home, so any shell's rc files (bash's
# ~/.bashrc, zsh's ~/.zshenv, fish's config) are the lab's; SHLVL=1 makes
# bash skip its "started by sshd" rc rule altogether (/etc/bash.bashrc
# too); PATH is fixed; no ~/.ssh/rc or ~/.ssh/environment is read.
SetEnv "HOME=$host/home" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SHLVL=1
PermitUserRC no
PermitUserEnvironment no
EOF
# Check the configuration where its errors can be seen, then start the
# daemon (it forks and writes its pidfile; errors after that are in sshd.log).
/usr/sbin/sshd -t -f "$host/sshd_config"
if ! /usr/sbin/sshd -f "$host/sshd_config" -E "$host/sshd.log" </dev/null >>"$host/sshd.log" 2>&1; then
	cat "$host/sshd.log" >&2
	exit 1
fi

# Record the host key where baton's wait and Ansible check it, replacing
# any line an earlier host on this address left.
if [ "$port" = 22 ]; then entry=$addr; else entry="[$addr]:$port"; fi
(
	flock 9
	touch "$lab/known_hosts"
	awk -v h="$entry " 'index($0, h) != 1' "$lab/known_hosts" >"$lab/known_hosts.tmp"
	printf '%s %s\n' "$entry" "$(cut -d' ' -f1,2 "$host/ssh_host_ed25519_key.pub")" >>"$lab/known_hosts.tmp"
	mv "$lab/known_hosts.tmp" "$lab/known_hosts"
) 9>"$lab/.lock"
echo "$name: sshd on $addr:$port, cloned from template $tid"
