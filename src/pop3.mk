# SPDX-License-Identifier: BSD-2-Clause
# POP3 protocol: command parsing, AUTHORIZATION (pre-auth child), TRANSACTION/UPDATE (session).
src_libpop3_a_SOURCES += \
	src/pop3.c src/pop3.h \
	src/preauth.c src/preauth.h \
	src/session.c src/session.h \
	src/sasl.c src/sasl.h \
	src/tls.h
src_libpop3_a_CFLAGS = $(AM_CFLAGS) $(SSL_CFLAGS)

# TLS: src/tls.c, tlskey.c and tlsrelay.c (OpenSSL) are linked into the
# tests through src/libtls.a; the daemon loads them as a module,
# popa3d-tls.so, only when TLS is configured (src/tlsmod.c says why).  The module calls back into the
# daemon for the few helpers in src/tls.dynlist, which the daemon exports.
# Without OpenSSL, libtls.a is tlsmod.c alone: every call fails as the
# daemon's would with no module to load.
noinst_LIBRARIES += src/libtls.a
if HAVE_TLS
src_libtls_a_SOURCES = src/tls.c src/tlskey.c src/tlsrelay.c src/tls.h src/tls-int.h \
	src/tlsmod.h
else
src_libtls_a_SOURCES = src/tlsmod.c src/tls.h src/tlsmod.h
endif
src_libtls_a_CFLAGS = $(AM_CFLAGS) $(SSL_CFLAGS)
EXTRA_DIST += src/tls.dynlist
# (per-target flags set in both branches: a conditional one would drop
# AM_CPPFLAGS/AM_LDFLAGS in the other)
src_popa3d_CPPFLAGS = $(AM_CPPFLAGS) $(TLSMOD_DEFS)
src_popa3d_LDFLAGS = $(AM_LDFLAGS) $(TLSMOD_LINKFLAGS)
tlsmoddir = $(pkglibdir)
if HAVE_TLS
TLSMOD_DEFS = -DPOPA3D_TLS_MODULE_DIR='"$(tlsmoddir)"'
TLSMOD_LINKFLAGS = -Wl,--dynamic-list=$(srcdir)/src/tls.dynlist
src_popa3d_SOURCES += src/tlsmod.c src/tlsmod.h
EXTRA_src_popa3d_DEPENDENCIES = $(srcdir)/src/tls.dynlist
tlsmod_PROGRAMS = src/popa3d-tls.so
src_popa3d_tls_so_SOURCES = src/tls.c src/tlskey.c src/tlsrelay.c src/tls.h src/tls-int.h \
	src/tlsmod.h
src_popa3d_tls_so_CPPFLAGS = $(AM_CPPFLAGS) -DPOPA3D_TLS_MODULE_BUILD
src_popa3d_tls_so_CFLAGS = $(AM_CFLAGS) $(SSL_CFLAGS) -fPIC -fvisibility=hidden
src_popa3d_tls_so_LDFLAGS = -shared -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack $(SAN_LDFLAGS)
src_popa3d_tls_so_LDADD = $(SSL_LIBS)
else
src_popa3d_LDADD += src/libtls.a
endif

check_PROGRAMS += tests/unit/test-pop3 tests/unit/test-preauth tests/unit/test-session
tests_unit_test_pop3_LDADD = $(TEST_LIBS)
tests_unit_test_preauth_LDADD = $(TEST_LIBS)
tests_unit_test_session_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-pop3 tests/unit/test-preauth tests/unit/test-session

# The command parser and line splitter on arbitrary bytes.
FUZZ_TARGETS += tests/fuzz/fuzz-command
tests/fuzz/fuzz-command: tests/fuzz/fuzz-command.c src/pop3.c src/lib/buf.c \
		src/lib/num.c src/lib/sysio.c src/lib/log.c
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-command.c tests/fuzz/corpus-command

check_PROGRAMS += tests/fuzz/replay-command
tests_fuzz_replay_command_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-command.c
tests_fuzz_replay_command_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz/replay-command

# SASL: the strict base64 decoder and the PLAIN splitter.
check_PROGRAMS += tests/unit/test-sasl
tests_unit_test_sasl_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test-sasl

FUZZ_TARGETS += tests/fuzz/fuzz-sasl
tests/fuzz/fuzz-sasl: tests/fuzz/fuzz-sasl.c src/sasl.c
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-sasl.c tests/fuzz/corpus-sasl

check_PROGRAMS += tests/fuzz/replay-sasl
tests_fuzz_replay_sasl_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-sasl.c src/sasl.c
tests_fuzz_replay_sasl_LDADD = $(TEST_LIBS)
TESTS += tests/fuzz/replay-sasl

# TLS end to end: STLS, POP3S, SASL PLAIN; the key holder and where the key lives (/proc).
TESTS += tests/e2e/test-tls.py tests/e2e/test-keyholder.py
EXTRA_DIST += tests/e2e/test-tls.py tests/e2e/test-keyholder.py
