# POP3 protocol: command parsing, AUTHORIZATION (pre-auth child), TRANSACTION/UPDATE (session).
src_libpop3_a_SOURCES += \
	src/pop3.c src/pop3.h \
	src/preauth.c src/preauth.h \
	src/session.c src/session.h

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
