/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The Maildir store: file-name parsing, UIDLs, size hints, and whole
 * maildrops on disk through the engine's public calls (mbox.h).
 */
#include "config.h"

#include <sys/types.h>

#include "tap.h"
#include "test-mbox-util.h"
#include "maildir.h"

static int parse(const char *name, struct maildir_name *n)
{
	return maildir_parse_name(name, strlen(name), n);
}

static void test_names(void)
{
	struct maildir_name n;
	char big[300];

	ok(parse("1700000000.M1P2Q3.host,S=120,W=124:2,S", &n) == 0 &&
	   n.has_time && n.time == 1700000000 && n.has_s && n.s_size == 120 &&
	   n.has_w && n.w_size == 124 &&
	   n.baselen == strlen("1700000000.M1P2Q3.host,S=120,W=124"),
	   "Dovecot name: time, S=, W=, unique part before ':'");
	ok(parse("1700000000.123_4.host", &n) == 0 && n.has_time && !n.has_s &&
	   !n.has_w && n.baselen == strlen("1700000000.123_4.host"), "no hints, no info");
	ok(parse("1700000000.x.host,W=5,W=5", &n) == 0 && !n.has_w,
	   "a hint given twice is no hint");
	ok(parse("1700000000.x.host,W=05", &n) == 0 && !n.has_w,
	   "a hint with a leading zero is no hint");
	ok(parse("1700000000.x.host,W=-5,S=+1", &n) == 0 && !n.has_w && !n.has_s,
	   "signed hints are no hints");
	ok(parse("1700000000.x.host,W=99999999999999999999999", &n) == 0 && !n.has_w,
	   "an overflowing hint is no hint");
	ok(parse("1700000000.x.host:2,S,W=5", &n) == 0 && !n.has_w,
	   "hints after ':' are flags, not hints");
	ok(parse("0123.x.host", &n) == 0 && !n.has_time, "leading-zero time: none");
	ok(parse("abc.x.host", &n) == 0 && !n.has_time, "no leading number: no time");
	ok(parse("1700000000", &n) == 0 && !n.has_time, "a number alone has no '.'");
	ok(parse(".hidden", &n) < 0 && parse(".", &n) < 0 && parse("..", &n) < 0,
	   "hidden names, . and .. are not messages");
	ok(parse(":2,S", &n) < 0, "empty unique part refused");
	ok(parse("", &n) < 0, "empty name refused");
	ok(maildir_parse_name("a/b", 3, &n) < 0, "'/' refused");
	ok(maildir_parse_name("a\0b", 3, &n) < 0, "NUL refused");
	memset(big, 'a', sizeof(big));
	ok(maildir_parse_name(big, 255, &n) == 0 && maildir_parse_name(big, 256, &n) < 0,
	   "255 bytes accepted, 256 refused");
	ok(parse("17.a\x01\xff b", &n) == 0, "odd bytes are allowed (UIDL is hashed)");
}

static void test_uidl(void)
{
	char a[MAILDIR_UIDL_SIZE], b[MAILDIR_UIDL_SIZE];
	char big[200];
	size_t i;
	int good;

	maildir_uidl_of("1700000000.M1P2.host,S=5", 24, a);
	ok(strcmp(a, "1700000000.M1P2.host,S=5") == 0, "printable unique part is the id");
	memset(big, 'x', sizeof(big));
	maildir_uidl_of(big, 70, a);
	ok(strlen(a) == 70, "70 bytes: verbatim");
	maildir_uidl_of(big, 71, a);
	ok(strlen(a) == 33 && a[0] == '~', "71 bytes: hashed to 33 chars");
	maildir_uidl_of(big, 72, b);
	ok(strcmp(a, b) != 0, "different long names, different ids");
	maildir_uidl_of("a b", 3, a);
	maildir_uidl_of("a b", 3, b);
	ok(a[0] == '~' && strcmp(a, b) == 0, "space: hashed, deterministic");
	maildir_uidl_of("~abc", 4, a);
	ok(a[0] == '~' && strlen(a) == 33, "leading '~' is hashed (verbatim ids never start with it)");
	maildir_uidl_of("\xff\x01", 2, a);
	for (i = 0, good = 1; a[i]; i++)
		good &= a[i] >= 0x21 && a[i] <= 0x7e;
	ok(good && strlen(a) == 33, "hashed ids are in 0x21..0x7E");
}

static void test_hints(void)
{
	struct maildir_name n;
	uint64_t sz = 0;

	parse("1.a.h,S=10,W=12", &n);
	ok(maildir_size_hint(&n, 10, &sz) == 1 && sz == 12, "S matches st_size: W believed");
	ok(maildir_size_hint(&n, 11, &sz) == 0, "S differs from st_size: counted");
	parse("1.a.h,W=12", &n);
	ok(maildir_size_hint(&n, 10, &sz) == 1 && sz == 12, "W alone, plausible: believed");
	ok(maildir_size_hint(&n, 13, &sz) == 0, "W below st_size: counted");
	ok(maildir_size_hint(&n, 4, &sz) == 0, "W above 2*st_size+2: counted");
	parse("1.a.h,S=10", &n);
	ok(maildir_size_hint(&n, 10, &sz) == 0, "S alone says nothing of CRLF: counted");
}

/* ------------------------------------------------------------ on disk */

static char md_root[256];

static void put(const char *sub, const char *name, const char *data)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s/%s", md_root, sub, name);
	tm_write(p, data, strlen(data));
}

static void mkmaildir(const char *name)
{
	char p[512];

	snprintf(md_root, sizeof(md_root), "%s", tm_path(name));
	if (mkdir(md_root, 0700) < 0)
		exit(99);
	snprintf(p, sizeof(p), "%s/cur", md_root);
	if (mkdir(p, 0700) < 0)
		exit(99);
	snprintf(p, sizeof(p), "%s/new", md_root);
	if (mkdir(p, 0700) < 0)
		exit(99);
	snprintf(p, sizeof(p), "%s/tmp", md_root);
	if (mkdir(p, 0700) < 0)
		exit(99);
}

static struct mbox_opts md_opts(void)
{
	struct mbox_opts o = tm_opts();

	o.format = MBOX_FORMAT_MAILDIR;
	return o;
}

static char *retr(struct mbox *m, uint32_t i, long long lines, enum mbox_status *st)
{
	static struct tm_sink s;

	tm_sink_free(&s);
	tm_sink_init(&s, 1 << 20);
	*st = mbox_msg_open(m, i);
	if (*st == MBOX_OK)
		*st = mbox_send(m, i, lines, tm_sink_write, &s);
	return s.buf ? s.buf : (char *)"";
}

static int exists(const char *sub, const char *name)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s/%s", md_root, sub, name);
	return lstat(p, &st) == 0;
}

static void test_store(void)
{
	struct mbox_opts o = md_opts();
	struct mbox *m;
	enum mbox_status st;
	char why[256], p[512], q[512], u1[80];
	const char *msg1 = "Subject: one\n\n.dot\nbody\n";
	const char *msg2 = "Subject: two\r\n\r\ncrlf\r\n";
	const char *msg3 = "Subject: three\n\nno final newline";

	mkmaildir("md1");
	/* Delivery order is the name's time, whatever the directory. */
	put("new", "1700000300.M3P1.host", msg3);
	put("cur", "1700000100.M1P1.host:2,S", msg1);
	put("new", "1700000200.M2P1.host,S=22,W=22", msg2);
	put("tmp", "1700000050.M0P1.host", "Subject: in progress\n\n");
	put("new", ".hidden", "x\n");

	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_OK, "open: %s", why);
	if (st != MBOX_OK)
		return;
	ok(mbox_count(m) == 3, "three messages: tmp/ and hidden files ignored (%u)",
	   mbox_count(m));
	ok(strcmp(mbox_msg_uidl(m, 0), "1700000100.M1P1.host") == 0 &&
	   strcmp(mbox_msg_uidl(m, 1), "1700000200.M2P1.host,S=22,W=22") == 0 &&
	   strcmp(mbox_msg_uidl(m, 2), "1700000300.M3P1.host") == 0,
	   "ordered by delivery time; UIDL is the unique part");
	ok(mbox_msg_size(m, 0) == strlen(msg1) + 4, "LF message: counted size %llu",
	   (unsigned long long)mbox_msg_size(m, 0));
	ok(mbox_msg_size(m, 1) == 22, "W= hint used");
	ok(mbox_msg_size(m, 2) == strlen(msg3) + 2 + 2, "no final newline: CRLF added and counted");
	ok(mbox_live_size(m) == mbox_msg_size(m, 0) + mbox_msg_size(m, 1) + mbox_msg_size(m, 2),
	   "live size is the sum");
	ok(strcmp(retr(m, 0, -1, &st), "Subject: one\r\n\r\n..dot\r\nbody\r\n") == 0 && st == MBOX_OK,
	   "RETR: CRLF and dot-stuffing");
	ok(strcmp(retr(m, 1, -1, &st), msg2) == 0 && st == MBOX_OK, "RETR: CRLF stored, sent as is");
	ok(strcmp(retr(m, 0, 0, &st), "Subject: one\r\n\r\n") == 0 && st == MBOX_OK, "TOP 0");
	ok(strcmp(retr(m, 2, -1, &st), "Subject: three\r\n\r\nno final newline\r\n") == 0 &&
	   st == MBOX_OK, "RETR: final CRLF supplied");

	/* A MUA sets a flag: the file is renamed; RETR still finds it. */
	snprintf(p, sizeof(p), "%s/cur/1700000100.M1P1.host:2,S", md_root);
	snprintf(q, sizeof(q), "%s/cur/1700000100.M1P1.host:2,RS", md_root);
	ok(rename(p, q) == 0, "flag change by another program");
	ok(strcmp(retr(m, 0, -1, &st), "Subject: one\r\n\r\n..dot\r\nbody\r\n") == 0 && st == MBOX_OK,
	   "RETR after a flag change finds the renamed file");
	/* Another client took message 3. */
	snprintf(p, sizeof(p), "%s/new/1700000300.M3P1.host", md_root);
	ok(unlink(p) == 0, "another client deletes message 3");
	retr(m, 2, -1, &st);
	ok(st == MBOX_ERR_GONE, "RETR of a removed message: MBOX_ERR_GONE");
	ok(mbox_check(m) == MBOX_OK, "the session goes on");

	/* DELE 1 and 3 (3 is already gone), new mail arrives, UPDATE. */
	mbox_msg_delete(m, 0);
	mbox_msg_delete(m, 2);
	put("new", "1700000400.M4P1.host", "Subject: four\n\n");
	/* and message 2 is moved to cur/ by a MUA meanwhile */
	snprintf(p, sizeof(p), "%s/new/1700000200.M2P1.host,S=22,W=22", md_root);
	snprintf(q, sizeof(q), "%s/cur/1700000200.M2P1.host,S=22,W=22:2,", md_root);
	ok(rename(p, q) == 0, "a MUA moves message 2 to cur/");
	ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "UPDATE: %s", why);
	mbox_close(m);
	ok(!exists("cur", "1700000100.M1P1.host:2,RS"), "deleted message unlinked (renamed name)");
	ok(exists("cur", "1700000200.M2P1.host,S=22,W=22:2,"), "kept message kept");
	ok(exists("new", "1700000400.M4P1.host"), "mail that arrived during the session untouched");
	ok(exists("tmp", "1700000050.M0P1.host"), "tmp/ untouched");

	/* UIDL stable across the new/ -> cur/ move. */
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_OK && mbox_count(m) == 2, "reopen: two messages");
	if (st == MBOX_OK) {
		snprintf(u1, sizeof(u1), "%s", mbox_msg_uidl(m, 0));
		ok(strcmp(u1, "1700000200.M2P1.host,S=22,W=22") == 0, "UIDL unchanged by the move");
		/* DELE of a message someone else already removed is no error. */
		mbox_msg_delete(m, 1);
		snprintf(p, sizeof(p), "%s/new/1700000400.M4P1.host", md_root);
		ok(unlink(p) == 0, "another client removes message 2 first");
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "UPDATE with a vanished message: ok");
		mbox_close(m);
	}
}

static void test_hint_wrong(void)
{
	struct mbox_opts o = md_opts();
	struct mbox *m;
	enum mbox_status st;
	char why[256];

	mkmaildir("md2");
	/* W= plausible but wrong (a hand-edited file): LIST says 20, RETR tells the truth. */
	put("new", "1700000000.A.host,W=20", "Subject: x\n\nhello\n");
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_OK && mbox_msg_size(m, 0) == 20, "wrong hint listed as is");
	if (st != MBOX_OK)
		return;
	ok(mbox_msg_open(m, 0) == MBOX_OK && mbox_msg_size(m, 0) == 21 &&
	   mbox_live_size(m) == 21, "counted before +OK: the exact size");
	ok(strcmp(retr(m, 0, -1, &st), "Subject: x\r\n\r\nhello\r\n") == 0 && st == MBOX_OK,
	   "and sent consistently");
	mbox_close(m);
}

static void test_safety(void)
{
	struct mbox_opts o = md_opts();
	struct mbox *m;
	enum mbox_status st;
	char why[256], p[1100], q[512];

	st = mbox_open(&m, tm_path("no-such-maildir"), &o, why, sizeof(why));
	ok(st == MBOX_OK && mbox_count(m) == 0, "missing Maildir: empty maildrop");
	mbox_close(m);

	mkmaildir("md3");
	put("cur", "1700000000.ok.host", "Subject: ok\n\n");
	snprintf(p, sizeof(p), "%s/cur/1700000001.link.host", md_root);
	ok(symlink("/etc/passwd", p) == 0, "symlink planted");
	snprintf(p, sizeof(p), "%s/new/1700000002.fifo.host", md_root);
	ok(mkfifo(p, 0600) == 0, "FIFO planted");
	snprintf(p, sizeof(p), "%s/new/1700000003.dir.host", md_root);
	ok(mkdir(p, 0700) == 0, "directory planted");
	if (geteuid() == 0) {
		put("new", "1700000004.foreign.host", "Subject: not yours\n\n");
		snprintf(p, sizeof(p), "%s/new/1700000004.foreign.host", md_root);
		ok(chown(p, 12345, 12345) == 0, "foreign-owned file planted");
	}
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_OK && mbox_count(m) == 1, "only the user's regular file is served (%s)", why);
	mbox_close(m);

	/* The Maildir itself a symlink (trailing '/' too): refused. */
	snprintf(q, sizeof(q), "%s", tm_path("md3-link"));
	ok(symlink(md_root, q) == 0, "symlink to a Maildir");
	st = mbox_open(&m, q, &o, why, sizeof(why));
	ok(st == MBOX_ERR_UNSAFE, "Maildir is a symlink: unsafe");
	snprintf(p, sizeof(p), "%s//", q);
	st = mbox_open(&m, p, &o, why, sizeof(why));
	ok(st == MBOX_ERR_UNSAFE, "...also with trailing slashes");
	snprintf(p, sizeof(p), "%s/cur", md_root);
	ok(chmod(p, 0777) == 0, "cur/ writable by others");
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_ERR_UNSAFE, "world-writable cur/: unsafe (%s)", why);
	ok(chmod(p, 0700) == 0, "cur/ back to 0700");
	o.owner = getuid() + 1;
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_ERR_UNSAFE, "Maildir owned by someone else: unsafe");

	/* Limits. */
	o = md_opts();
	put("new", "1700000010.a.host", "Subject: a\n\n0123456789\n");
	o.max_messages = 1;
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_ERR_LIMIT, "--max-messages: %s", why);
	o.max_messages = 0;
	o.max_size = 20;
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_ERR_LIMIT, "--max-mailbox-size: %s", why);
	o.max_size = 0;
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_OK && mbox_count(m) == 2, "no limits: two messages");
	mbox_close(m);

	/* Only new/ present (no cur/ yet): fine. */
	snprintf(md_root, sizeof(md_root), "%s", tm_path("md4"));
	ok(mkdir(md_root, 0700) == 0, "Maildir with new/ only");
	snprintf(p, sizeof(p), "%s/new", md_root);
	ok(mkdir(p, 0700) == 0, "new/ created");
	put("new", "1700000000.x.host", "Subject: x\n\n");
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_OK && mbox_count(m) == 1, "served without cur/");
	mbox_close(m);
}

static void test_dups(void)
{
	struct mbox_opts o = md_opts();
	struct mbox *m;
	enum mbox_status st;
	char why[256];

	mkmaildir("md5");
	/* The same unique part in both directories (a move seen half-way). */
	put("cur", "1700000000.same.host:2,S", "Subject: a\n\n");
	put("new", "1700000000.same.host", "Subject: a\n\n");
	/* Names without a time: sorted by mtime, still deduplicated. */
	put("cur", "notime:2,", "Subject: b\n\n");
	put("new", "notime", "Subject: b\n\n");
	st = mbox_open(&m, md_root, &o, why, sizeof(why));
	ok(st == MBOX_OK && mbox_count(m) == 2, "one message per unique part (%u)",
	   st == MBOX_OK ? mbox_count(m) : 0);
	if (st == MBOX_OK) {
		char u0[MAILDIR_UIDL_SIZE];

		snprintf(u0, sizeof(u0), "%s", mbox_msg_uidl(m, 0));
		ok(strcmp(u0, mbox_msg_uidl(m, 1)) != 0, "UIDLs unique");
	}
	mbox_close(m);
}

int main(void)
{
	tm_setup();
	test_names();
	test_uidl();
	test_hints();
	test_store();
	test_hint_wrong();
	test_safety();
	test_dups();
	tm_cleanup();
	return tap_done();
}
