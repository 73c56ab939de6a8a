# SPDX-License-Identifier: BSD-2-Clause
# Authentication backends (run only in the throwaway root auth helper),
# and the privileged machinery around them: the auth helper and the
# authentication frames (src/authhelper.c, src/authproto.c), and the privilege
# drops (src/sandbox.c).  They live in this one library so that the
# daemon and every test link them the same way.
noinst_LIBRARIES += auth/libauth.a
auth_libauth_a_SOURCES = auth/auth.h auth/pam.c auth/shadow.c \
	src/authhelper.c src/authhelper.h \
	src/authproto.c src/authproto.h \
	src/sandbox.c src/sandbox.h
auth_libauth_a_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS)

# Unit tests.  test-auth-pam drives real Linux-PAM through
# pam_start_confdir() with stacks it writes under /tmp; it and
# test-auth-shadow run every case through the auth helper too.  The tests
# that need root (sandbox, a real system user) skip themselves otherwise.
check_PROGRAMS += tests/unit/test-auth-shadow tests/unit/test-auth-pam \
	tests/unit/test-sandbox
tests_unit_test_auth_shadow_LDADD = $(TEST_LIBS)
tests_unit_test_auth_pam_LDADD = $(TEST_LIBS)
tests_unit_test_sandbox_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-auth-shadow tests/unit/test-auth-pam \
	tests/unit/test-sandbox
EXTRA_DIST += tests/unit/test-auth.h

# A tiny PAM module for the conversation and PAM_USER cases that no
# stock module covers (tests/pam/pam_test_conv.c).  Built for `make
# check` only, with the configured compiler, never installed.
EXTRA_DIST += tests/pam/pam_test_conv.c
if HAVE_PAM
PAM_TEST_MODULE = tests/pam/pam_test_conv.so
EXTRA_tests_unit_test_auth_pam_DEPENDENCIES = $(PAM_TEST_MODULE)
CLEANFILES += $(PAM_TEST_MODULE)
$(PAM_TEST_MODULE): $(srcdir)/tests/pam/pam_test_conv.c
	@$(MKDIR_P) tests/pam
	$(AM_V_CC)$(CC) -std=gnu11 $(WARN_CFLAGS) $(CFLAGS) -fPIC -shared \
		-o $@ $(srcdir)/tests/pam/pam_test_conv.c $(PAM_LIBS)
endif

# The frame decoder and the authentication frames' decoders run as root
# on bytes the pre-auth child or an auth helper chose.
FUZZ_TARGETS += tests/fuzz/fuzz-frame
tests/fuzz/fuzz-frame: tests/fuzz/fuzz-frame.c src/authproto.c \
		src/lib/frame.c src/lib/sysio.c src/lib/log.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-frame.c tests/fuzz/corpus-frame
check_PROGRAMS += tests/fuzz/replay-frame
tests_fuzz_replay_frame_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-frame.c
tests_fuzz_replay_frame_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz/replay-frame
