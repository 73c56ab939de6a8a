#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Every source, build and configuration file of the distribution carries
# the licence's SPDX identifier, and LICENSE is there to name it (TAP).
# Run from the source tree (git checkout or unpacked tarball); prose
# (*.md, README) and fuzz corpora are not source and are not checked.
top_srcdir=${top_srcdir:-.}
cd "$top_srcdir" || exit 99
id='SPDX-License-Identifier: BSD-2-Clause'
n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
grep -q '^BSD 2-Clause License' LICENSE 2>/dev/null
ok $? "LICENSE names the BSD 2-Clause licence"
grep -q 'the popa3d contributors' LICENSE 2>/dev/null
ok $? "LICENSE carries the copyright line"
# tree_files TEST...: the files of the source tree (not build trees,
# unpacked tarballs, the peers bench/setup fetches, corpora or debian/)
# that pass the find TESTs
tree_files() {
	find . \( -path ./build -o -path './build-*' -o -path ./_build -o -path ./.git \
		-o -path './popa3d-*' -o -path ./bench/peers -o -name 'corpus-*' -o -name autom4te.cache \
		-o -name debian \) \
		-prune -o -type f "$@" -print
}
missing=$(tree_files \
	\( -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.sh' -o -name '*.mk' \
	   -o -name Makefile.am -o -name configure.ac -o -name '*.m4' -o -name '*.dynlist' \
	   -o -path './doc/*.in' -o -path './doc/systemd/*' -o -path './doc/inetd/*' \
	   -o -path './doc/fail2ban/*.d/*' -o -path './pam.d/*' -o -path './bench/run' \
	   -o -path './bench/setup' -o -name '*.example' \) |
	grep -v -e '/aclocal.m4$' -e '^./m4/libtool' -e '^./m4/lt' |
	while read -r f; do grep -q "$id" "$f" || echo "$f"; done
	# scripts without a suffix: any executable file that starts with #!
	tree_files -perm -u+x ! -name '*.*' |
	while read -r f; do
		[ "$(head -c 2 "$f")" = '#!' ] || continue
		case $f in ./configure | ./config.* | ./compile | ./depcomp | ./install-sh | \
			./missing | ./ltmain.sh | ./test-driver | ./libtool | ./build-aux/*) continue ;;
		esac
		grep -q "$id" "$f" || echo "$f"
	done)
[ -z "$missing" ]
ok $? "every source file and script carries '$id'"
for f in $missing; do echo "#   missing: $f"; done
echo "1..$n"
exit $failed
