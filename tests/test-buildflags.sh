#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# configure respects the distribution's build flags (TAP): built with
# dpkg-buildflags' flags (hardening=+all, and FORTIFY level 3 as Debian
# 13 passes it), the compile lines keep level 3 (nothing of ours undoes
# or redefines it) and the daemon is PIE, full RELRO (BIND_NOW),
# non-executable stack, and calls the fortified *_chk functions.  Then a
# compiler that sets FORTIFY itself, and a configure without any flags:
# our own hardening is added.
# Builds in a temporary directory: configure plus the daemon only.
top_srcdir=${top_srcdir:-.}
n=0
failed=0
ok() {	# ok STATUS NAME [DETAIL]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed -n '1,20s/^/#   /p'
	fi
}
for tool in dpkg-buildflags readelf nm; do
	if ! command -v $tool > /dev/null 2>&1; then
		echo "1..0 # SKIP $tool not installed"
		exit 0
	fi
done
srcdir=$(cd "$top_srcdir" && pwd) || exit 99
tmp=$(mktemp -d "${TMPDIR:-/tmp}/popa3d-flags.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# The flags a Debian package build gets, with FORTIFY at level 3.
flags=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh |
	sed 's/_FORTIFY_SOURCE=[0-9]/_FORTIFY_SOURCE=3/') || exit 99
mkdir "$tmp/deb" && cd "$tmp/deb" || exit 99
out=$(eval "$flags" && "$srcdir/configure" -q --enable-werror 2>&1 &&
	make V=1 src/popa3d 2>&1)
rc=$?
ok $rc "configure and make with dpkg-buildflags' flags" "$(printf '%s\n' "$out" | tail -n 20)"
# the last definition on a compile line is the one in effect
lines=$(printf '%s\n' "$out" | grep -e ' -c ' | grep -e '\.c')
bad=$(printf '%s\n' "$lines" | while read -r line; do
	last=$(printf '%s\n' "$line" | tr ' ' '\n' | grep -e '_FORTIFY_SOURCE' | tail -n 1)
	[ "$last" = "-D_FORTIFY_SOURCE=3" ] || echo "$last in: $line"
done)
[ $rc -eq 0 ] && [ -n "$lines" ] && [ -z "$bad" ]
ok $? "every compile line ends with the distribution's -D_FORTIFY_SOURCE=3" "$bad"
! printf '%s\n' "$lines" | grep -q -e '-U_FORTIFY_SOURCE'
ok $? "nothing undefines _FORTIFY_SOURCE"
bin=src/popa3d
readelf -h "$bin" 2>/dev/null | grep -q 'Type: *DYN'
ok $? "the daemon is a position-independent executable"
readelf -lW "$bin" 2>/dev/null | grep -q 'GNU_RELRO'
ok $? "it has a RELRO segment"
readelf -d "$bin" 2>/dev/null | grep -q -e 'BIND_NOW' -e 'Flags:.* NOW'
ok $? "with BIND_NOW (full RELRO)"
readelf -lW "$bin" 2>/dev/null | grep 'GNU_STACK' | grep -q -v 'RWE'
ok $? "its stack is not executable"
nm -D "$bin" 2>/dev/null | grep -q -e '__[a-z_]*_chk'
ok $? "it calls fortified *_chk functions"
if command -v hardening-check > /dev/null 2>&1; then
	out=$(hardening-check "$bin" 2>&1)
	ok $? "hardening-check is content" "$out"
fi

# A compiler that defines _FORTIFY_SOURCE itself (Ubuntu's gcc does, at
# level 3), played by CC with the -D: nothing of ours may follow it.
mkdir "$tmp/cc" && cd "$tmp/cc" || exit 99
out=$(env -u CFLAGS -u CPPFLAGS -u LDFLAGS CC="${CC:-cc} -D_FORTIFY_SOURCE=3" \
	"$srcdir/configure" -q --enable-werror 2>&1 && make V=1 src/lib/libtoolkit.a 2>&1)
rc=$?
lines=$(printf '%s\n' "$out" | grep -e ' -c ' | grep -e '\.c')
bad=$(printf '%s\n' "$lines" | while read -r line; do
	all=$(printf '%s\n' "$line" | tr ' ' '\n' | grep -e '_FORTIFY_SOURCE' | tr '\n' ' ')
	[ "$all" = "-D_FORTIFY_SOURCE=3 " ] || echo "$all in: $line"
done)
[ $rc -eq 0 ] && [ -n "$lines" ] && [ -z "$bad" ]
ok $? "a compiler's own _FORTIFY_SOURCE=3 is left alone" "$out $bad"

# No flags at all: ours are added, FORTIFY included.
mkdir "$tmp/plain" && cd "$tmp/plain" || exit 99
out=$(env -u CFLAGS -u CPPFLAGS -u LDFLAGS "$srcdir/configure" -q 2>&1)
rc=$?
harden=$(sed -n 's/^HARDEN_CFLAGS = //p' Makefile 2>/dev/null)
hardld=$(sed -n 's/^HARDEN_LDFLAGS = //p' Makefile 2>/dev/null)
# has WORD FLAGS: WORD is one of the words of FLAGS
has() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
[ $rc -eq 0 ] && { has -D_FORTIFY_SOURCE=3 "$harden" || has -D_FORTIFY_SOURCE=2 "$harden"; } &&
	has -fstack-protector-strong "$harden"
ok $? "without user flags configure adds FORTIFY and the stack protector" "$out $harden"
has -pie "$hardld" && has -Wl,-z,relro "$hardld" && has -Wl,-z,now "$hardld"
ok $? "and PIE, RELRO and BIND_NOW" "$hardld"

echo "1..$n"
exit $failed
