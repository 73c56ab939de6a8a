# SPDX-License-Identifier: BSD-2-Clause
# Benchmarks against peers: run by hand (bench/setup, then bench/run), never
# by make check; bench/run builds popclient itself.
EXTRA_DIST += bench/README.md bench/setup bench/run bench/popclient.c bench/forkcost.c bench/flood
