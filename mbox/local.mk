# SPDX-License-Identifier: BSD-2-Clause
# The mail engine (runs as the mail user).
noinst_LIBRARIES += mbox/libmbox.a
mbox_libmbox_a_SOURCES = mbox/mbox.h mbox/mbox-int.h mbox/store.h mbox/status.h \
	mbox/maildir.h mbox/maildir-int.h mbox/dovecot.h mbox/simd.h \
	mbox/mbox.c mbox/status.c mbox/file.c mbox/scan.c mbox/send.c mbox/check.c mbox/lock.c \
	mbox/update.c mbox/md5.c mbox/maildir.c mbox/maildir-scan.c mbox/dovecot.c \
	mbox/journal.h mbox/journal.c
EXTRA_DIST += doc/mbox.md doc/maildir.md

# Unit tests of the engine (TAP); they need only the engine and the toolkit.
MBOX_TEST_LIBS = mbox/libmbox.a src/lib/libtoolkit.a
MBOX_TESTS = tests/unit/test-mbox tests/unit/test-mbox-safety tests/unit/test-mbox-md5 \
	tests/unit/test-mbox-update tests/unit/test-mbox-journal tests/unit/test-mbox-popa3d-compat \
	tests/unit/test-maildir tests/unit/test-dovecot
check_PROGRAMS += $(MBOX_TESTS)
TESTS += $(MBOX_TESTS)
tests_unit_test_mbox_SOURCES = tests/unit/test-mbox.c tests/unit/test-mbox-util.h
tests_unit_test_mbox_LDADD = $(MBOX_TEST_LIBS)
tests_unit_test_mbox_safety_SOURCES = tests/unit/test-mbox-safety.c tests/unit/test-mbox-util.h
tests_unit_test_mbox_safety_LDADD = $(MBOX_TEST_LIBS)
tests_unit_test_mbox_md5_LDADD = $(MBOX_TEST_LIBS)
tests_unit_test_mbox_update_SOURCES = tests/unit/test-mbox-update.c tests/unit/test-mbox-box.h \
	tests/unit/test-mbox-util.h
tests_unit_test_mbox_update_LDADD = $(MBOX_TEST_LIBS)
tests_unit_test_mbox_journal_SOURCES = tests/unit/test-mbox-journal.c tests/unit/test-mbox-box.h \
	tests/unit/test-mbox-util.h
tests_unit_test_mbox_journal_LDADD = $(MBOX_TEST_LIBS)
tests_unit_test_mbox_popa3d_compat_SOURCES = tests/unit/test-mbox-popa3d-compat.c tests/unit/test-mbox-util.h
tests_unit_test_mbox_popa3d_compat_LDADD = $(MBOX_TEST_LIBS)
tests_unit_test_maildir_SOURCES = tests/unit/test-maildir.c tests/unit/test-mbox-util.h
tests_unit_test_maildir_LDADD = $(MBOX_TEST_LIBS)
tests_unit_test_dovecot_SOURCES = tests/unit/test-dovecot.c tests/unit/test-mbox-util.h
tests_unit_test_dovecot_LDADD = $(MBOX_TEST_LIBS)

# libFuzzer target over the scanner and the sender, and its corpus replay.
MBOX_FUZZ_SRC = mbox/mbox.c mbox/status.c mbox/file.c mbox/scan.c mbox/send.c mbox/check.c \
	mbox/lock.c mbox/update.c mbox/journal.c mbox/md5.c mbox/maildir.c mbox/maildir-scan.c \
	mbox/dovecot.c src/lib/sysio.c \
	src/lib/log.c src/lib/num.c
FUZZ_TARGETS += tests/fuzz/fuzz-mbox
tests/fuzz/fuzz-mbox: tests/fuzz/fuzz-mbox.c $(MBOX_FUZZ_SRC)
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-mbox.c tests/fuzz/corpus-mbox
check_PROGRAMS += tests/fuzz/replay-mbox
tests_fuzz_replay_mbox_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-mbox.c
tests_fuzz_replay_mbox_LDADD = $(MBOX_TEST_LIBS)
TESTS += tests/fuzz/replay-mbox

# libFuzzer target over Maildir file names and whole in-memory maildrops.
FUZZ_TARGETS += tests/fuzz/fuzz-maildir
tests/fuzz/fuzz-maildir: tests/fuzz/fuzz-maildir.c $(MBOX_FUZZ_SRC)
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-maildir.c tests/fuzz/corpus-maildir
check_PROGRAMS += tests/fuzz/replay-maildir
tests_fuzz_replay_maildir_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-maildir.c
tests_fuzz_replay_maildir_LDADD = $(MBOX_TEST_LIBS)
TESTS += tests/fuzz/replay-maildir

# libFuzzer target over --uidl dovecot: header values, dovecot-uidlist
# lines, and whole mboxes and lists opened under the policy.
FUZZ_TARGETS += tests/fuzz/fuzz-dovecot
tests/fuzz/fuzz-dovecot: tests/fuzz/fuzz-dovecot.c $(MBOX_FUZZ_SRC)
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-dovecot.c tests/fuzz/corpus-dovecot
check_PROGRAMS += tests/fuzz/replay-dovecot
tests_fuzz_replay_dovecot_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-dovecot.c
tests_fuzz_replay_dovecot_LDADD = $(MBOX_TEST_LIBS)
TESTS += tests/fuzz/replay-dovecot

# libFuzzer target over the UPDATE journal record and its resume.
FUZZ_TARGETS += tests/fuzz/fuzz-journal
tests/fuzz/fuzz-journal: tests/fuzz/fuzz-journal.c $(MBOX_FUZZ_SRC)
	$(FUZZ_LINK) $(filter %.c,$^)
EXTRA_DIST += tests/fuzz/fuzz-journal.c tests/fuzz/corpus-journal
check_PROGRAMS += tests/fuzz/replay-journal
tests_fuzz_replay_journal_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-journal.c
tests_fuzz_replay_journal_LDADD = $(MBOX_TEST_LIBS)
TESTS += tests/fuzz/replay-journal

