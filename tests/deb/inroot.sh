#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run a command chrooted into a throwaway Debian root, in private mount,
# network and PID namespaces: mounts vanish with the namespace, port 110
# inside is the namespace's own loopback (nothing reaches the host's
# network), and every daemon a test started dies with it.
#   tests/deb/inroot.sh ROOT COMMAND [ARG...]
set -eu
root=$1
shift
exec unshare --mount --net --pid --fork --kill-child /bin/sh -c '
	set -e
	root=$1; shift
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount -t tmpfs -o mode=0755 tmpfs "$root/dev"
	for d in null zero full random urandom tty; do
		touch "$root/dev/$d"
		mount --bind "/dev/$d" "$root/dev/$d"
	done
	mkdir -p "$root/dev/pts" "$root/dev/shm"
	ln -s /proc/self/fd "$root/dev/fd"
	ln -s /proc/self/fd/0 "$root/dev/stdin"
	ln -s /proc/self/fd/1 "$root/dev/stdout"
	ln -s /proc/self/fd/2 "$root/dev/stderr"
	mount -t tmpfs -o mode=0755 tmpfs "$root/run"
	mkdir -p "$root/run/lock"
	ip link set lo up
	exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
' sh "$root" "$@"
