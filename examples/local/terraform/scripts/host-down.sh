#!/bin/sh
# host-down.sh: stop one lab host and remove it — its sshd with every
# session under it, any service the playbook started (pidfiles in
# root/run/), its known_hosts line and its directory. Idempotent: a host
# that is already gone is fine. host-up.sh runs it first, to restart.
#
# Environment (from main.tf's destroy-time provisioner, i.e. self.input):
#   LAB_HOST LAB_ADDRESS LAB_PORT LAB_DIR
set -eu
name=${LAB_HOST:?LAB_HOST is not set}
addr=${LAB_ADDRESS:?LAB_ADDRESS is not set}
port=${LAB_PORT:?LAB_PORT is not set}
lab=${LAB_DIR:?LAB_DIR is not set}
case $name in '' | . | .. | */*)
	echo "host-down.sh: bad host name '$name'" >&2
	exit 1
	;;
esac
host="$lab/hosts/$name"

# ours PID: is PID a process of this host? Its command line names the
# host's directory (sshd -f <host>/sshd_config, http.server --directory
# <host>/root/…), so a pidfile left over from an earlier boot never makes
# us kill a stranger that got the same PID.
ours() {
	[ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$host/"
}

# family PID…: the PIDs and all their descendants (an sshd's sessions),
# from /proc alone so procps is not needed.
family() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$*" '
		{ pid = $1; sub(/.*\) /, ""); kids[$2] = kids[$2] " " pid }
		END {
			n = split(roots, q, " ")
			for (i = 1; i <= n; i++) {
				print q[i]
				m = split(kids[q[i]], k, " ")
				for (j = 1; j <= m; j++) q[++n] = k[j]
			}
		}'
}

roots=
for pidfile in "$host/sshd.pid" "$host"/root/run/*.pid; do
	[ -f "$pidfile" ] || continue
	pid=$(cat "$pidfile" 2>/dev/null || true)
	case $pid in '' | *[!0-9]*) continue ;; esac
	ours "$pid" && roots="$roots $pid"
done
# A listener or service whose pidfile was lost still names the host's
# directory on its command line; only sshd and python processes count.
for f in $(grep -lF -- "$host/" /proc/[0-9]*/cmdline 2>/dev/null || true); do
	pid=${f#/proc/}
	pid=${pid%/cmdline}
	case $(tr '\0' ' ' <"$f" 2>/dev/null || true) in
	sshd* | /usr/sbin/sshd* | *python*" -m http.server "*) roots="$roots $pid" ;;
	esac
done

# alive PID…: those still running. A zombie counts as gone: it holds no
# socket any more, and some inits (containers, microVMs) reap late.
alive() {
	for p in "$@"; do echo "/proc/$p/stat"; done | xargs cat 2>/dev/null |
		awk '{ pid = $1; sub(/.*\) /, ""); if ($1 != "Z") print pid }'
}

if [ -n "$roots" ]; then
	pids=$(family $roots | sort -un)
	kill -TERM $pids 2>/dev/null || true
	# Bounded: up to 5 s for them to exit, so the address and port are free
	# for a new sshd; then SIGKILL.
	i=0
	while left=$(alive $pids) && [ -n "$left" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -z "$left" ] || kill -KILL $left 2>/dev/null || true
fi

rm -rf "$host"
# hosts/ itself stays: removing it here would race with another host's
# host-up.sh creating its directory in it (hosts start in parallel).

# Forget the host's key (the address may get another host, with another key).
if [ "$port" = 22 ]; then entry=$addr; else entry="[$addr]:$port"; fi
if [ -f "$lab/known_hosts" ]; then
	(
		flock 9
		awk -v h="$entry " 'index($0, h) != 1' "$lab/known_hosts" >"$lab/known_hosts.tmp"
		mv "$lab/known_hosts.tmp" "$lab/known_hosts"
	) 9>"$lab/.lock"
fi
echo "$name: stopped and removed ($addr:$port)"
