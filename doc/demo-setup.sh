#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Build, install and start popa3d on a fresh Debian 12 machine with a demo
# account, answering on 127.0.0.1:1110 only (README's first command).
#
# What it creates (and `doc/demo-setup.sh --remove` removes):
#   - build dependencies from Debian (left installed by --remove);
#   - /usr/local/sbin/popa3d, its TLS module
#     /usr/local/lib/popa3d/popa3d-tls.so, its man pages, /etc/pam.d/popa3d
#     (make install with --sysconfdir=/etc);
#   - the system user "popa3d" (pre-auth child) and /var/empty if missing;
#   - the user "popdemo" (nologin shell) with a random password saved in
#     /root/popa3d-demo-password, and /var/mail/popdemo with 3 messages;
#   - a running `popa3d -D -l 127.0.0.1:1110 --pid-file /run/popa3d-demo.pid`.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
pidfile=/run/popa3d-demo.pid
pwfile=/root/popa3d-demo-password

[ "$(id -u)" = 0 ] || { echo "demo-setup: run as root" >&2; exit 1; }

if [ "${1:-}" = "--remove" ]; then
	if [ -f $pidfile ]; then kill "$(cat $pidfile)" 2>/dev/null || true; fi
	rm -f $pidfile $pwfile /var/mail/popdemo
	userdel -r popdemo 2>/dev/null || true
	userdel popa3d 2>/dev/null || true
	if [ -f build-demo/Makefile ]; then make -C build-demo uninstall >/dev/null; fi
	# make uninstall leaves directories; this one only ever held the module
	rmdir /usr/local/lib/popa3d 2>/dev/null || true
	rm -rf build-demo
	echo "demo removed (Debian packages it installed are left in place)"
	exit 0
fi

tests/install-deps.sh
autoreconf -fi >/dev/null 2>&1
mkdir -p build-demo
cd build-demo
"$top/configure" -q --prefix=/usr/local --sysconfdir=/etc --with-pamdir=/etc/pam.d
make -j"$(nproc)" >/dev/null
make install >/dev/null
cd "$top"

getent passwd popa3d >/dev/null ||
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin popa3d
[ -d /var/empty ] || install -d -m 0755 -o root -g root /var/empty
getent passwd popdemo >/dev/null ||
	useradd --create-home --shell /usr/sbin/nologin popdemo
if [ ! -s $pwfile ]; then
	umask 077
	head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > $pwfile
fi
printf 'popdemo:%s\n' "$(cat $pwfile)" | chpasswd

install -d -m 2775 -o root -g mail /var/mail
{
	for i in 1 2 3; do
		printf 'From demo@example.org Thu Nov 19 10:00:0%s 2026\n' "$i"
		printf 'Received: from example.org by localhost; Thu, 19 Nov 2026 10:00:0%s +0000\n' "$i"
		printf 'From: demo@example.org\nTo: popdemo@localhost\n'
		printf 'Subject: Demo message %s\nMessage-ID: <demo-%s@example.org>\n\n' "$i" "$i"
		printf 'Hello from popa3d, message %s.\n.This line starts with a dot.\n\n' "$i"
	done
} > /var/mail/popdemo
chown popdemo:mail /var/mail/popdemo
chmod 0660 /var/mail/popdemo

if [ -f $pidfile ] && kill -0 "$(cat $pidfile)" 2>/dev/null; then
	kill "$(cat $pidfile)"; sleep 1
fi
/usr/local/sbin/popa3d -D -l 127.0.0.1:1110 --pid-file $pidfile
sleep 1
echo
echo "popa3d is running on 127.0.0.1:1110 (pid $(cat $pidfile))."
echo "Try:  curl -u popdemo:\$(cat $pwfile) pop3://127.0.0.1:1110/      # list"
echo "      curl -u popdemo:\$(cat $pwfile) pop3://127.0.0.1:1110/1     # fetch message 1"
echo "Remove everything with: doc/demo-setup.sh --remove"
