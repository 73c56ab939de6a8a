/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --uidl dovecot: the header and dovecot-uidlist parsers, and the ids an
 * mbox or a Maildir shows under that policy.  The mailbox, the list and
 * the ids in the "measured" cases are what Dovecot 2.3.19.1 (Debian 12)
 * wrote with its LDA and showed in UIDL (doc/migration.md); the e2e test
 * tests/e2e/test-migration.py checks the same against the live programs.
 */
#include "config.h"

#include <sys/xattr.h>

#include "dovecot.h"
#include "tap.h"
#include "test-mbox-util.h"

static void test_headers(void)
{
	uint32_t v = 0, l = 0, u = 0;

	ok(dovecot_parse_imapbase(" 1796218898 0000000004", 22, &v, &l) == 0 &&
	   v == 1796218898u && l == 4, "X-IMAPbase as Dovecot writes it");
	ok(dovecot_parse_imapbase(" 7 9 $Junk NonJunk", 18, &v, &l) == 0 &&
	   v == 7 && l == 9, "X-IMAPbase with keywords");
	ok(dovecot_parse_imapbase(" 0 9", 4, &v, &l) < 0, "UIDVALIDITY 0 refused");
	ok(dovecot_parse_imapbase(" 7", 2, &v, &l) < 0, "one number refused");
	ok(dovecot_parse_imapbase(" 4294967296 1", 13, &v, &l) < 0, "33 bits refused");
	ok(dovecot_parse_imapbase(" +7 1", 5, &v, &l) < 0, "a sign refused");
	ok(dovecot_parse_xuid(" 4                    ", 22, &u) == 0 && u == 4,
	   "X-UID with Dovecot's padding");
	ok(dovecot_parse_xuid(" 04", 3, &u) < 0, "X-UID with a leading zero refused");
	ok(dovecot_parse_xuid(" 0", 2, &u) < 0, "X-UID 0 refused");
	ok(dovecot_parse_xuid(" 4 5", 4, &u) < 0, "X-UID with junk refused");
	ok(dovecot_parse_xuid("", 0, &u) < 0, "empty X-UID refused");
	ok(dovecot_parse_xuid(" 4294967296", 11, &u) < 0, "33-bit X-UID refused");
}

static int line(struct dovecot_uidlist *l, const char *s, uint32_t *uid,
		char *name, size_t namesize)
{
	const char *n = NULL, *why = NULL;
	size_t nl = 0;
	int r = dovecot_uidlist_line(l, s, strlen(s), uid, &n, &nl, &why);

	if (r == 1)
		snprintf(name, namesize, "%.*s", (int)nl, n);
	return r;
}

static void test_lines(void)
{
	struct dovecot_uidlist l = { 0, 0, 0 };
	char name[300];
	uint32_t uid = 0;

	ok(line(&l, "3 V1796218898 N1 Gfa6d34041220106b2b29000083ecc375", &uid, name, sizeof(name)) == 0 &&
	   l.version == 3 && l.validity == 1796218898u, "v3 header");
	ok(line(&l, "1 :1796218898.M70539P10539.vm,S=61,W=66", &uid, name, sizeof(name)) == 1 &&
	   uid == 1 && strcmp(name, "1796218898.M70539P10539.vm,S=61,W=66") == 0, "v3 record");
	ok(line(&l, "5 W66 Gabc :b.c.d", &uid, name, sizeof(name)) == 1 && uid == 5 &&
	   strcmp(name, "b.c.d") == 0, "v3 record with extension fields");
	ok(line(&l, "5 :x", &uid, name, sizeof(name)) < 0, "a UID again: damaged");
	l.prev = 5;
	ok(line(&l, "6 W66", &uid, name, sizeof(name)) < 0, "no name: damaged");
	l.prev = 5;
	ok(line(&l, "7 :../x", &uid, name, sizeof(name)) < 0 &&
	   line(&l, "8 :a/b", &uid, name, sizeof(name)) < 0, "'.' or '/' names: damaged");
	l.prev = 5;
	ok(line(&l, "0 :x", &uid, name, sizeof(name)) < 0 &&
	   line(&l, "x :x", &uid, name, sizeof(name)) < 0, "bad UIDs: damaged");

	memset(&l, 0, sizeof(l));
	ok(line(&l, "1 1234 9", &uid, name, sizeof(name)) == 0 && l.version == 1 &&
	   l.validity == 1234, "v1 header");
	ok(line(&l, "2 100.P1.host", &uid, name, sizeof(name)) == 1 && uid == 2 &&
	   strcmp(name, "100.P1.host") == 0, "v1 record");
	memset(&l, 0, sizeof(l));
	ok(line(&l, "2 V1 N1", &uid, name, sizeof(name)) < 0, "version 2: not ours");
	memset(&l, 0, sizeof(l));
	ok(line(&l, "3 N1", &uid, name, sizeof(name)) < 0, "no UIDVALIDITY: damaged");
}

/* What Dovecot's LDA wrote for three messages, and exim a fourth. */
#define DC_HDR(n) "From: s" #n "@example.org\nTo: alice@example.org\nSubject: m" #n \
	"\nMessage-ID: <" #n "@x>\n"
#define DC_TAIL(n) "Status: \nX-Keywords:          \nContent-Length: 7\n\nbody " #n "\n\n"
static const char dc_box[] =
	"From s@example.org  Wed Dec 02 13:41:38 2026\n" DC_HDR(1)
	"X-IMAPbase: 1796218898 0000000004\nX-UID: 1\n" DC_TAIL(1)
	"From s@example.org  Wed Dec 02 13:41:38 2026\n" DC_HDR(2)
	"X-UID: 2\n" DC_TAIL(2)
	"From s@example.org  Wed Dec 02 13:41:38 2026\n" DC_HDR(3)
	"X-UID: 3\n" DC_TAIL(3);
static const char exim_msg[] =
	"From x@y  Wed Dec  2 13:50:00 2026\nFrom: exim@example.org\n"
	"Received: from a by b; Wed, 2 Dec 2026 13:50:00 +0000\n\nbody exim\n\n";

static void app(const char *path, const char *text)
{
	tm_append(path, text, strlen(text));
}

static struct mbox *open_box(const char *path, int uidl, int format)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[128];

	o.uidl = uidl;
	o.format = format;
	if (mbox_open(&m, path, &o, why, sizeof(why)) != MBOX_OK) {
		printf("# open %s: %s\n", path, why);
		return NULL;
	}
	return m;
}

/* Every id of m, space-separated, into out; 0 if all are distinct. */
static int ids(struct mbox *m, char *out, size_t size)
{
	uint32_t i, j;
	size_t n = 0;
	int dup = 0;

	out[0] = '\0';
	for (i = 0; i < mbox_count(m); i++) {
		char a[72];

		snprintf(a, sizeof(a), "%s", mbox_msg_uidl(m, i));
		for (j = 0; j < i; j++)
			if (strcmp(a, mbox_msg_uidl(m, j)) == 0)
				dup = 1;
		n += (size_t)snprintf(out + n, size - n, "%s%s", i ? " " : "", a);
		if (n >= size)
			exit(99);
	}
	return dup;
}

static void test_mbox(void)
{
	const char *p = tm_path("dc-mbox");
	char got[1024], plain[1024], one[80], box[4096];
	struct mbox *m;

	tm_write(p, dc_box, sizeof(dc_box) - 1);
	tm_append(p, exim_msg, sizeof(exim_msg) - 1);
	m = open_box(p, MBOX_UIDL_POPA3D, MBOX_FORMAT_MBOX);
	ok(m && ids(m, plain, sizeof(plain)) == 0, "popa3d policy: unique ids");
	if (m)
		snprintf(one, sizeof(one), "%s", mbox_msg_uidl(m, 3));
	mbox_close(m);
	m = open_box(p, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MBOX);
	ok(m && ids(m, got, sizeof(got)) == 0, "dovecot policy: unique ids");
	snprintf(box, sizeof(box), "000000016b102012 000000026b102012 000000036b102012 %s", one);
	ok(strcmp(got, box) == 0, "Dovecot's measured ids, ours for the message "
	   "delivered after the move (%s)", got);
	ok(strcmp(plain, got) != 0 && strstr(plain, one), "the default policy is unchanged");
	mbox_close(m);

	/* A forged X-UID is believed only above the last and within X-IMAPbase. */
	tm_write(p, dc_box, sizeof(dc_box) - 1);
	app(p, "From a  Wed Dec  2 13:50:00 2026\nX-UID: 3\n\nforged again\n\n");
	app(p, "From a  Wed Dec  2 13:50:00 2026\nX-UID: 9\n\nforged above\n\n");
	app(p, "From a  Wed Dec  2 13:50:00 2026\nX-UID: 4\nX-UID: 4\n\ntwice\n\n");
	app(p, "From a  Wed Dec  2 13:50:00 2026\nX-UID: 4\n 5\n\nfolded\n\n");
	app(p, "From a  Wed Dec  2 13:50:00 2026\nX-UID: 4\n\nthe last one\n\n");
	m = open_box(p, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MBOX);
	ok(m && ids(m, got, sizeof(got)) == 0 && mbox_count(m) == 8, "forgeries: unique ids");
	ok(m && strlen(mbox_msg_uidl(m, 3)) == 16 && strcmp(mbox_msg_uidl(m, 3), "000000036b102012") != 0 &&
	   strcmp(mbox_msg_uidl(m, 4), "000000096b102012") != 0 &&
	   strcmp(mbox_msg_uidl(m, 5), "000000046b102012") != 0 &&
	   strcmp(mbox_msg_uidl(m, 6), "000000046b102012") != 0,
	   "a repeated, too high, doubled or folded X-UID is not believed (%s)", got);
	ok(m && strcmp(mbox_msg_uidl(m, 7), "000000046b102012") == 0,
	   "the next good X-UID within X-IMAPbase is");
	mbox_close(m);

	/* X-IMAPbase elsewhere than in message 1, or twice: no Dovecot ids. */
	tm_write(p, exim_msg, sizeof(exim_msg) - 1);
	tm_append(p, dc_box, sizeof(dc_box) - 1);
	(void)removexattr(p, "user.popa3d.imapbase");
	m = open_box(p, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MBOX);
	ok(m && ids(m, got, sizeof(got)) == 0 && !strstr(got, "6b102012"),
	   "X-IMAPbase only counts in the first message (%s)", got);
	mbox_close(m);
	snprintf(box, sizeof(box), "%.*sX-IMAPbase: 1796218898 4\n%s",
		 (int)(strstr(dc_box, "X-UID: 1\n") - dc_box), dc_box,
		 strstr(dc_box, "X-UID: 1\n"));
	tm_write(p, box, strlen(box));
	m = open_box(p, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MBOX);
	ok(m && ids(m, got, sizeof(got)) == 0 && !strstr(got, "6b102012"),
	   "X-IMAPbase twice: no Dovecot ids (%s)", got);
	mbox_close(m);
}

/* A popa3d id whose second half equals the UIDVALIDITY gets "-1". */
static void test_mbox_clash(void)
{
	const char *p = tm_path("dc-clash");
	static const char target[] = "From a  Wed Dec  2 13:50:00 2026\nMessage-ID: <t@x>\n\nt\n\n";
	char id[80], box[1024], want[256], got[1024];
	struct mbox *m;

	tm_write(p, target, sizeof(target) - 1);
	m = open_box(p, MBOX_UIDL_POPA3D, MBOX_FORMAT_MBOX);
	snprintf(id, sizeof(id), "%s", m ? mbox_msg_uidl(m, 0) : "");
	mbox_close(m);
	snprintf(box, sizeof(box), "From a  Wed Dec  2 13:50:00 2026\nX-IMAPbase: %lu 2\n"
		 "X-UID: 1\n\nfirst\n\n%s%s", strtoul(id + 8, NULL, 16), target, target);
	tm_write(p, box, strlen(box));
	m = open_box(p, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MBOX);
	snprintf(want, sizeof(want), "%.8s%s %s-1 %s-2", "00000001", id + 8, id, id);
	ok(m && ids(m, got, sizeof(got)) == 0 && strcmp(got, want) == 0,
	   "a look-alike popa3d id is shown with -1 (%s)", got);
	mbox_close(m);
}

/* Deleting message 1 through us must not take every id with it. */
static void test_mbox_memo(void)
{
	const char *p = tm_path("dc-memo");
	char got[1024], *text;
	struct mbox *m;
	size_t len;

	tm_write(p, dc_box, sizeof(dc_box) - 1);
	m = open_box(p, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MBOX);
	mbox_msg_delete(m, 0);
	ok(m && mbox_update(m, got, sizeof(got)) == MBOX_OK, "UPDATE deletes message 1 (%s)",
	   m ? got : "");
	mbox_close(m);
	if (getxattr(p, "user.popa3d.imapbase", got, sizeof(got)) < 0 && errno == ENOTSUP) {
		tap_ok(1, __FILE__, __LINE__, "# SKIP no user xattrs on %s", tm_dir);
		return;
	}
	text = tm_read(p, &len);
	ok(text && !memmem(text, len, "X-IMAPbase", 10), "the file has no X-IMAPbase any more");
	free(text);
	m = open_box(p, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MBOX);
	ok(m && ids(m, got, sizeof(got)) == 0 &&
	   strcmp(got, "000000026b102012 000000036b102012") == 0,
	   "the others keep Dovecot's ids (%s)", got);
	mbox_close(m);
}

static char md_root[256];

static void md_put(const char *sub, const char *name, const char *data)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s/%s", md_root, sub, name);
	tm_write(p, data, strlen(data));
}

static void md_make(const char *name)
{
	static const char *const sub[] = { "", "/cur", "/new", "/tmp" };
	char p[512];
	int i;

	snprintf(md_root, sizeof(md_root), "%s", tm_path(name));
	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", md_root, sub[i]);
		if (mkdir(p, 0700) < 0)
			exit(99);
	}
	md_put("cur", "1796218898.M70539P10539.vm,S=61,W=66:2,", "Subject: 1\n\nb\n");
	md_put("cur", "1796218898.M92894P10543.vm,S=61,W=66:2,S", "Subject: 2\n\nb\n");
	md_put("new", "1796218898.M110506P10547.vm,S=61,W=66", "Subject: 3\n\nb\n");
	md_put("new", "1796219999.M1P1.vm", "Subject: after the move\n\nb\n");
	md_put("new", "000000046b102012", "Subject: a look-alike name\n\nb\n");
}

static const char dc_list[] =
	"3 V1796218898 N1 Gfa6d34041220106b2b29000083ecc375\n"
	"1 :1796218898.M70539P10539.vm,S=61,W=66\n"
	"2 :1796218898.M92894P10543.vm,S=61,W=66\n"
	"3 :1796218898.M110506P10547.vm,S=61,W=66\n";

static void md_list(const char *text)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/dovecot-uidlist", md_root);
	tm_write(p, text, strlen(text));
}

static void test_maildir(void)
{
	static const char *const damaged[] = {
		"3 V1796218898\n2 :1796218898.M70539P10539.vm,S=61,W=66\n1 :x\n",
		"3 V1796218898\n1 :1796218898.M70539P10539.vm,S=61,W=66\n"
		"2 :1796218898.M70539P10539.vm,S=61,W=66:2,S\n",
		"3 V0\n1 :1796218898.M70539P10539.vm,S=61,W=66\n",
		"2 V1796218898\n1 :1796218898.M70539P10539.vm,S=61,W=66\n",
		"3 V1796218898\n1 W12\n",
		"3 V1796218898\n1 :1796218898.M70539P10539.vm,S=61,W=66\n\n",
		"1 :1796218898.M70539P10539.vm,S=61,W=66\n",
	};
	char got[2048], plain[2048], p[512], q[512];
	struct mbox *m;
	size_t i;

	md_make("dc-md");
	m = open_box(md_root, MBOX_UIDL_POPA3D, MBOX_FORMAT_MAILDIR);
	ok(m && ids(m, plain, sizeof(plain)) == 0 && strstr(plain, "000000046b102012"),
	   "no list, popa3d policy: our ids (%s)", plain);
	mbox_close(m);
	m = open_box(md_root, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MAILDIR);
	ok(m && ids(m, got, sizeof(got)) == 0 && !strstr(got, "6b102012 ") &&
	   strstr(got, "1796219999.M1P1.vm"), "no list, dovecot policy: ours, look-alike hashed (%s)", got);
	mbox_close(m);

	md_list(dc_list);
	m = open_box(md_root, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MAILDIR);
	ok(m && ids(m, got, sizeof(got)) == 0, "with the list: unique ids (%s)", got);
	ok(strstr(got, "000000016b102012") && strstr(got, "000000026b102012") &&
	   strstr(got, "000000036b102012") && strstr(got, "1796219999.M1P1.vm") &&
	   strstr(got, " ~"),
	   "Dovecot's measured ids, ours for the new file, the look-alike hashed");
	mbox_close(m);
	m = open_box(md_root, MBOX_UIDL_POPA3D, MBOX_FORMAT_MAILDIR);
	ok(m && ids(m, got, sizeof(got)) == 0 && strcmp(got, plain) == 0,
	   "the popa3d policy ignores the list");
	mbox_close(m);

	/* Cut short while appended: the complete lines count. */
	snprintf(got, sizeof(got), "%s4 :1796219999.M1P1.v", dc_list);
	md_list(got);
	m = open_box(md_root, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MAILDIR);
	ok(m && ids(m, got, sizeof(got)) == 0 && strstr(got, "000000036b102012") &&
	   strstr(got, "1796219999.M1P1.vm"),
	   "a last line without its newline is not read (%s)", got);
	mbox_close(m);

	for (i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		md_list(damaged[i]);
		m = open_box(md_root, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MAILDIR);
		ok(m && ids(m, got, sizeof(got)) == 0 && !strstr(got, "6b102012") &&
		   mbox_count(m) == 5, "damaged list %zu: ignored, our ids", i);
		mbox_close(m);
	}

	/* A list that is a symlink (to a good list) is not read. */
	snprintf(p, sizeof(p), "%s/dovecot-uidlist", md_root);
	snprintf(q, sizeof(q), "%s/good-list", md_root);
	tm_write(q, dc_list, strlen(dc_list));
	(void)unlink(p);
	if (symlink(q, p) < 0)
		exit(99);
	m = open_box(md_root, MBOX_UIDL_DOVECOT, MBOX_FORMAT_MAILDIR);
	ok(m && ids(m, got, sizeof(got)) == 0 && !strstr(got, "6b102012"),
	   "a symlinked list is not followed");
	mbox_close(m);
}

int main(void)
{
	tm_setup();
	test_headers();
	test_lines();
	test_mbox();
	test_mbox_clash();
	test_mbox_memo();
	test_maildir();
	tm_cleanup();
	return tap_done();
}
