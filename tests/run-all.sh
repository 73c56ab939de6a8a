#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The whole test suite, from a fresh clone (README's test command):
# dependencies (when root on Debian), autoreconf, an out-of-tree build with
# warnings as errors, and `make check`.  Set POPA3D_NO_DEPS=1 to skip the
# package installation.  The build is left in ./build.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
if [ "$(id -u)" = 0 ] && [ "${POPA3D_NO_DEPS:-0}" != 1 ]; then
	tests/install-deps.sh
fi
autoreconf -fi
mkdir -p build
cd build
"$top/configure" --enable-werror ${POPA3D_CONFIGURE_FLAGS:-}
make -j"$(nproc)"
status=0
make -j"$(nproc)" check || status=$?
[ $status = 0 ] || sh "$top/tests/failures.sh" .
sh "$top/tests/summary.sh" test-suite.log
exit $status
