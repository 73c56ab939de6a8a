# SPDX-License-Identifier: BSD-2-Clause
# Unit tests (C, TAP) and end-to-end tests (Python, TAP).
# Libraries every unit test links against.
TEST_LIBS = src/libpop3.a src/libtls.a mbox/libmbox.a auth/libauth.a src/lib/libtoolkit.a \
	$(PAM_LIBS) $(CRYPT_LIBS) $(SECCOMP_LIBS) $(SSL_LIBS)
EXTRA_DIST += tests/unit/tap.h tests/README tests/install-deps.sh tests/run-all.sh \
	tests/summary.sh tests/failures.sh

check_PROGRAMS += tests/unit/test-buf tests/unit/test-num \
	tests/unit/test-sysio tests/unit/test-log tests/unit/test-frame
tests_unit_test_buf_LDADD = $(TEST_LIBS)
tests_unit_test_num_LDADD = $(TEST_LIBS)
tests_unit_test_sysio_LDADD = $(TEST_LIBS)
tests_unit_test_log_LDADD = $(TEST_LIBS)
tests_unit_test_frame_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-buf tests/unit/test-num \
	tests/unit/test-sysio tests/unit/test-log tests/unit/test-frame

# The licence is in the tree and every source file names it.
TESTS += tests/test-spdx.sh
EXTRA_DIST += tests/test-spdx.sh
# Every C file names the processes that run it, from DESIGN's table.
TESTS += tests/test-headers.sh
EXTRA_DIST += tests/test-headers.sh
# No function in src/, auth/, mbox/ over 80 lines; long tables only by name.
TESTS += tests/test-funclen.sh
EXTRA_DIST += tests/test-funclen.sh
# configure against dpkg-buildflags: the distribution's hardening is kept
TESTS += tests/test-buildflags.sh
EXTRA_DIST += tests/test-buildflags.sh
# No source or test file over 1,000 lines.
TESTS += tests/test-filesize.sh
EXTRA_DIST += tests/test-filesize.sh
# What DESIGN and the man pages say that the code can confirm.
TESTS += tests/test-claims.py
EXTRA_DIST += tests/test-claims.py
