#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Install everything popa3d needs to build and to run its whole test suite
# on Debian 12 (run as root), and to build and check the Debian package
# (tests/deb/run.sh).  Used by tests/run-all.sh and .ci/run.
set -eu
export DEBIAN_FRONTEND=noninteractive
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: not a Debian system; install the packages listed in $0 by hand" >&2
	exit 1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake pkg-config \
	libpam0g-dev libpam-modules libcrypt-dev libssl-dev libseccomp-dev \
	clang libclang-rt-14-dev \
	libpam-wrapper libnss-wrapper \
	python3 curl socat fetchmail getmail6 mpop fail2ban openssl haproxy \
	procps iproute2 passwd whois \
	debhelper dpkg-dev lintian mmdebstrap systemd-container \
	>/dev/null
# Dovecot's LDA (dovecot-core) writes Maildirs the way a real server does
# (file names with ,S= and ,W= size hints) for tests/e2e/test-maildir.py;
# tests/e2e/test-migration.py also runs its POP3 server (dovecot-pop3d)
# with a configuration of its own on a loopback port.  No system dovecot
# may start from this: the package scripts are told no (policy-rc.d 101),
# and systemd's unit is disabled where there is one.
if ! dpkg-query -W -f='${Status}' dovecot-core dovecot-pop3d 2>/dev/null |
	grep -q 'install ok installed.*install ok installed'; then
	prc=/usr/sbin/policy-rc.d
	if [ -e "$prc" ]; then
		apt-get install -y -qq --no-install-recommends dovecot-core dovecot-pop3d >/dev/null
	else
		printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod 755 "$prc"
		rc=0
		apt-get install -y -qq --no-install-recommends dovecot-core dovecot-pop3d >/dev/null || rc=$?
		rm -f "$prc"
		[ "$rc" = 0 ] || exit "$rc"
	fi
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
	fi
fi
# Debian's popa3d 1.0.3, the predecessor whose UIDLs we keep: downloaded
# and unpacked into /tmp/popa3d-deb, never installed (it conflicts with
# dovecot-pop3d).  test-mbox-popa3d-compat and test-migration.py use it.
if [ ! -x /tmp/popa3d-deb/usr/sbin/popa3d ]; then
	tmp=$(mktemp -d)
	(cd "$tmp" && chown _apt "$tmp" 2>/dev/null; apt-get download -qq popa3d) &&
		dpkg -x "$tmp"/popa3d_*.deb /tmp/popa3d-deb || true
	rm -rf "$tmp"
fi
