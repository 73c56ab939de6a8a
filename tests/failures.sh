#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# After `make check` in build directory $1 (default .): for every test
# whose result is FAIL or ERROR, print its name, the failed checks and
# the lines the test printed around them (diagnostics start with "#"),
# so that a CI log that keeps only its tail still says what failed.
# Prints nothing when every test passed.
dir=${1:-.}
found=
for trs in $(find "$dir" -name '*.trs' | sort); do
	grep -q -E '^:test-result: (FAIL|ERROR|XPASS)' "$trs" || continue
	log=${trs%.trs}.log
	found="$found ${log#"$dir"/}"
	echo "--- ${log#"$dir"/}"
	# Each failed or erroring result, with up to 8 diagnostic lines that
	# follow it, then the last lines of the log (sanitizer reports, a
	# traceback, the exit status).
	awk '/^(FAIL|ERROR|XPASS): / { n = 8; print; next }
	     n > 0 && /^#/ { print; n--; next }
	     { n = 0 }' "$log" | head -n 60
	echo "... last lines:"
	tail -n 15 "$log"
done
[ -z "$found" ] || echo "failed or erroring tests:$found"
