#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Build popa3d from this tree and start a demo server on 127.0.0.1:1110
# with a demo account (README's first command), as root on Debian 12.
# It harms nothing that was there before: it installs no popa3d into the
# system (the server runs from the build tree), uses names of its own
# (users popa3d-demo and popdemo, PAM service popa3d-demo), refuses to
# start if one of them exists without having been made by it, and records
# everything it makes in a manifest, which `doc/demo-setup.sh --remove`
# undoes, item by item, in reverse order.
#
# What it makes (each only if missing, each recorded):
#   - the Debian packages it needs to build and run (--print-deps lists
#     them; only the missing ones are installed, never the test toolchain).
#     --remove leaves them and prints the command that would purge them;
#   - ./build-demo (the build; its log is build-demo/build.log);
#   - /var/lib/popa3d-demo: the manifest and the pre-auth chroot "empty";
#   - the system user popa3d-demo (the pre-auth child's, not Debian's
#     popa3d), /etc/pam.d/popa3d-demo (the usual Debian stack);
#   - the user popdemo (no home, nologin shell) with a random password in
#     /root/popa3d-demo-password, and /var/mail/popdemo with 3 messages;
#   - the server: build-demo/src/popa3d -D -F --log-stderr on
#     127.0.0.1:1110, pid in /run/popa3d-demo.pid, log in
#     /var/log/popa3d-demo.log (also syslog, where there is one).
# autoreconf leaves its generated files (configure, Makefile.in, ...) in
# the source tree, as any build of a git checkout does.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
state=/var/lib/popa3d-demo
manifest=$state/manifest
pidfile=/run/popa3d-demo.pid
pwfile=/root/popa3d-demo-password
logfile=/var/log/popa3d-demo.log
port=1110
deps="build-essential autoconf automake pkg-config libpam0g-dev libpam-modules
libcrypt-dev libssl-dev libseccomp-dev curl"

if [ "${1:-}" = --print-deps ]; then
	echo $deps
	exit 0
fi
die() { echo "demo-setup: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

# ---------------------------------------------------------------- removal
recorded() { [ -f $manifest ] && grep -q -x -F "$1" $manifest; }

if [ "${1:-}" = --remove ]; then
	[ -f $manifest ] || die "nothing to remove: no $manifest (the demo is not set up)"
	bin=$(readlink -f "$top/build-demo/src/popa3d" || true)
	# Last made, first undone; a step that fails is reported, the rest
	# still done, and the manifest kept for another try.
	tac $manifest | { failed=0; while read -r kind what; do
		case $kind in
		process)
			pid=$(cat "$what" 2>/dev/null || true)
			if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$bin" ]; then
				kill "$pid"
				i=0
				while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
			fi
			rm -f "$what" ;;
		file) rm -f "$what" ;;
		tree) rm -rf "$what" ;;
		dir) [ "$what" = $state ] || rmdir "$what" 2>/dev/null || true ;;
		user) ! getent passwd "$what" >/dev/null || userdel "$what" || failed=1 ;;
		group) ! getent group "$what" >/dev/null || groupdel "$what" || failed=1 ;;
		package) ;;
		*) echo "demo-setup: unknown manifest line: $kind $what" >&2; failed=1 ;;
		esac
	done; exit $failed; } || die "some steps failed (above); $manifest is kept"
	pkgs=$(awk '$1 == "package" { printf "%s ", $2 }' $manifest)
	rm -rf $state
	echo "demo removed."
	if [ -n "$pkgs" ]; then
		echo "It had installed these Debian packages, which it leaves installed:"
		echo "  $pkgs"
		echo "To remove them too:  apt-get purge $pkgs"
	fi
	exit 0
fi
[ $# = 0 ] || die "usage: $0 [--remove | --print-deps]"

# ---------------------------------------------------------------- checks
# Never reuse or overwrite what someone else made: a name that exists
# without a manifest line is not ours.
for u in popa3d-demo popdemo; do
	if getent passwd $u >/dev/null && ! recorded "user $u"; then
		die "the user $u exists and was not made by this demo; not touching it"
	fi
done
for f in /etc/pam.d/popa3d-demo /var/mail/popdemo $pwfile $logfile; do
	if [ -e $f ] && ! recorded "file $f"; then
		die "$f exists and was not made by this demo; not touching it"
	fi
done
if [ -f $pidfile ] && kill -0 "$(cat $pidfile)" 2>/dev/null; then
	die "the demo server is already running (pid $(cat $pidfile)); doc/demo-setup.sh --remove first"
fi
if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Htln "sport = :$port")" ]; then
	die "port $port is in use"
fi

mkdir -p $state
record() { recorded "$*" || echo "$*" >>$manifest; }
record dir $state

# ---------------------------------------------------------------- packages
missing=
for p in $deps; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	before=$(dpkg-query -W -f='${Package}:${Architecture} ${Status}\n' | awk '/ installed$/ {print $1}')
	echo "demo-setup: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
	dpkg-query -W -f='${Package}:${Architecture} ${Status}\n' | awk '/ installed$/ {print $1}' |
		while read -r p; do
			echo "$before" | grep -q -x -F "$p" || record package "$p"
		done
fi

# ---------------------------------------------------------------- build
[ -d build-demo ] || record tree "$top/build-demo"
mkdir -p build-demo
log=$top/build-demo/build.log
echo "demo-setup: building in build-demo (log: $log)"
if ! { autoreconf -fi && cd build-demo &&
	"$top/configure" --sysconfdir=/etc --with-user=popa3d-demo \
		--with-empty-dir=$state/empty && make -j"$(nproc)"; } >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	die "the build failed; the whole log is $log"
fi
cd "$top"

# ---------------------------------------------------------------- accounts
if ! getent passwd popa3d-demo >/dev/null; then
	record group popa3d-demo
	record user popa3d-demo
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin popa3d-demo
fi
[ -d $state/empty ] || { record dir $state/empty; install -d -m 0755 -o root -g root $state/empty; }
if [ ! -e /etc/pam.d/popa3d-demo ]; then
	record file /etc/pam.d/popa3d-demo
	printf '# popa3d demo (doc/demo-setup.sh); removed by --remove\n@include common-auth\n@include common-account\n' \
		>/etc/pam.d/popa3d-demo
fi
if ! getent passwd popdemo >/dev/null; then
	record group popdemo
	record user popdemo
	useradd --no-create-home --home-dir /nonexistent --user-group \
		--shell /usr/sbin/nologin popdemo
fi
if [ ! -s $pwfile ]; then
	record file $pwfile
	(umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >$pwfile)
fi
printf 'popdemo:%s\n' "$(cat $pwfile)" | chpasswd

[ -d /var/mail ] || { record dir /var/mail; install -d -m 2775 -o root -g mail /var/mail; }
record file /var/mail/popdemo
{
	for i in 1 2 3; do
		printf 'From demo@example.org Thu Nov 19 10:00:0%s 2026\n' "$i"
		printf 'Received: from example.org by localhost; Thu, 19 Nov 2026 10:00:0%s +0000\n' "$i"
		printf 'From: demo@example.org\nTo: popdemo@localhost\n'
		printf 'Subject: Demo message %s\nMessage-ID: <demo-%s@example.org>\n\n' "$i" "$i"
		printf 'Hello from popa3d, message %s.\n.This line starts with a dot.\n\n' "$i"
	done
} >/var/mail/popdemo
chown popdemo:mail /var/mail/popdemo
chmod 0660 /var/mail/popdemo

# ---------------------------------------------------------------- server
# In the foreground of its own session (setsid), so that --log-stderr can
# write to a file: a detached daemon has no stderr, and a host without
# /dev/log would keep no log at all.
record file $logfile
record process $pidfile
setsid "$top/build-demo/src/popa3d" -D -F --log-stderr -l 127.0.0.1:$port \
	--pam-service popa3d-demo </dev/null >>$logfile 2>&1 &
echo $! >$pidfile
i=0
until bash -c ": </dev/tcp/127.0.0.1/$port" 2>/dev/null || [ $i -ge 50 ]; do
	kill -0 "$(cat $pidfile)" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
kill -0 "$(cat $pidfile)" 2>/dev/null || { tail -n 20 $logfile >&2; die "the server did not start (log: $logfile)"; }

echo
echo "popa3d is running on 127.0.0.1:$port (pid $(cat $pidfile)); its log: $logfile"
echo "Try:  curl -u popdemo:\$(cat $pwfile) pop3://127.0.0.1:$port/      # list"
echo "      curl -u popdemo:\$(cat $pwfile) pop3://127.0.0.1:$port/1     # fetch message 1"
echo "Man pages: man -l build-demo/doc/popa3d.8"
echo "Remove everything it made: doc/demo-setup.sh --remove"
