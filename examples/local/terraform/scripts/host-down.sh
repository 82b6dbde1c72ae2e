#!/bin/sh
# host-down.sh NAME ADDRESS PORT LAB_DIR: stop a lab host — its sshd, its
# sessions and any service the playbook started — and remove its files.
set -eu
name=$1 addr=$2 port=$3 lab=$4
host="$lab/hosts/$name"
stop() {
	pid=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	pkill -TERM -P "$pid" 2>/dev/null || true
	kill "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null || true
}
if [ -d "$host" ]; then
	for pidfile in "$host"/root/run/*.pid "$host/sshd.pid"; do
		[ -f "$pidfile" ] && stop "$pidfile"
	done
	rm -rf "$host"
fi
if [ -f "$lab/known_hosts" ]; then
	(
		flock 9
		grep -v "^\[$addr\]:$port " "$lab/known_hosts" >"$lab/known_hosts.tmp" || true
		mv "$lab/known_hosts.tmp" "$lab/known_hosts"
	) 9>"$lab/.lock"
fi
