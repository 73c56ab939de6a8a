/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the mbox engine: the From_ rule, sizes as transmitted,
 * RETR/TOP bytes, UIDL format and duplicates, change detection, UPDATE
 * results, locking and spool safety.  Runs as root in CI (chown and
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

#define S(x) x, sizeof(x) - 1

static struct mbox *open_ok(const char *path, const char *name)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	enum mbox_status st = mbox_open(&m, path, &o, why, sizeof(why));

	ok(st == MBOX_OK && m, "%s: opens (%d %s)", name, (int)st, why);
	return m;
}

static struct mbox *mk(const char *name, const char *data, size_t n)
{
	const char *p = tm_path(name);

	tm_write(p, data, n);
	return open_ok(p, name);
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
	m = open_ok(tm_path("long"), "10 MB line");
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
	m = open_ok(tm_path(name), name);
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

static const char base_box[] =
	"From a\nS: 1\n\nbody one\n\n"
	"From b\nS: 2\n\nbody two\n\n"
	"From c\nS: 3\n\nbody three\n\n";

static void test_change(void)
{
	const char *p = tm_path("change");
	struct mbox *m;
	size_t len;
	char *got;
	char why[256];

	/* Append: fine, the new mail is ignored for the session. */
	tm_write(p, S(base_box));
	m = open_ok(p, "change/append");
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
	tm_write(p, S(base_box));
	m = open_ok(p, "change/append-in-flight");
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
	tm_write(p, S(base_box));
	m = open_ok(p, "change/touched");
	if (m) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000000000, 0 } };

		ok(utimensat(AT_FDCWD, p, ts, 0) == 0 && mbox_check(m) == MBOX_ERR_CHANGED,
		   "times moved and no append follows: changed");
		mbox_close(m);
	}

	/* A delivery caught after its first bytes: fine too. */
	tm_write(p, S(base_box));
	m = open_ok(p, "change/append-partial");
	tm_append(p, S("Fro"));
	ok(m && mbox_check(m) == MBOX_OK, "partial delivery (\"Fro\"): check ok");
	mbox_close(m);

	/* Old end not at a line end: the new mail would join the last message. */
	tm_write(p, S("From a\nS: 1\n\nno newline"));
	m = open_ok(p, "change/append-after-partial-line");
	tm_append(p, S("\n\nFrom b\nS: 2\n\n"));
	ok(m && mbox_check(m) == MBOX_ERR_CHANGED, "append after a partial last line: changed");
	mbox_close(m);

	/* An empty file that receives its first message: fine. */
	tm_write(p, "", 0);
	m = open_ok(p, "change/first-mail");
	tm_append(p, S("From a\nS: 1\n\nhi\n"));
	ok(m && mbox_check(m) == MBOX_OK && mbox_count(m) == 0, "first mail into an empty file: ignored");
	mbox_close(m);

	/* Append something that is no new message: changed. */
	tm_write(p, S(base_box));
	m = open_ok(p, "change/append-junk");
	tm_append(p, S("junk\n"));
	ok(m && mbox_check(m) == MBOX_ERR_CHANGED, "append junk: changed");
	ok(m && mbox_send(m, 0, -1, tm_sink_write, NULL) == MBOX_ERR_CHANGED,
	   "append junk: send refused");
	mbox_close(m);

	/* Same size, other bytes (and a different mtime): changed. */
	tm_write(p, S(base_box));
	m = open_ok(p, "change/rewrite");
	{
		char b[sizeof(base_box)];

		memcpy(b, base_box, sizeof(b));
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
		ok(got && len == sizeof(base_box) - 1 && got[10] == '9',
		   "rewrite: file not touched by the refused update");
		free(got);
	}
	mbox_close(m);

	/* Truncation: changed. */
	tm_write(p, S(base_box));
	m = open_ok(p, "change/truncate");
	ok(truncate(p, 20) == 0 && m && mbox_check(m) == MBOX_ERR_CHANGED, "truncate: changed");
	mbox_close(m);

	/* Grown by a rewrite that keeps the size of the old part: changed. */
	tm_write(p, S(base_box));
	m = open_ok(p, "change/rewrite-grow");
	{
		char b[sizeof(base_box) + 32];
		size_t n = sizeof(base_box) - 1;

		memcpy(b, base_box, n);
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
			m = open_ok(p, "change/big-flip");
			memcpy(b, big, n);
			b[at[i]] ^= 0x10;
			memcpy(b + n, "From z\n\n", 8);
			tm_write(p, b, n + 8);
			ok(m && mbox_check(m) == MBOX_ERR_CHANGED,
			   "big mailbox, one bit flipped in the %s, then grown: changed", where[i]);
			mbox_close(m);
		}
		tm_write(p, big, n);
		m = open_ok(p, "change/big-grow");
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
	tm_write(p, S(base_box));
	m = open_ok(p, "change/rename");
	tm_write(tm_path("change.new"), S(base_box));
	ok(rename(tm_path("change.new"), p) == 0 && m &&
	   mbox_check(m) == MBOX_ERR_CHANGED, "replaced by rename: changed");
	mbox_close(m);

	/* Removed: changed. */
	tm_write(p, S(base_box));
	m = open_ok(p, "change/unlink");
	ok(unlink(p) == 0 && m && mbox_check(m) == MBOX_ERR_CHANGED, "removed: changed");
	mbox_close(m);
}

static void update_case(const char *name, const char *dels, const char *want,
			size_t wlen)
{
	const char *p = tm_path("upd");
	struct mbox *m;
	char why[256];
	char *got;
	size_t len, i;

	tm_write(p, S(base_box));
	m = open_ok(p, name);
	if (!m)
		return;
	for (i = 0; dels[i]; i++)
		mbox_msg_delete(m, (uint32_t)(dels[i] - '1'));
	ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "%s: update ok (%s)", name, why);
	ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "%s: a second update is a no-op", name);
	mbox_close(m);
	got = tm_read(p, &len);
	ok(got && len == wlen && memcmp(got, want, wlen) == 0, "%s: file exact", name);
	free(got);
}

static void test_update(void)
{
	const char *p = tm_path("upd");
	struct mbox *m;
	struct stat a, b;
	char why[256], *got;
	size_t len;

	update_case("update none", "", S(base_box));
	update_case("update first", "1",
		    S("From b\nS: 2\n\nbody two\n\nFrom c\nS: 3\n\nbody three\n\n"));
	update_case("update middle", "2",
		    S("From a\nS: 1\n\nbody one\n\nFrom c\nS: 3\n\nbody three\n\n"));
	update_case("update last", "3",
		    S("From a\nS: 1\n\nbody one\n\nFrom b\nS: 2\n\nbody two\n\n"));
	update_case("update first+last", "13", S("From b\nS: 2\n\nbody two\n\n"));
	update_case("update all", "123", "", 0);

	/* Nothing deleted: the file is not even opened for writing. */
	tm_write(p, S(base_box));
	ok(stat(p, &a) == 0, "update none: stat");
	m = open_ok(p, "update none/mtime");
	usleep(20000);
	ok(m && mbox_update(m, why, sizeof(why)) == MBOX_OK, "update none: ok");
	ok(stat(p, &b) == 0 && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
	   a.st_mtim.tv_nsec == b.st_mtim.tv_nsec, "update none: mtime untouched");
	mbox_close(m);

	/* Deleting: the mtime moves to another second. */
	tm_write(p, S(base_box));
	ok(stat(p, &a) == 0, "update mtime: stat");
	m = open_ok(p, "update mtime");
	if (m) {
		mbox_msg_delete(m, 1);
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "update mtime: ok");
		ok(stat(p, &b) == 0 && b.st_mtim.tv_sec != a.st_mtim.tv_sec,
		   "update mtime: second changed");
		mbox_close(m);
	}

	/* Mail that arrived during the session survives the update. */
	tm_write(p, S(base_box));
	m = open_ok(p, "update+append");
	if (m) {
		mbox_msg_delete(m, 0);
		tm_append(p, S("From d\nS: 4\n\nnew\n\n"));
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "update+append: ok (%s)", why);
		mbox_close(m);
		got = tm_read(p, &len);
		ok(got && len == sizeof("From b\nS: 2\n\nbody two\n\nFrom c\nS: 3\n\nbody three\n\n"
					"From d\nS: 4\n\nnew\n\n") - 1 &&
		   strcmp(got, "From b\nS: 2\n\nbody two\n\nFrom c\nS: 3\n\nbody three\n\n"
			  "From d\nS: 4\n\nnew\n\n") == 0, "update+append: appended mail kept");
		free(got);
	}

	/* Deleting the last message with appended mail behind it. */
	tm_write(p, S(base_box));
	m = open_ok(p, "update last+append");
	if (m) {
		mbox_msg_delete(m, 2);
		tm_append(p, S("From d\nS: 4\n\nnew\n"));
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "update last+append: ok");
		mbox_close(m);
		got = tm_read(p, &len);
		ok(got && strcmp(got, "From a\nS: 1\n\nbody one\n\nFrom b\nS: 2\n\nbody two\n\n"
				 "From d\nS: 4\n\nnew\n") == 0, "update last+append: exact");
		free(got);
	}

	/* A tiny copy chunk gives the same result. */
	tm_write(p, S(base_box));
	m = open_ok(p, "update chunked");
	if (m) {
		mbox_set_copy_chunk(m, 3);
		mbox_msg_delete(m, 0);
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "update chunked: ok");
		mbox_close(m);
		got = tm_read(p, &len);
		ok(got && strcmp(got, "From b\nS: 2\n\nbody two\n\nFrom c\nS: 3\n\nbody three\n\n") == 0,
		   "update chunked: exact");
		free(got);
	}
}

/* A child takes a lock of the given kind and holds it until killed. */
static pid_t hold_lock(const char *path, int kind)
{
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe(pfd) < 0)
		exit(99);
	pid = fork();
	if (pid < 0)
		exit(99);
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		struct flock fl;

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd < 0 || (kind == 0 && fcntl(fd, F_SETLK, &fl) < 0) ||
		    (kind == 1 && flock(fd, LOCK_EX) < 0))
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		exit(99);
	close(pfd[0]);
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void test_locking(void)
{
	const char *p = tm_path("locked");
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	pid_t pid;
	struct timespec ts[2];

	tm_write(p, S(base_box));
	pid = hold_lock(p, 0);
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_INUSE && !m,
	   "fcntl lock held elsewhere: INUSE (%s)", why);
	ok(access(tm_path("locked.lock"), F_OK) < 0, "INUSE: our dotlock removed");
	o.lock_methods = MBOX_LOCK_FLOCK | MBOX_LOCK_DOT;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m,
	   "fcntl lock held, flock only: opens");
	mbox_close(m);
	m = NULL;
	reap(pid);

	pid = hold_lock(p, 1);
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_INUSE && !m,
	   "flock held elsewhere: INUSE (%s)", why);
	reap(pid);

	/* Open first, then the lock is taken elsewhere: UPDATE waits, fails. */
	o = tm_opts();
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "open before lock");
	if (m) {
		pid = hold_lock(p, 0);
		mbox_msg_delete(m, 0);
		ok(mbox_update(m, why, sizeof(why)) == MBOX_ERR_INUSE,
		   "update with lock held elsewhere: INUSE");
		reap(pid);
		mbox_close(m);
		m = NULL;
	}

	/* A fresh dotlock blocks; a stale one is removed. */
	tm_write(tm_path("locked.lock"), "", 0);
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_INUSE && !m,
	   "fresh dotlock: INUSE (%s)", why);
	ok(access(tm_path("locked.lock"), F_OK) == 0, "fresh dotlock: left alone");
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 3600;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ok(utimensat(AT_FDCWD, tm_path("locked.lock"), ts, 0) == 0, "age the dotlock");
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "stale dotlock: opens (%s)", why);
	ok(access(tm_path("locked.lock"), F_OK) < 0, "stale dotlock: removed");
	mbox_close(m);
	m = NULL;
	o.lock_methods = MBOX_LOCK_FCNTL;
	tm_write(tm_path("locked.lock"), "", 0);
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m,
	   "dotlock not configured: ignored");
	mbox_close(m);
	unlink(tm_path("locked.lock"));
}

/*
 * Debian's /var/mail: root:mail 2775, the user not in group mail.  As
 * the user we cannot create the dotlock and must go on without it.
 */
static void test_unwritable_spool(void)
{
	char spool[300], box[320];
	pid_t pid;
	int status;
	uid_t uid = 65534;

	if (geteuid() != 0) {
		ok(1, "unwritable spool: needs root (skipped)");
		return;
	}
	snprintf(spool, sizeof(spool), "%s/spool", tm_dir);
	snprintf(box, sizeof(box), "%s/user", spool);
	if (mkdir(spool, 02775) < 0 || chmod(spool, 02775) < 0 ||
	    chmod(tm_dir, 0755) < 0)
		exit(99);
	tm_write(box, S(base_box));
	if (chown(box, uid, 0) < 0)
		exit(99);
	pid = fork();
	if (pid == 0) {
		struct mbox_opts o;
		struct mbox *m = NULL;
		char why[256];

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(uid) < 0)
			_exit(2);
		mbox_opts_default(&o);
		o.owner = uid;
		o.lock_timeout = 1;
		if (mbox_open(&m, box, &o, why, sizeof(why)) != MBOX_OK)
			_exit(3);
		mbox_msg_delete(m, 0);
		if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
			_exit(4);
		mbox_close(m);
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "unwritable spool: opens and updates without dotlock (%d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	{
		size_t len;
		char *got = tm_read(box, &len);

		ok(got && strncmp(got, "From b\n", 7) == 0, "unwritable spool: update applied");
		free(got);
	}
	ok(access(tm_path("spool/user.lock"), F_OK) < 0, "unwritable spool: no dotlock left");
}

/* A mailbox the user may read but not write: served, UPDATE refused. */
static void test_readonly(void)
{
	const char *p = tm_path("ro");
	pid_t pid;
	int status = -1;
	char *got;
	size_t len;

	if (geteuid() != 0) {
		ok(1, "read-only mailbox: needs root (skipped)");
		return;
	}
	tm_write(p, S(base_box));
	if (chown(p, 65534, 65534) < 0 || chmod(p, 0400) < 0 || chmod(tm_dir, 0755) < 0)
		exit(99);
	pid = fork();
	if (pid == 0) {
		struct mbox_opts o;
		struct mbox *m = NULL;
		struct tm_sink s;
		char why[256];

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		mbox_opts_default(&o);
		o.owner = 65534;
		o.lock_timeout = 1;
		if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK || mbox_count(m) != 3)
			_exit(3);
		tm_sink_init(&s, 0);
		if (mbox_send(m, 1, -1, tm_sink_write, &s) != MBOX_OK ||
		    s.total != mbox_msg_size(m, 1))
			_exit(4);
		if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
			_exit(5);	/* nothing deleted: fine */
		mbox_msg_delete(m, 0);
		if (mbox_update(m, why, sizeof(why)) != MBOX_ERR_SYS)
			_exit(6);
		mbox_close(m);
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0,
	   "read-only mailbox: served, UPDATE with deletions refused (%d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	got = tm_read(p, &len);
	ok(got && len == sizeof(base_box) - 1 && memcmp(got, base_box, len) == 0,
	   "read-only mailbox: untouched");
	free(got);
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

static void test_unsafe(void)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	const char *p = tm_path("safe");

	tm_write(p, S(base_box));
	ok(symlink(p, tm_path("sym")) == 0, "make symlink");
	ok(mbox_open(&m, tm_path("sym"), &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "symlink refused (%s)", why);
	ok(mkfifo(tm_path("fifo"), 0600) == 0, "make fifo");
	ok(mbox_open(&m, tm_path("fifo"), &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "FIFO refused without blocking (%s)", why);
	ok(link(p, tm_path("hard")) == 0, "make hard link");
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "hard-linked file refused (%s)", why);
	unlink(tm_path("hard"));
	ok(mkdir(tm_path("dir"), 0700) == 0 &&
	   mbox_open(&m, tm_path("dir"), &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "directory refused");
	o.owner = getuid() + 1;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "wrong owner refused (%s)", why);
	if (geteuid() == 0) {
		o = tm_opts();
		ok(chown(p, 12345, 0) == 0 &&
		   mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
		   "file chowned to another user refused");
		o.owner = 12345;
		ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m,
		   "same file for its owner opens");
		mbox_close(m);
		m = NULL;
	}
}

static void test_limits(void)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	const char *p = tm_path("limits");

	tm_write(p, S(base_box));
	o.max_messages = 2;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_LIMIT && !m && why[0],
	   "max_messages 2 with 3: LIMIT (%s)", why);
	o.max_messages = 3;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "max_messages 3 with 3: ok");
	mbox_close(m);
	m = NULL;
	o = tm_opts();
	o.max_size = sizeof(base_box) - 2;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_LIMIT && !m,
	   "max_size one byte short: LIMIT (%s)", why);
	o.max_size = sizeof(base_box) - 1;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "max_size exact: ok");
	mbox_close(m);
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
	test_update();
	test_locking();
	test_unsafe();
	test_limits();
	test_unwritable_spool();
	test_readonly();
	tm_cleanup();
	return tap_done();
}
