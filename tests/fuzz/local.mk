# SPDX-License-Identifier: BSD-2-Clause
# libFuzzer targets, built with clang by `make fuzz` (not by `make all`,
# which may use gcc).  A module adds its target in its own local.mk:
#
#   FUZZ_TARGETS += tests/fuzz/fuzz-NAME
#   tests/fuzz/fuzz-NAME: tests/fuzz/fuzz-NAME.c  <the .c files it needs>
#   	$(FUZZ_LINK) $(filter %.c,$^)
#   EXTRA_DIST += tests/fuzz/fuzz-NAME.c tests/fuzz/corpus-NAME
#
# with a seed corpus in tests/fuzz/corpus-NAME/.  `make fuzz-run` runs
# each target for FUZZ_SECONDS on a copy of its corpus and fails on any
# crash, leak or UB report.  `make check` also replays every corpus
# through tests/fuzz/replay.c with the normal compiler (see below).
FUZZ_SECONDS = 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -DPOPA3D_FUZZING \
	-I$(top_builddir) $(AM_CPPFLAGS) $(SSL_CFLAGS) $(SECCOMP_CFLAGS)
FUZZ_LINK = $(FUZZ_CC) $(FUZZ_CFLAGS) -o $@
EXTRA_DIST += tests/fuzz/replay.c tests/fuzz/run-fuzzers.sh

fuzz: $(FUZZ_TARGETS)
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (FUZZ_CC)"; exit 1; }

fuzz-run: fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(SHELL) $(top_srcdir)/tests/fuzz/run-fuzzers.sh \
		$(top_srcdir)/tests/fuzz $(FUZZ_TARGETS)

CLEANFILES += $(FUZZ_TARGETS)
.PHONY: fuzz fuzz-run

# Corpus replay under `make check`, per target:
#   check_PROGRAMS += tests/fuzz/replay-NAME
#   tests_fuzz_replay_NAME_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-NAME.c
#   tests_fuzz_replay_NAME_LDADD = $(TEST_LIBS)
#   TESTS += tests/fuzz/replay-NAME
