#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Print Automake's test-suite totals as one plain line:
#   "tests: N passed, N failed, N skipped"
log=${1:-test-suite.log}
[ -f "$log" ] || { echo "tests: no $log"; exit 0; }
awk '/^# PASS:/ {p=$3} /^# FAIL:/ {f=$3} /^# ERROR:/ {e=$3} /^# SKIP:/ {s=$3}
     /^# XFAIL:/ {xf=$3} /^# XPASS:/ {xp=$3}
     END { printf "tests: %d passed, %d failed, %d skipped\n", p+xf, f+e+xp, s }' "$log"
