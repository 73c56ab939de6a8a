# POP3 protocol: command parsing, AUTHORIZATION (pre-auth child), TRANSACTION/UPDATE (session).
src_libpop3_a_SOURCES += \
	src/pop3.c src/pop3.h \
	src/preauth.c src/preauth.h \
	src/session.c src/session.h \
	src/sasl.c src/sasl.h \
	src/tls.c src/tls.h
src_libpop3_a_CFLAGS = $(AM_CFLAGS) $(SSL_CFLAGS)

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

# TLS end to end: STLS, POP3S, SASL PLAIN, where the key lives (/proc).
TESTS += tests/e2e/test-tls.py
EXTRA_DIST += tests/e2e/test-tls.py
