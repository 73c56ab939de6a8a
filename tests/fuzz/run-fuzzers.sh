#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run each libFuzzer target for FUZZ_SECONDS on a scratch copy of its seed
# corpus (the tree's corpus is never written).  Exit 1 on the first crash,
# leak or sanitizer report; the reproducer stays in tests/fuzz/artifacts/.
set -u
srcdir=$1; shift
secs=${FUZZ_SECONDS:-60}
status=0
mkdir -p tests/fuzz/artifacts
for t in "$@"; do
	name=${t##*/fuzz-}
	work=$(mktemp -d)
	if [ -d "$srcdir/corpus-$name" ]; then
		cp -R "$srcdir/corpus-$name/." "$work/"
	fi
	echo "== $t for ${secs}s"
	if ! "./$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=tests/fuzz/artifacts/"$name"- "$work" \
		> "tests/fuzz/$name.log" 2>&1; then
		echo "FAIL: $t (see tests/fuzz/$name.log)"
		tail -n 40 "tests/fuzz/$name.log"
		status=1
	else
		grep -E '^(#[0-9]+ *DONE|Done)' "tests/fuzz/$name.log" | tail -n 1
	fi
	rm -rf "$work"
done
exit $status
