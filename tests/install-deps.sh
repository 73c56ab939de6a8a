#!/bin/sh
# Install everything popa3d needs to build and to run its whole test suite
# on Debian 12 (run as root).  Used by tests/run-all.sh and .ci/run.
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
	>/dev/null
