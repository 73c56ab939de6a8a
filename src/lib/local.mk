# SPDX-License-Identifier: BSD-2-Clause
# The toolkit every process uses: buffers, checked I/O, logging, numbers,
# IPC frames, the PROXY protocol header.
noinst_LIBRARIES += src/lib/libtoolkit.a
src_lib_libtoolkit_a_SOURCES = \
	src/lib/buf.c src/lib/buf.h \
	src/lib/sysio.c src/lib/sysio.h \
	src/lib/log.c src/lib/log.h \
	src/lib/num.c src/lib/num.h \
	src/lib/frame.c src/lib/frame.h \
	src/lib/proxy.c src/lib/proxy.h

# The PROXY protocol header parser and --proxy-from lists.
check_PROGRAMS += tests/unit/test-proxy
tests_unit_test_proxy_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-proxy

FUZZ_TARGETS += tests/fuzz/fuzz-proxy
tests/fuzz/fuzz-proxy: tests/fuzz/fuzz-proxy.c src/lib/proxy.c src/lib/num.c \
		src/lib/sysio.c src/lib/log.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-proxy.c tests/fuzz/corpus-proxy
check_PROGRAMS += tests/fuzz/replay-proxy
tests_fuzz_replay_proxy_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-proxy.c
tests_fuzz_replay_proxy_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz/replay-proxy
