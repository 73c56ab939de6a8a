/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the mbox engine: the From_ rule, sizes as transmitted,
 * RETR/TOP bytes, UIDL format and duplicates, change detection, out of
 * memory.  UPDATE results, locking and spool safety: test-mbox-safety.c.  Runs as root in CI (chown and
 * another uid are needed for the owner checks; those parts skip
 * otherwise).
 */
#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "mbox-int.h"
#include "tap.h"
#include "test-mbox-util.h"

static struct mbox *mk(const char *name, const char *data, size_t n)
{
	const char *p = tm_path(name);

	tm_write(p, data, n);
	return tm_open_ok(p, name);
}

/* RETR (lines < 0) or TOP into a string; checks framing and size. */
static char *sendit(struct mbox *m, uint32_t i, long long lines, size_t *len)
{
	struct tm_sink s;
	enum mbox_status st;

	tm_sink_init(&s, 64 << 20);
	st = mbox_send(m, i, lines, tm_sink_write, &s);
	ok(st == MBOX_OK, "send %u/%lld ok (%d)", i, lines, (int)st);
	ok(!s.bad, "send %u/%lld: CRLF-only, dots stuffed", i, lines);
	if (lines < 0)
		ok(s.total - s.stuffed == mbox_msg_size(m, i),
		   "send %u: %llu octets sent - %llu stuffed == size %llu", i,
		   s.total, s.stuffed, (unsigned long long)mbox_msg_size(m, i));
	if (!s.buf) {
		s.buf = calloc(1, 1);
		if (!s.buf)
			exit(99);
	}
	*len = s.len;
	return s.buf;
}

static void expect_send(struct mbox *m, uint32_t i, long long lines,
			const char *want, size_t wlen, const char *name)
{
	size_t len;
	char *got = sendit(m, i, lines, &len);

	ok(len == wlen && memcmp(got, want, wlen) == 0,
	   "%s: bytes exact (got %zu, want %zu)", name, len, wlen);
	free(got);
}

static void test_empty(void)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m;
	char why[256];

	m = mk("empty", "", 0);
	ok(m && mbox_count(m) == 0 && mbox_live_size(m) == 0, "empty file: 0 messages");
	ok(m && mbox_check(m) == MBOX_OK, "empty file: check ok");
	ok(m && mbox_update(m, why, sizeof(why)) == MBOX_OK, "empty file: update ok");
	mbox_close(m);

	m = NULL;
	ok(mbox_open(&m, tm_path("missing"), &o, why, sizeof(why)) == MBOX_OK &&
	   m && mbox_count(m) == 0, "missing file: empty maildrop");
	ok(m && mbox_check(m) == MBOX_OK, "missing file: check ok");
	ok(m && mbox_update(m, why, sizeof(why)) == MBOX_OK, "missing file: update ok");
	ok(access(tm_path("missing"), F_OK) < 0, "missing file: not created");
	mbox_close(m);
}

static void test_damaged(void)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = (struct mbox *)1;
	char why[256] = "";
	static const char *bad[] = {
		"Subject: hi\n\nbody\n", "\nFrom a\nX: y\n", "from a\nX: y\n",
		"From\n", ">From a\n", " From a\n"
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tm_write(tm_path("damaged"), bad[i], strlen(bad[i]));
		why[0] = '\0';
		ok(mbox_open(&m, tm_path("damaged"), &o, why, sizeof(why)) ==
		   MBOX_ERR_DAMAGED && m == NULL && why[0],
		   "damaged #%zu refused (%s)", i, why);
	}
}

static void test_lf(void)
{
	static const char box[] =
		"From a@b Mon Jan  1 00:00:00 2024\n"
		"Subject: one\n"
		"\n"
		"body 1\n"
		".dot\n"
		"\n"
		"From c@d Mon Jan  1 00:00:01 2024\n"
		"Subject: two\n"
		"\n"
		"line 1\n"
		"line 2\n"
		"line 3\n"
		"\n";
	struct mbox *m = mk("lf", S(box));

	if (!m)
		return;
	ok(mbox_count(m) == 2, "lf: 2 messages");
	/* "Subject: one\r\n\r\nbody 1\r\n.dot\r\n" */
	ok(mbox_msg_size(m, 0) == 14 + 2 + 8 + 6, "lf: size 0 (%llu)",
	   (unsigned long long)mbox_msg_size(m, 0));
	ok(mbox_msg_size(m, 1) == 14 + 2 + 8 * 3, "lf: size 1 (%llu)",
	   (unsigned long long)mbox_msg_size(m, 1));
	ok(mbox_live_count(m) == 2 && mbox_live_size(m) == 30 + 40, "lf: live totals");
	expect_send(m, 0, -1, S("Subject: one\r\n\r\nbody 1\r\n..dot\r\n"), "lf: RETR 1");
	expect_send(m, 1, -1, S("Subject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"), "lf: RETR 2");
	expect_send(m, 1, 0, S("Subject: two\r\n\r\n"), "lf: TOP 2 0");
	expect_send(m, 1, 2, S("Subject: two\r\n\r\nline 1\r\nline 2\r\n"), "lf: TOP 2 2");
	expect_send(m, 1, 99, S("Subject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"), "lf: TOP 2 99");
	expect_send(m, 0, 1, S("Subject: one\r\n\r\nbody 1\r\n"), "lf: TOP 1 1");
	ok(mbox_send(m, 2, -1, tm_sink_write, NULL) != MBOX_OK, "lf: RETR out of range refused");
	mbox_msg_delete(m, 0);
	ok(mbox_msg_deleted(m, 0) && !mbox_msg_deleted(m, 1), "lf: delete marks");
	ok(mbox_live_count(m) == 1 && mbox_live_size(m) == 40, "lf: live after delete");
	mbox_msg_delete(m, 0);
	ok(mbox_live_count(m) == 1, "lf: double delete counted once");
	mbox_undelete_all(m);
	ok(mbox_live_count(m) == 2 && !mbox_msg_deleted(m, 0), "lf: undelete all");
	mbox_close(m);
}

static void test_crlf(void)
{
	static const char box[] =
		"From a@b Mon Jan  1 00:00:00 2024\r\n"
		"Subject: one\r\n"
		"\r\n"
		"body 1\r\n"
		"\r\n"
		"From c@d Mon Jan  1 00:00:01 2024\r\n"
		"Subject: two\r\n"
		"X: y\r\n"
		"\r\n"
		"a\r\n"
		"b\r\n"
		"\r\n";
	struct mbox *m = mk("crlf", S(box));

	if (!m)
		return;
	ok(mbox_count(m) == 2, "crlf: 2 messages");
	ok(mbox_msg_size(m, 0) == 14 + 2 + 8, "crlf: size 0 (%llu)",
	   (unsigned long long)mbox_msg_size(m, 0));
	expect_send(m, 0, -1, S("Subject: one\r\n\r\nbody 1\r\n"), "crlf: RETR 1 as stored");
	expect_send(m, 1, 0, S("Subject: two\r\nX: y\r\n\r\n"), "crlf: TOP finds header end");
	expect_send(m, 1, 1, S("Subject: two\r\nX: y\r\n\r\na\r\n"), "crlf: TOP 1");
	mbox_close(m);
}

static void test_no_final_newline(void)
{
	struct mbox *m = mk("nofinal", S("From a\nS: x\n\nlast"));

	if (m) {
		ok(mbox_msg_size(m, 0) == 6 + 2 + 4 + 2, "no final LF: CRLF counted");
		expect_send(m, 0, -1, S("S: x\r\n\r\nlast\r\n"), "no final LF: CRLF supplied");
		mbox_close(m);
	}
	m = mk("nofinal-cr", S("From a\nS: x\n\nlast\r"));
	if (m) {
		ok(mbox_msg_size(m, 0) == 6 + 2 + 5 + 1, "final CR: LF counted");
		expect_send(m, 0, -1, S("S: x\r\n\r\nlast\r\n"), "final CR: no CR CR LF");
		mbox_close(m);
	}
	m = mk("from-only", S("From a"));
	if (m) {
		ok(mbox_count(m) == 1 && mbox_msg_size(m, 0) == 0, "From_ line only: one empty message");
		expect_send(m, 0, -1, "", 0, "From_ line only: sends nothing");
		mbox_close(m);
	}
	m = mk("empty-msgs", S("From a\n\nFrom b\n\n\nFrom c\n"));
	if (m) {
		ok(mbox_count(m) == 3, "empty messages: 3 found");
		ok(mbox_msg_size(m, 0) == 0 && mbox_msg_size(m, 1) == 2 &&
		   mbox_msg_size(m, 2) == 0, "empty messages: sizes 0 2 0");
		expect_send(m, 1, -1, S("\r\n"), "empty messages: one blank line");
		mbox_close(m);
	}
}

static void test_from_rules(void)
{
	static const char box[] =
		"From a\n"
		"From: header line, not a boundary\n"
		"\n"
		">From quoted\n"
		"text\n"
		"From in body, not after blank\n"
		"\n"
		"From b\n"
		"S: 2\n";
	struct mbox *m = mk("fromrules", S(box));

	if (!m)
		return;
	ok(mbox_count(m) == 2, "From_ rule: 2 messages (%u)", mbox_count(m));
	expect_send(m, 0, -1,
		    S("From: header line, not a boundary\r\n\r\n>From quoted\r\n"
		      "text\r\nFrom in body, not after blank\r\n"),
		    "From_ rule: >From kept, body From kept");
	expect_send(m, 1, -1, S("S: 2\r\n"), "From_ rule: last message without separator");
	mbox_close(m);

	m = mk("from-after-from", S("From a\nFrom b\n\nbody\n"));
	if (m) {
		ok(mbox_count(m) == 1, "line after From_ is a header even if From ");
		mbox_close(m);
	}
}

static void test_dots_nul_noblank(void)
{
	static const char box[] =
		"From a\n"
		"S: x\n"
		"\n"
		".\n"
		"..\n"
		".x.\n"
		"a\0b\n"
		"\n"
		"From b\n"
		"S: no blank line after headers\n"
		"T: still header\n";
	struct mbox *m = mk("dots", S(box));

	if (!m)
		return;
	ok(mbox_count(m) == 2, "dots: 2 messages");
	ok(mbox_msg_size(m, 0) == 6 + 2 + 3 + 4 + 5 + 5, "dots: stuffing not counted (%llu)",
	   (unsigned long long)mbox_msg_size(m, 0));
	expect_send(m, 0, -1, S("S: x\r\n\r\n..\r\n...\r\n..x.\r\na\0b\r\n"), "dots+NUL: RETR exact");
	expect_send(m, 1, 0, S("S: no blank line after headers\r\nT: still header\r\n"),
		    "no blank after headers: TOP 0 sends all");
	mbox_close(m);
}

static size_t maxrss_kb(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? (size_t)ru.ru_maxrss : 0;
}

static void test_long_line(void)
{
	size_t n = 10u << 20, i;
	char *box = malloc(n + 32);
	struct tm_sink s;
	struct mbox *m;
	size_t before;

	if (!box)
		exit(99);
	memcpy(box, "From a\nS: x\n\n", 13);
	for (i = 13; i < n + 13; i++)
		box[i] = (char)('a' + i % 26);
	box[13] = '.';
	box[n + 13] = '\n';
	tm_write(tm_path("long"), box, n + 14);
	free(box);
	before = maxrss_kb();
	m = tm_open_ok(tm_path("long"), "10 MB line");
	if (!m)
		return;
	ok(mbox_msg_size(m, 0) == 6 + 2 + n + 2, "10 MB line: size");
	tm_sink_init(&s, 0);
	ok(mbox_send(m, 0, -1, tm_sink_write, &s) == MBOX_OK && !s.bad &&
	   s.total == 6 + 2 + n + 3, "10 MB line: RETR streams it with the stuffed dot");
	tm_sink_init(&s, 0);
	ok(mbox_send(m, 0, 0, tm_sink_write, &s) == MBOX_OK && s.total == 8,
	   "10 MB line: TOP 0 stops at the headers");
	/* The index and window are all we hold: far below the line's size. */
	ok(maxrss_kb() - before < 8 * 1024, "10 MB line: RSS grew %zu KiB",
	   maxrss_kb() - before);
	mbox_close(m);
}

/*
 * CRLF pairs split between two reads: the scan's first window ends at
 * win, the send's first read at data + win / 2 - 64 (send.c's SEND_IN).
 * A '\r' that ends one read and the '\n' that starts the next are one
 * line end (no extra CR).  Once with the full window (a file past it)
 * and once with the small one a small mailbox gets.
 */
static void test_window_edges(size_t win, size_t n, const char *name)
{
	static const char head[] = "From a\nS: x\n\n";
	size_t data = 7, i;
	char *box = malloc(n);
	struct tm_sink s;
	struct mbox *m;
	size_t cuts[] = { win - 1, data + win / 2 - 64 - 1 };

	if (!box)
		exit(99);
	memcpy(box, head, sizeof(head) - 1);
	for (i = sizeof(head) - 1; i < n; i++)
		box[i] = (i % 100 == 99) ? '\n' : (i % 100 == 0 ? '.' : 'x');
	for (i = 0; i < 2; i++) {
		if (cuts[i] + 1 >= n)
			continue;
		box[cuts[i]] = '\r';
		box[cuts[i] + 1] = '\n';
	}
	box[n - 1] = '\n';
	tm_write(tm_path(name), box, n);
	m = tm_open_ok(tm_path(name), name);
	if (m) {
		size_t lf = 0, crlf = 0, dots = 0;

		for (i = data; i < n; i++) {
			if (box[i] == '\n') {
				if (box[i - 1] == '\r')
					crlf++;
				else
					lf++;
			}
			if (box[i] == '.' && box[i - 1] == '\n')
				dots++;
		}
		ok(mbox_msg_size(m, 0) == (n - data) + lf, "%s: size counts split CRLFs once (%llu vs %zu)",
		   name, (unsigned long long)mbox_msg_size(m, 0), (n - data) + lf);
		tm_sink_init(&s, 0);
		ok(mbox_send(m, 0, -1, tm_sink_write, &s) == MBOX_OK && !s.bad &&
		   s.total == mbox_msg_size(m, 0) + dots,
		   "%s: RETR sends size octets plus the stuffed dots, CRLF-only", name);
		ok(crlf >= 1, "%s: CRLFs planted at the read edges (%zu)", name, crlf);
		mbox_close(m);
	}
	free(box);
}

static void test_peer_gone(void)
{
	struct mbox *m = mk("peer", S("From a\nS: x\n\nbody\n"));
	struct tm_sink s;

	if (!m)
		return;
	tm_sink_init(&s, 0);
	s.fail_after = 1;
	ok(mbox_send(m, 0, -1, tm_sink_write, &s) == MBOX_ERR_PEER, "sink failure: MBOX_ERR_PEER");
	mbox_close(m);
}

static int is_hex16(const char *u)
{
	size_t i;

	for (i = 0; i < 16; i++)
		if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
			return 0;
	return 1;
}

static void test_uidl(void)
{
	static const char box[] =
		"From a\nReceived: from x by y; 1 Jan\nS: 1\n\nbody\n\n"
		"From a\nReceived: from x by y; 1 Jan\nS: 1\n\nbody\n\n"
		"From a\nReceived: from z by y; 2 Jan\nS: 2\n\nbody\n\n"
		"From a\nReceived: from x by y; 1 Jan\nS: other subject, same id\n\nbody\n\n"
		"From a\nReceived: from w by y; 3 Jan\n\nbody\n";
	struct mbox *m = mk("uidl", S(box));
	char u[5][80];
	uint32_t i;
	char why[256];
	struct mbox_opts o = tm_opts();

	if (!m)
		return;
	ok(mbox_count(m) == 5, "uidl: 5 messages");
	for (i = 0; i < 5; i++) {
		const char *x = mbox_msg_uidl(m, i);
		size_t k, l = strlen(x);
		int printable = 1;

		snprintf(u[i], sizeof(u[i]), "%s", x);
		for (k = 0; k < l; k++)
			if (x[k] < 0x21 || x[k] > 0x7e)
				printable = 0;
		ok(l >= 1 && l <= 70 && printable, "uidl %u: 1..70 printable (%s)", i, x);
	}
	ok(strlen(u[0]) == 16 && is_hex16(u[0]), "uidl: plain id is 16 hex digits");
	ok(strncmp(u[1], u[0], 16) == 0 && strcmp(u[1] + 16, "-2") == 0,
	   "uidl: second copy gets -2 (%s)", u[1]);
	ok(strncmp(u[3], u[0], 16) == 0 && strcmp(u[3] + 16, "-3") == 0,
	   "uidl: third copy gets -3 (%s)", u[3]);
	ok(strcmp(u[2], u[0]) != 0 && strlen(u[2]) == 16, "uidl: other Received: other id");
	for (i = 0; i < 5; i++) {
		uint32_t j;

		for (j = i + 1; j < 5; j++)
			ok(strcmp(u[i], u[j]) != 0, "uidl: %u and %u differ", i, j);
	}
	/* Stability: delete message 3 (index 2), the others keep their ids. */
	mbox_msg_delete(m, 2);
	ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "uidl: update (%s)", why);
	mbox_close(m);
	m = NULL;
	ok(mbox_open(&m, tm_path("uidl"), &o, why, sizeof(why)) == MBOX_OK && m &&
	   mbox_count(m) == 4, "uidl: reopened with 4");
	if (!m)
		return;
	ok(strcmp(mbox_msg_uidl(m, 0), u[0]) == 0 && strcmp(mbox_msg_uidl(m, 1), u[1]) == 0 &&
	   strcmp(mbox_msg_uidl(m, 2), u[3]) == 0 && strcmp(mbox_msg_uidl(m, 3), u[4]) == 0,
	   "uidl: ids stable after deleting another message");
	mbox_close(m);
}

static void test_change(void)
{
	const char *p = tm_path("change");
	struct mbox *m;
	size_t len;
	char *got;
	char why[256];

	/* Append: fine, the new mail is ignored for the session. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/append");
	if (!m)
		return;
	tm_append(p, S("From d\nS: 4\n\nnew\n\n"));
	ok(mbox_check(m) == MBOX_OK, "append: check ok");
	ok(mbox_count(m) == 3, "append: still 3 messages");
	got = sendit(m, 2, -1, &len);
	ok(len == 20 && memcmp(got, "S: 3\r\n\r\nbody three\r\n", 20) == 0,
	   "append: RETR of the last message unchanged");
	free(got);
	mbox_close(m);

	/*
	 * A delivery caught before its first byte: write(2) has stamped the
	 * times but not yet grown the file.  The check looks again and sees
	 * the append (here it lands 20 ms later); a touch that no append
	 * follows is a change.
	 */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/append-in-flight");
	if (m) {
		pid_t kid;
		int st = -1;

		if (utimensat(AT_FDCWD, p, NULL, 0) < 0)
			exit(99);
		kid = fork();
		if (kid == 0) {
			usleep(20000);
			tm_append(p, S("From d\nS: 4\n\nnew\n\n"));
			_exit(0);
		}
		ok(mbox_check(m) == MBOX_OK, "times moved, the append 20 ms later: check ok");
		waitpid(kid, &st, 0);
		mbox_close(m);
	}
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/touched");
	if (m) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000000000, 0 } };

		ok(utimensat(AT_FDCWD, p, ts, 0) == 0 && mbox_check(m) == MBOX_ERR_CHANGED,
		   "times moved and no append follows: changed");
		mbox_close(m);
	}

	/* A delivery caught after its first bytes: fine too. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/append-partial");
	tm_append(p, S("Fro"));
	ok(m && mbox_check(m) == MBOX_OK, "partial delivery (\"Fro\"): check ok");
	mbox_close(m);

	/* Old end not at a line end: the new mail would join the last message. */
	tm_write(p, S("From a\nS: 1\n\nno newline"));
	m = tm_open_ok(p, "change/append-after-partial-line");
	tm_append(p, S("\n\nFrom b\nS: 2\n\n"));
	ok(m && mbox_check(m) == MBOX_ERR_CHANGED, "append after a partial last line: changed");
	mbox_close(m);

	/* An empty file that receives its first message: fine. */
	tm_write(p, "", 0);
	m = tm_open_ok(p, "change/first-mail");
	tm_append(p, S("From a\nS: 1\n\nhi\n"));
	ok(m && mbox_check(m) == MBOX_OK && mbox_count(m) == 0, "first mail into an empty file: ignored");
	mbox_close(m);

	/* Append something that is no new message: changed. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/append-junk");
	tm_append(p, S("junk\n"));
	ok(m && mbox_check(m) == MBOX_ERR_CHANGED, "append junk: changed");
	ok(m && mbox_send(m, 0, -1, tm_sink_write, NULL) == MBOX_ERR_CHANGED,
	   "append junk: send refused");
	mbox_close(m);

	/* Same size, other bytes (and a different mtime): changed. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/rewrite");
	{
		char b[sizeof(tm_base_box)];

		memcpy(b, tm_base_box, sizeof(b));
		b[10] = '9';
		tm_write(p, b, sizeof(b) - 1);
	}
	ok(m && mbox_check(m) == MBOX_ERR_CHANGED, "rewrite: changed");
	ok(m && mbox_check(m) == MBOX_ERR_CHANGED, "rewrite: stays changed");
	if (m) {
		mbox_msg_delete(m, 0);
		ok(mbox_update(m, why, sizeof(why)) == MBOX_ERR_CHANGED,
		   "rewrite: update refused");
		got = tm_read(p, &len);
		ok(got && len == sizeof(tm_base_box) - 1 && got[10] == '9',
		   "rewrite: file not touched by the refused update");
		free(got);
	}
	mbox_close(m);

	/* Truncation: changed. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/truncate");
	ok(truncate(p, 20) == 0 && m && mbox_check(m) == MBOX_ERR_CHANGED, "truncate: changed");
	mbox_close(m);

	/* Grown by a rewrite that keeps the size of the old part: changed. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/rewrite-grow");
	{
		char b[sizeof(tm_base_box) + 32];
		size_t n = sizeof(tm_base_box) - 1;

		memcpy(b, tm_base_box, n);
		b[n - 3] = 'X';
		memcpy(b + n, "From z\n\n", 8);
		tm_write(p, b, n + 8);
	}
	ok(m && mbox_check(m) == MBOX_ERR_CHANGED, "rewrite+grow: changed");
	mbox_close(m);

	/* A big mailbox (the fingerprint samples it): one byte flipped in
	 * the head, the tail or a sampled block, then mail appended, is a
	 * change; the same append to the untouched file is growth. */
	{
		enum { BIG = 64 * 1024 };
		static char big[BIG + 16];
		size_t n = 0, at[4];
		const char *where[4] = { "head", "tail", "sample 5", "sample 16" };

		while (n + 64 < BIG) {
			int k = snprintf(big + n, BIG - n, "From a@b Thu Jan  1 00:00:00 1970\n\nline %zu\n", n);

			n += (size_t)k;
			while (n % 97 != 0 && n < BIG)
				big[n++] = 'x';
			big[n++] = '\n';
		}
		at[0] = 200;
		at[1] = n - 3;
		at[2] = n / 17 * 5 + 100;
		at[3] = n / 17 * 16 + 7;
		for (int i = 0; i < 4; i++) {
			char b[BIG + 32];

			tm_write(p, big, n);
			m = tm_open_ok(p, "change/big-flip");
			memcpy(b, big, n);
			b[at[i]] ^= 0x10;
			memcpy(b + n, "From z\n\n", 8);
			tm_write(p, b, n + 8);
			ok(m && mbox_check(m) == MBOX_ERR_CHANGED,
			   "big mailbox, one bit flipped in the %s, then grown: changed", where[i]);
			mbox_close(m);
		}
		tm_write(p, big, n);
		m = tm_open_ok(p, "change/big-grow");
		{
			char b[BIG + 32];

			memcpy(b, big, n);
			memcpy(b + n, "From z\n\n", 8);
			tm_write(p, b, n + 8);
		}
		ok(m && mbox_check(m) == MBOX_OK, "big mailbox, only grown: check ok");
		mbox_close(m);
	}

	/* Replaced by rename: changed. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/rename");
	tm_write(tm_path("change.new"), S(tm_base_box));
	ok(rename(tm_path("change.new"), p) == 0 && m &&
	   mbox_check(m) == MBOX_ERR_CHANGED, "replaced by rename: changed");
	mbox_close(m);

	/* Removed: changed. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "change/unlink");
	ok(unlink(p) == 0 && m && mbox_check(m) == MBOX_ERR_CHANGED, "removed: changed");
	mbox_close(m);
}

#if defined(__SANITIZE_ADDRESS__)
#define TM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TM_ASAN 1
#endif
#endif

/* Out of memory is MBOX_ERR_SYS, not a crash. */
static void test_oom(void)
{
#ifdef TM_ASAN
	ok(1, "out of memory: not under ASan, which needs its address space (skipped)");
#else
	pid_t pid;
	int status = -1;
	/* Past MBOX_WINDOW_SMALL, so that the window is the full one. */
	size_t n = MBOX_WINDOW_SMALL + 4096;
	char *box = malloc(n);

	if (!box)
		exit(99);
	memset(box, 'x', n);
	memcpy(box, "From a\nS: x\n\n", 13);
	box[n - 1] = '\n';
	tm_write(tm_path("oom"), box, n);
	free(box);
	pid = fork();
	if (pid == 0) {
		struct mbox_opts o = tm_opts();
		struct mbox *m = NULL;
		struct rlimit rl;
		char why[256];
		unsigned long pages = 0;
		FILE *f = fopen("/proc/self/statm", "r");

		if (!f || fscanf(f, "%lu", &pages) != 1)
			_exit(2);
		fclose(f);
		/* Room for small allocations, none for the 1 MiB window. */
		rl.rlim_cur = rl.rlim_max = pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256 << 10);
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			_exit(3);
		if (mbox_open(&m, tm_path("oom"), &o, why, sizeof(why)) != MBOX_ERR_SYS || m)
			_exit(4);
		_exit(strstr(why, "memory") ? 0 : 5);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "out of memory: MBOX_ERR_SYS (%d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
#endif
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	tm_setup();
	test_oom();	/* first, while our heap holds no freed megabytes */
	test_empty();
	test_damaged();
	test_lf();
	test_crlf();
	test_no_final_newline();
	test_from_rules();
	test_dots_nul_noblank();
	test_long_line();
	test_window_edges(MBOX_WINDOW, MBOX_WINDOW + 4096, "window edges");
	test_window_edges(MBOX_WINDOW_SMALL, MBOX_WINDOW_SMALL - 100, "small window edges");
	test_peer_gone();
	test_uidl();
	test_change();
	tm_cleanup();
	return tap_done();
}
