/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UIDL compatibility with popa3d 1.0.3, so that clients which kept mail
 * on the server do not download it all again when a site switches.
 *
 * Part 1 always runs: ids that Debian's popa3d 1.0.3-1.1 binary printed
 * for a small fixed mailbox (measured once, by hand, with the procedure
 * of part 2).
 * Part 2 runs when the reference binary is present and we are root: it
 * creates a throwaway user, writes generated mailboxes to
 * /var/mail/<user>, asks the real popa3d for UIDL and LIST in inetd mode,
 * and compares with ours.  Get the binary with
 *   cd /tmp && apt-get download popa3d && dpkg -x popa3d_*.deb /tmp/popa3d-deb
 * or point POPA3D_REF at one.
 */
#include "config.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tap.h"
#include "test-mbox-util.h"


static const char fixed_box[] =
	"From a@example.org Mon Jan  1 00:00:00 2024\n"
	"Received: from mx.example.org by host; Mon, 1 Jan 2024 00:00:00 +0000\n"
	"Subject: one\n"
	"\n"
	"body\n"
	".dot\n"
	"\n"
	"From b@example.org Mon Jan  1 00:00:00 2024\n"
	"Date: Mon, 1 Jan 2024 00:00:01 +0000\n"
	"Message-ID: <x@y>\n"
	"Received: from a by b; Mon, 1 Jan 2024 00:00:02 +0000\n"
	"\tcontinuation\n"
	"Received: second\n"
	"Delivered-To: u@example.org\n"
	"X-Delivery-ID: abc\n"
	"x-delivery-id: lower\n"
	"\n"
	"b2\n"
	"\n"
	"From c Mon Jan  1 00:00:00 2024\n"
	"Subject: nothing fixed\n"
	"\n";

/* Measured: Debian popa3d 1.0.3-1.1, UIDL on fixed_box. */
static const char *fixed_ids[] = {
	"960f76b6dc4ec81d", "fc2c36ac44a09e8b", "d98c1dd404b2008f"
};

static void test_fixed(void)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	uint32_t i;

	tm_write(tm_path("fixed"), S(fixed_box));
	ok(mbox_open(&m, tm_path("fixed"), &o, why, sizeof(why)) == MBOX_OK && m &&
	   mbox_count(m) == 3, "fixed mailbox: 3 messages");
	if (!m)
		return;
	for (i = 0; i < 3; i++)
		ok(strcmp(mbox_msg_uidl(m, i), fixed_ids[i]) == 0,
		   "fixed mailbox: id %u is popa3d's %s (ours %s)", i + 1,
		   fixed_ids[i], mbox_msg_uidl(m, i));
	/* Sizes agree where popa3d and RFC 1939 agree (a body present). */
	ok(mbox_msg_size(m, 0) == 99 && mbox_msg_size(m, 1) == 222,
	   "fixed mailbox: LIST sizes 99 222 as popa3d");
	mbox_close(m);
}

static unsigned long long rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

struct gen {
	char *p;
	size_t len, cap;
};

static void put(struct gen *g, const char *s, size_t n)
{
	if (g->len + n + 1 > g->cap) {
		g->cap = (g->len + n + 1) * 2;
		g->p = realloc(g->p, g->cap);
		if (!g->p)
			exit(99);
	}
	memcpy(g->p + g->len, s, n);
	g->len += n;
}

/* Templates hold one "%u"; expanded by hand to keep formats literal. */
static void putf(struct gen *g, const char *tmpl, unsigned a)
{
	const char *u = strstr(tmpl, "%u");
	char b[16];
	int n = snprintf(b, sizeof(b), "%u", a);

	put(g, tmpl, (size_t)(u - tmpl));
	put(g, b, (size_t)n);
	put(g, u + 2, strlen(u + 2));
}

/* A mailbox of n messages mixing every header popa3d looks at. */
static void gen_box(struct gen *g, unsigned n, int dups)
{
	static const char *hdr[] = {
		"Received: from h%u by mx; Mon, 1 Jan 2024\n",
		"received: from lower%u\n",
		"RECEIVED: upper %u\n",
		"Received:%u no space\n",
		"Receivedx: not it %u\n",
		"Date: Tue, %u Jan 2024 00:00:00 +0000\n",
		"date: lower %u\n",
		"Message-ID: <%u@example.org>\n",
		"Message-Id: <%u@mixed.case>\n",
		"Delivered-To: user%u@example.org\n",
		"delivered-to: lower%u\n",
		"X-Delivery-ID: %u\n",
		"x-delivery-id: %u\n",
		"X-Delivery-Id: mixed %u\n",
		"Subject: s%u\n",
		"From: someone%u\n",
		"\tcontinuation %u\n",
		" folded %u\n",
	};
	unsigned i, k;
	struct gen first = { 0 };

	for (i = 0; i < n; i++) {
		size_t start = g->len;

		if (dups && i > 0 && rnd(4) == 0 && first.len) {
			put(g, first.p, first.len);
			continue;
		}
		putf(g, "From sender%u Mon Jan  1 00:00:00 2024\n", i);
		for (k = rnd(12); k > 0; k--)
			putf(g, hdr[rnd(sizeof(hdr) / sizeof(hdr[0]))], rnd(1000));
		if (rnd(5) == 0) {
			/* A header line longer than popa3d's line buffer. */
			unsigned j, len = 1000 + rnd(5000);

			put(g, "Received: long ", 15);
			for (j = 0; j < len; j++)
				put(g, "abcdefghij" + j % 10, 1);
			put(g, "\n", 1);
			put(g, "\tcont of long\n", 14);
		}
		/* A first body line: an empty body is a case where popa3d
		 * counts the separator and we do not (doc/mbox.md). */
		putf(g, "\nfirst body line %u\n", i);
		for (k = rnd(5); k > 0; k--) {
			switch (rnd(6)) {
			case 0: put(g, ".dot line\n", 10); break;
			case 1: put(g, "From inside, no blank before\n", 29); break;
			case 2: put(g, ">From quoted\n", 13); break;
			case 3: put(g, "Received: in the body\n", 22); break;
			default: putf(g, "text %u\n", rnd(100000)); break;
			}
		}
		put(g, "\n", 1);
		if (i == 0) {
			first.len = 0;
			put(&first, g->p + start, g->len - start);
		}
	}
	free(first.p);
}

/* useradd/userdel fail while another process holds /etc/passwd's lock. */
static int run(const char *cmd)
{
	int tries;

	for (tries = 0; tries < 10; tries++) {
		if (system(cmd) == 0)
			return 0;
		sleep(1);
	}
	return -1;
}

/* Ask popa3d for UIDL and LIST; ids[i]/sizes[i] for message i+1. */
static int ask_popa3d(const char *bin, const char *user, char ids[][40],
		      unsigned long long *sizes, unsigned max)
{
	char cmd[512], line[512];
	FILE *f;
	int state = 0;
	unsigned got = 0;

	snprintf(cmd, sizeof(cmd),
		 "printf 'USER %s\\r\\nPASS pw-%s\\r\\nUIDL\\r\\nLIST\\r\\nQUIT\\r\\n' | timeout 60 %s",
		 user, user, bin);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned k;
		char v[40];

		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, ".") == 0) {
			state++;
			continue;
		}
		if (sscanf(line, "%u %39s", &k, v) != 2 || k < 1 || k > max)
			continue;
		if (state == 0) {
			snprintf(ids[k - 1], 40, "%s", v);
			got++;
		} else {
			sizes[k - 1] = strtoull(v, NULL, 10);
		}
	}
	if (pclose(f) != 0)
		return -1;
	if (!got)
		printf("# popa3d listed nothing\n");
	return (int)got;
}

static void test_live(void)
{
	const char *bin = getenv("POPA3D_REF");
	char user[32], cmd[512], spool[128];
	struct passwd *pw;
	unsigned round;

	if (!bin)
		bin = "/tmp/popa3d-deb/usr/sbin/popa3d";
	if (access(bin, X_OK) < 0 || geteuid() != 0 ||
	    access("/var/mail", W_OK) < 0 || access("/usr/sbin/useradd", X_OK) < 0) {
		ok(1, "live comparison skipped: no %s, /var/mail or useradd, or not root", bin);
		return;
	}
	snprintf(user, sizeof(user), "mbxt%u", (unsigned)getpid() % 100000);
	if (!getpwnam("popa3d") &&
	    run("useradd -r -M -d /var/lib/popa3d -s /usr/sbin/nologin popa3d") < 0) {
		ok(0, "could not create popa3d's own user");
		return;
	}
	if (mkdir("/var/lib/popa3d", 0755) < 0 && errno != EEXIST) {
		ok(0, "mkdir /var/lib/popa3d");
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "useradd -M -s /bin/sh %s && echo '%s:pw-%s' | chpasswd", user, user, user);
	if (run(cmd) < 0 || !(pw = getpwnam(user))) {
		ok(0, "could not create throwaway user %s", user);
		return;
	}
	snprintf(spool, sizeof(spool), "/var/mail/%s", user);
	for (round = 0; round < 6; round++) {
		struct gen g = { 0 };
		unsigned n = 5 + rnd(40), i, same = 0, sizes_same = 0, bodies = 0;
		char (*ids)[40] = calloc(n, 40);
		unsigned long long *sizes = calloc(n, sizeof(*sizes));
		struct mbox_opts o = tm_opts();
		struct mbox *m = NULL;
		char why[256];
		enum mbox_status st;
		int got;

		if (!ids || !sizes)
			exit(99);
		gen_box(&g, n, round % 2);
		tm_write(spool, g.p, g.len);
		if (chown(spool, pw->pw_uid, pw->pw_gid) < 0)
			exit(99);
		got = ask_popa3d(bin, user, ids, sizes, n);
		ok(got == (int)n, "round %u: popa3d listed %d of %u", round, got, n);
		o.owner = pw->pw_uid;
		st = mbox_open(&m, spool, &o, why, sizeof(why));
		ok(st == MBOX_OK && m && mbox_count(m) == n,
		   "round %u: we find %u of %u (%s)", round,
		   m ? mbox_count(m) : 0, n, why);
		if (m && got == (int)n) {
			for (i = 0; i < n; i++) {
				const char *u = mbox_msg_uidl(m, i);

				/* Our later copies of a duplicate carry "-n". */
				if (strncmp(u, ids[i], 16) == 0 && strlen(ids[i]) == 16)
					same++;
				else
					printf("# msg %u: popa3d %s ours %s\n", i + 1, ids[i], u);
				bodies++;
				if (mbox_msg_size(m, i) == sizes[i])
					sizes_same++;
				else
					printf("# msg %u: popa3d size %llu ours %llu\n", i + 1,
					       sizes[i], (unsigned long long)mbox_msg_size(m, i));
			}
			ok(same == n, "round %u: all %u ids match popa3d's", round, n);
			ok(sizes_same == bodies, "round %u: LIST sizes match popa3d's (%u/%u)",
			   round, sizes_same, bodies);
		}
		mbox_close(m);
		free(ids);
		free(sizes);
		free(g.p);
	}
	unlink(spool);
	snprintf(cmd, sizeof(cmd), "userdel %s", user);
	ok(run(cmd) == 0, "throwaway user removed");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	tm_setup();
	test_fixed();
	test_live();
	tm_cleanup();
	return tap_done();
}
