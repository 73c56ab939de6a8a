/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the UPDATE tests share: a mailbox of NMSG messages of varied
 * sizes with their offsets, deletion patterns, the file an
 * uninterrupted UPDATE leaves, and a probe for user attributes.
 */
#ifndef POPA3D_TEST_MBOX_BOX_H
#define POPA3D_TEST_MBOX_BOX_H

#include <sys/xattr.h>
#include <time.h>

#include "journal.h"
#include "test-mbox-util.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

__attribute__((unused))
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

#define NMSG 120

struct box {
	char *data;
	size_t len;
	size_t off[NMSG + 1];	/* raw start of each message; off[NMSG] = len */
};

__attribute__((unused))
static void build_box(struct box *b)
{
	size_t cap = 4 << 20, i;

	b->data = malloc(cap);
	b->len = 0;
	if (!b->data)
		exit(99);
	for (i = 0; i < NMSG; i++) {
		unsigned lines = 1 + rnd(i % 7 == 0 ? 400 : 20), k;

		b->off[i] = b->len;
		b->len += (size_t)snprintf(b->data + b->len, cap - b->len,
					   "From m%zu Mon Jan  1 00:00:00 2024\n"
					   "Message-ID: <%zu@test>\nSubject: message %zu\n\n",
					   i, i, i);
		for (k = 0; k < lines; k++)
			b->len += (size_t)snprintf(b->data + b->len, cap - b->len,
						   "message %zu line %u: the quick brown fox\n",
						   i, k);
		b->data[b->len++] = '\n';
	}
	b->off[NMSG] = b->len;
}

/*
 * An mtime in the current second makes UPDATE wait for the next one
 * (update.c); an old mtime keeps the rewrite itself the part we kill.
 */
__attribute__((unused))
static void backdate(const char *p)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 60;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, p, ts, 0) < 0)
		exit(99);
}

__attribute__((unused))
static int has_record(const char *p)
{
	return getxattr(p, UR_XATTR, NULL, 0) >= 0;
}

/* The file an uninterrupted UPDATE leaves, plus the mail appended since. */
__attribute__((unused))
static char *expected(const struct box *b, const int *del, const char *extra,
		      size_t extralen, size_t *explen)
{
	char *exp = malloc(b->len + extralen + 1);
	size_t i, n = 0;

	if (!exp)
		exit(99);
	for (i = 0; i < NMSG; i++)
		if (!del[i]) {
			memcpy(exp + n, b->data + b->off[i], b->off[i + 1] - b->off[i]);
			n += b->off[i + 1] - b->off[i];
		}
	memcpy(exp + n, extra, extralen);
	*explen = n + extralen;
	return exp;
}

/* Deletion patterns the sweeps must survive: small and large gaps,
 * many runs, only a cut. */
__attribute__((unused))
static void pattern(const struct box *b, int kind, int *del)
{
	size_t i, small = 0;

	for (i = 0; i < NMSG; i++) {
		del[i] = 0;
		if (b->off[i + 1] - b->off[i] < b->off[small + 1] - b->off[small] &&
		    i < NMSG / 4)
			small = i;
	}
	switch (kind) {
	case 0:		/* the smallest early message: a tiny gap, long overlaps */
		del[small] = 1;
		break;
	case 1:		/* every 10th */
		for (i = 0; i < NMSG; i += 10)
			del[i] = 1;
		break;
	case 2:		/* a random third, and one early */
		for (i = 0; i < NMSG; i++)
			del[i] = rnd(3) == 0;
		del[rnd(NMSG / 4)] = 1;
		break;
	case 3:		/* the last: only a cut */
		del[NMSG - 1] = 1;
		break;
	case 4:		/* all but a few at the end */
		for (i = 0; i < NMSG - 3; i++)
			del[i] = 1;
		break;
	default:	/* the first: the default UPDATE of a POP3 client */
		del[0] = 1;
		break;
	}
}
#define NPATTERN 6

/* The journal needs user attributes where the tests run (tmpfs has
 * them only from Linux 6.6 on). */
__attribute__((unused))
static int xattrs_work(void)
{
	const char *p = tm_path("probe");
	int r;

	tm_write(p, "x", 1);
	r = setxattr(p, "user.popa3d.probe", "1", 1, 0);
	unlink(p);
	return r == 0;
}
#endif
