# SPDX-License-Identifier: BSD-2-Clause
# Benchmarks against peers: run by hand (bench/setup, then bench/run), never
# by make check; bench/run builds popclient itself and uses only the built
# src/popa3d.  The engine's own benchmarks are built on request only
# ("make bench"), not by "make all": nothing installs or tests them.
EXTRA_DIST += bench/README.md bench/setup bench/run bench/popclient.c bench/authtiming bench/tls \
	bench/flood bench/perfroles bench/inherit

BENCH_BINARIES = bench/scan-bench bench/forkcost bench/updfloor
EXTRA_PROGRAMS = $(BENCH_BINARIES)
CLEANFILES += $(BENCH_BINARIES)
# bench/scan-bench [MiB [messages [path]]]: mbox_open's scan and RETR's encoder
bench_scan_bench_SOURCES = bench/scan.c
bench_scan_bench_LDADD = mbox/libmbox.a src/lib/libtoolkit.a
# bench/forkcost N [LIBRARY...]: CPU per fork+exit with those libraries mapped
bench_forkcost_SOURCES = bench/forkcost.c
bench_forkcost_LDADD = $(DL_LIBS)
# bench/updfloor OPS MBOX: W4's disk floor, our UPDATE's I/O replayed alone
bench_updfloor_SOURCES = bench/updfloor.c
# bench/pamfloor N SERVICE USER PASSWORD: CPU of one PAM login, fresh and loaded
if HAVE_PAM
BENCH_BINARIES += bench/pamfloor bench/structfloor
endif
bench_pamfloor_SOURCES = bench/pamfloor.c
bench_pamfloor_LDADD = auth/libauth.a src/lib/libtoolkit.a $(PAM_LIBS) $(CRYPT_LIBS) $(DL_LIBS)
# bench/structfloor -l ADDR:PORT ...: W1's floor-D, our process structure alone
bench_structfloor_SOURCES = bench/structfloor.c
bench_structfloor_LDADD = auth/libauth.a src/lib/libtoolkit.a $(PAM_LIBS) $(DL_LIBS)

.PHONY: bench
bench: $(BENCH_BINARIES)
