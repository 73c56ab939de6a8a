#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The Debian package, end to end (a CI stage; run as root on Debian 12):
#  1. dpkg-buildpackage -us -uc -b in a copy of the tree;
#  2. lintian: no E: or W: line (overrides carry their reasons);
#  3. a throwaway Debian 12 root made by mmdebstrap from the archive the
#     host's apt uses, unpacked afresh for each scenario of
#     tests/deb/scenarios.sh, which runs chrooted in private mount, network
#     and PID namespaces (tests/deb/inroot.sh): fresh install + PAM login
#     + purge; the autopkgtest (its null runner, in the root); Debian's
#     popa3d 1.0.3-1.1 upgraded in place (standalone, and inetd) + purge;
#     the demo round trip beside 1.0.3;
#  4. fresh install and both upgrades again in the root booted with
#     systemd-nspawn: systemd as PID 1 starts the service itself.
# The host's /usr, /etc and users are never touched: everything is
# installed into the throwaway roots, which are deleted at the end; the
# host keeps only a copy of the root's tarball in /var/cache/popa3d-tests.
# Prints one line per check and "N passed, N failed"; exit 1 on a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
[ "$(id -u)" = 0 ] || { echo "tests/deb/run.sh: needs root (chroot, namespaces)"; exit 77; }
for tool in dpkg-buildpackage lintian mmdebstrap unshare ip python3 systemd-nspawn nsenter; do
	command -v $tool >/dev/null || { echo "tests/deb/run.sh: $tool missing (tests/install-deps.sh)"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/popa3d-deb.XXXXXX")
# The namespaces of tests/deb/inroot.sh are gone when it returns, and with
# them every mount inside the roots; a container still running (an
# interrupted run) is powered off first: removing $work removes only files.
nspawn=
cleanup() {
	if [ -n "$nspawn" ]; then kill "$nspawn" 2>/dev/null && wait "$nspawn" || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
count() { # reads scenario output, echoes it and counts ok / not ok
	local line
	while IFS= read -r line; do
		echo "$line"
		case "$line" in
		"not ok"*) failed=$((failed + 1)) ;;
		"ok"*) passed=$((passed + 1)) ;;
		esac
	done
}
check() { # check STATUS DESCRIPTION
	if [ "$1" -eq 0 ]; then
		echo "ok - $2"; passed=$((passed + 1))
	else
		echo "not ok - $2"; failed=$((failed + 1))
	fi
}
step() { echo "# --- $1 ($(date -u +%H:%M:%S))"; }

step "build the package"
mkdir -p "$work/src/popa3d"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard
else
	find . \( -path './build*' -o -path ./.git -o -path './debian/popa3d' \) -prune -o -type f -print0
fi | tar --null -T - -cf - | tar -xf - -C "$work/src/popa3d"
# "make dist" ships debian/ and tests/deb/ through tests/deb/local.mk's
# list, kept by hand: every file in git must be on it.
if git rev-parse --git-dir >/dev/null 2>&1; then
	rc=0
	for f in $(git ls-files debian tests/deb); do
		[ "$f" = tests/deb/local.mk ] || grep -q -w -F "$f" tests/deb/local.mk || {
			echo "# not in tests/deb/local.mk: $f"; rc=1; }
	done
	check $rc "tests/deb/local.mk lists every file of debian/ and tests/deb/ for make dist"
fi
rc=0
(cd "$work/src/popa3d" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1 || rc=$?
check $rc "dpkg-buildpackage -us -uc -b"
if [ $rc != 0 ]; then tail -n 60 "$work/build.log"; echo "$passed passed, $failed failed"; exit 1; fi
grep -E '^# (TOTAL|PASS|FAIL|ERROR|SKIP)' "$work/build.log" | sed 's/^/#   make check: /' || true
new=$(ls "$work"/src/popa3d_*_"$(dpkg --print-architecture)".deb)
dpkg-deb -I "$new" | grep -E '^ (Version|Depends|Pre-Depends|Provides|Conflicts|Replaces):' | sed 's/^/#  /'

step "lintian"
# Not as root (lintian says so itself); the copy is readable by all.
chmod -R a+rX "$work"
lintian_out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	env HOME=/nonexistent lintian --pedantic --display-info "$work"/src/popa3d_*.changes 2>&1) || true
echo "${lintian_out:-(no output)}" | sed 's/^/#   /'
rc=0
echo "$lintian_out" | grep -q -E '^[EW]:' || rc=1
check $((1 - rc)) "lintian --pedantic: no E: or W:"

step "Debian's popa3d 1.0.3-1.1 and a Debian 12 root"
rc=0
(cd "$work" && apt-get download -q popa3d=1.0.3-1.1) >"$work/download.log" 2>&1 || rc=$?
check $rc "apt-get download popa3d=1.0.3-1.1"
# What the roots need: the package's dependencies, Debian's 1.0.3's, an
# inetd, tcpd and /etc/services (1.0.3's inetd mode), the test clients, autopkgtest,
# systemd (to boot the root; and systemd-analyze), and what
# doc/demo-setup.sh builds with (so that it installs nothing, and the
# demo's round trip can be compared exactly).  The roots have no network.
include="adduser,update-inetd,openbsd-inetd,tcpd,netbase,libssl3,libseccomp2,python3,procps,curl,autopkgtest,systemd,systemd-sysv"
include="$include,$(doc/demo-setup.sh --print-deps | tr ' ' ',')"
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
# The root is kept for a week in $POPA3D_DEB_CACHE, under a name made of
# what goes into it, so that a second run on the same machine skips the
# download; POPA3D_DEB_CACHE= (empty) keeps nothing.
cache=${POPA3D_DEB_CACHE-/var/cache/popa3d-tests}
key=$( { echo "$include"; cat "$sources"; } | sha256sum | cut -c1-16)
cached=${cache:+$cache/bookworm-$key.tar}
rc=0
roottar=$work/root.tar
if [ -n "$cached" ] && [ -n "$(find "$cached" -mtime -7 2>/dev/null)" ]; then
	roottar=$cached
	echo "# the root from $cached"
else
	mmdebstrap --variant=minbase --include="$include" \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		bookworm "$work/root.tar" "$sources" >"$work/mmdebstrap.log" 2>&1 || rc=$?
	if [ $rc = 0 ] && [ -n "$cached" ]; then
		mkdir -p "$cache"
		rm -f "$cache"/bookworm-*.tar
		cp "$work/root.tar" "$cached.tmp" && mv "$cached.tmp" "$cached"
	fi
fi
check $rc "a Debian 12 root: mmdebstrap bookworm (minbase + $include)"
if [ $rc != 0 ]; then tail -n 30 "$work/mmdebstrap.log"; echo "$passed passed, $failed failed"; exit 1; fi

# A fresh root for one scenario, with what scenarios.sh needs in /srv/t.
make_root() { # make_root DIR
	mkdir "$1"
	tar -xf "$roottar" -C "$1"
	mkdir -p "$1/srv/t"
	cp "$new" "$work"/popa3d_1.0.3-1.1_*.deb tests/deb/scenarios.sh tests/deb/pop3check.py \
		"$1/srv/t/"
	tar -cf - --exclude=./build-deb --exclude=./debian/popa3d --exclude=./debian/.debhelper \
		-C "$work/src/popa3d" . | { mkdir "$1/srv/t/src" && tar -xf - -C "$1/srv/t/src"; }
}
ran_to_end() { # ran_to_end OUTPUT NAME
	local rc=0
	grep -q "^# end of scenario $2\$" "$1" || rc=1
	check $rc "scenario $2 ran to its end"
}

for scenario in fresh autopkgtest upgrade-standalone upgrade-inetd demo; do
	step "scenario $scenario (chroot, no init system)"
	root="$work/root-$scenario"
	make_root "$root"
	count < <(tests/deb/inroot.sh "$root" /bin/bash /srv/t/scenarios.sh $scenario 2>&1 |
		tee "$work/$scenario.out")
	ran_to_end "$work/$scenario.out" $scenario
	rm -rf "$root"
done

# The same root booted by systemd-nspawn: systemd is PID 1 (as on a
# Debian 12 machine), the network is the container's own loopback, and
# the scenarios run inside it through nsenter.
for scenario in fresh upgrade-standalone upgrade-inetd; do
	step "scenario $scenario (systemd-nspawn, systemd is PID 1)"
	root="$work/boot-$scenario"
	make_root "$root"
	systemd-nspawn -q -D "$root" --private-network --register=no --keep-unit -b \
		</dev/null >"$work/$scenario.console" 2>&1 &
	nspawn=$!
	init=
	for _ in $(seq 1 150); do
		init=$(pgrep -P $nspawn -x systemd || true)
		[ -n "$init" ] && break
		sleep 0.2
	done
	booted=1
	if [ -n "$init" ]; then
		rc=0
		timeout 120 nsenter -t "$init" -a -r -w \
			systemctl is-system-running --wait >/dev/null 2>&1 || rc=$?
		# 1 is "degraded" (a unit of the minimal root failed): booted too.
		[ $rc -le 1 ] && booted=0
	fi
	check $booted "systemd-nspawn boots the root (systemd up)"
	if [ $booted = 0 ]; then
		count < <(timeout 600 nsenter -t "$init" -a -r -w /usr/bin/env -i \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
			DEBIAN_FRONTEND=noninteractive \
			/bin/bash /srv/t/scenarios.sh $scenario 2>&1 | tee "$work/$scenario-boot.out")
		ran_to_end "$work/$scenario-boot.out" $scenario
	else
		tail -n 30 "$work/$scenario.console"
	fi
	# systemd-nspawn powers the container off on SIGTERM.
	kill $nspawn 2>/dev/null || true
	wait $nspawn || true
	nspawn=
	rm -rf "$root"
done

echo
echo "$passed passed, $failed failed"
[ $failed = 0 ]
