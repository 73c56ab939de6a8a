# SPDX-License-Identifier: BSD-2-Clause
# The daemon: listener, per-connection leader, pre-auth child, session.
noinst_LIBRARIES += src/libpop3.a
src_libpop3_a_SOURCES = src/options.c src/options.h src/optvalue.c src/optvalue.h \
	src/peer.c src/peer.h \
	src/leader.c src/leader.h src/listener.c src/listener.h \
	src/listener-setup.c src/listener-int.h \
	src/sources.c src/sources.h \
	src/boundary.c src/boundary.h src/account.c src/account.h \
	src/connproto.c src/connproto.h \
	src/confcheck.c src/confcheck.h \
	src/keyholder.c src/keyholder.h src/keyproto.c src/keyproto.h

sbin_PROGRAMS += src/popa3d
src_popa3d_SOURCES = src/main.c
src_popa3d_LDADD = src/libpop3.a mbox/libmbox.a auth/libauth.a \
	src/lib/libtoolkit.a $(PAM_LIBS) $(CRYPT_LIBS) $(SECCOMP_LIBS) $(DL_LIBS)
src_popa3d_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)

check_PROGRAMS += tests/unit/test-options tests/unit/test-leader
tests_unit_test_options_LDADD = $(TEST_LIBS)
tests_unit_test_leader_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-options tests/unit/test-leader

# The process boundary's table against DESIGN's (boundary.c).
check_PROGRAMS += tests/unit/test-boundary
tests_unit_test_boundary_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-boundary

# The connection frames' codec (connproto.c): TLS, PROXY, the listener's
# notes and verdicts, the end of AUTHORIZATION.
check_PROGRAMS += tests/unit/test-connproto
tests_unit_test_connproto_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-connproto

FUZZ_TARGETS += tests/fuzz/fuzz-connproto
tests/fuzz/fuzz-connproto: tests/fuzz/fuzz-connproto.c src/connproto.c src/authproto.c \
		src/lib/frame.c src/lib/sysio.c src/lib/log.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-connproto.c tests/fuzz/corpus-connproto
check_PROGRAMS += tests/fuzz/replay-connproto
tests_fuzz_replay_connproto_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-connproto.c
tests_fuzz_replay_connproto_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz/replay-connproto

FUZZ_TARGETS += tests/fuzz/fuzz-config
# (the mailbox engine for mbox_opts_default, which options_defaults reads)
# (and account.c, with the sandbox it drops through, for the template check)
tests/fuzz/fuzz-config: tests/fuzz/fuzz-config.c src/options.c src/optvalue.c src/lib/buf.c \
		src/lib/log.c src/lib/num.c src/lib/sysio.c src/lib/proxy.c $(MBOX_FUZZ_SRC) \
		src/account.c src/sandbox.c
	$(FUZZ_LINK) $(filter %.c,$^) $(SECCOMP_LIBS)
EXTRA_DIST += tests/fuzz/fuzz-config.c tests/fuzz/corpus-config
check_PROGRAMS += tests/fuzz/replay-config
tests_fuzz_replay_config_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-config.c
tests_fuzz_replay_config_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz/replay-config

# The listener's per-source table, penalty and counts (sources.c).
check_PROGRAMS += tests/unit/test-sources
tests_unit_test_sources_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-sources

# The key holder's frames and per-channel policy (keyproto.c).
check_PROGRAMS += tests/unit/test-keyproto
tests_unit_test_keyproto_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-keyproto

FUZZ_TARGETS += tests/fuzz/fuzz-keyproto
tests/fuzz/fuzz-keyproto: tests/fuzz/fuzz-keyproto.c src/keyproto.c src/lib/frame.c \
		src/lib/sysio.c src/lib/log.c
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-keyproto.c tests/fuzz/corpus-keyproto
check_PROGRAMS += tests/fuzz/replay-keyproto
tests_fuzz_replay_keyproto_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-keyproto.c
tests_fuzz_replay_keyproto_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz/replay-keyproto

# The key holder's key operation on a real RSA key (OpenSSL: TLS builds).
if HAVE_TLS
FUZZ_TARGETS += tests/fuzz/fuzz-keyop
endif
tests/fuzz/fuzz-keyop: tests/fuzz/fuzz-keyop.c src/tls.c src/tlskey.c src/lib/buf.c \
		src/lib/frame.c src/lib/sysio.c src/lib/log.c
	$(FUZZ_LINK) $(filter %.c,$^) $(SSL_LIBS)
EXTRA_DIST += tests/fuzz/fuzz-keyop.c tests/fuzz/corpus-keyop
check_PROGRAMS += tests/fuzz/replay-keyop
tests_fuzz_replay_keyop_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-keyop.c
tests_fuzz_replay_keyop_CFLAGS = $(AM_CFLAGS) $(SSL_CFLAGS)
tests_fuzz_replay_keyop_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz/replay-keyop
