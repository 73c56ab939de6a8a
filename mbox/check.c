/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * Has the mailbox changed since we scanned it?  Runs as the mail user.
 *
 * RFC 1939 gives the session a fixed maildrop; meanwhile MTAs append and
 * other programs (a MUA, a second POP session) may rewrite the file.  We
 * answer from the open descriptor (size, mtime and ctime in nanoseconds,
 * inode and device) and from the path (lstat: same inode still there, or
 * were we replaced by rename?).  Before each read of a message the
 * descriptor alone is asked (mbox_check_quick): renaming, linking or
 * unlinking our file changes its ctime, so the path is looked up again
 * only when the stamp moved; after the read, before the final ".", the
 * full check runs.  Exactly one change is harmless: growth,
 * i.e. mail appended after the end we scanned.  To tell growth from a
 * rewrite that happens to end up longer, we check
 *  - the appended bytes start with "From " right after a newline, so the
 *    old end is still a message boundary, and
 *  - a fingerprint of the old part still matches: a 128-bit hash over the
 *    first and the last 4 KiB before the old end and 16 blocks of 512
 *    bytes spread evenly in between (16 KiB of reads, whatever the file
 *    size).  The hash needs no collision resistance: only the mailbox's
 *    owner can rewrite the old part, and what it guards against is a
 *    program that did so by accident of timing.  It is a multiply-mix
 *    over 8-byte words rather than MD5 because every login pays for it
 *    (doc/performance.md).
 * The fingerprint is no proof (a rewrite that keeps every sampled byte
 * goes unseen), but rewriting tools (MUAs, our own UPDATE) move the data
 * after the first changed message, so they shift both the tail block and
 * the samples.  Anything else is MBOX_ERR_CHANGED, and the mailbox is
 * never written by this session again.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbox-int.h"
#include "sysio.h"

#define FP_EDGE 4096
#define FP_SAMPLES 16
#define FP_SAMPLE 512

void mbox_stamp_of(struct mbox_stamp *s, const struct stat *st)
{
	memset(s, 0, sizeof(*s));
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime_s = (long long)st->st_mtim.tv_sec;
	s->mtime_ns = (long long)st->st_mtim.tv_nsec;
	s->ctime_s = (long long)st->st_ctim.tv_sec;
	s->ctime_ns = (long long)st->st_ctim.tv_nsec;
}

/* Two independent lanes over 8-byte words (each step a bijection of
 * its lane for a fixed word), then a finalizer that spreads every bit. */
struct fp_hash {
	uint64_t a, b;
};

#define FP_K1 0x9e3779b97f4a7c15ULL
#define FP_K2 0xc2b2ae3d27d4eb4fULL

static void fp_word(struct fp_hash *h, uint64_t w)
{
	h->a = (h->a ^ w) * FP_K1;
	h->a ^= h->a >> 32;
	h->b = (h->b + w) * FP_K2;
	h->b = (h->b << 29) | (h->b >> 35);
}

static void fp_bytes(struct fp_hash *h, const unsigned char *p, size_t n)
{
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		fp_word(h, w);
	}
	if (i < n) {
		w = 0;
		memcpy(&w, p + i, n - i);
		fp_word(h, w);
	}
	/* the length too: a zero-padded tail is not a word of zeros */
	fp_word(h, (uint64_t)n);
}

static uint64_t fp_fmix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static int fp_add(struct mbox *m, struct fp_hash *h, uint64_t off, size_t n)
{
	unsigned char b[FP_EDGE];
	ssize_t r;
	size_t got = 0;

	while (got < n) {
		r = pread(m->fd, b + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ESPIPE;	/* shorter than we knew it */
			return -1;
		}
		got += (size_t)r;
	}
	fp_bytes(h, b, n);
	return 0;
}

int mbox_fingerprint(struct mbox *m, uint64_t size, unsigned char out[16])
{
	struct fp_hash h = { FP_K2, FP_K1 };
	uint64_t x, y;
	unsigned i;

	fp_word(&h, size);
	if (m->fd >= 0 && size > 0) {
		size_t edge = size < FP_EDGE ? (size_t)size : FP_EDGE;

		if (fp_add(m, &h, 0, edge) < 0 ||
		    fp_add(m, &h, size - edge, edge) < 0)
			return -1;
		for (i = 1; size > 2 * FP_EDGE + FP_SAMPLE && i <= FP_SAMPLES; i++) {
			uint64_t off = size / (FP_SAMPLES + 1) * i;

			if (off + FP_SAMPLE > size)
				break;
			if (fp_add(m, &h, off, FP_SAMPLE) < 0)
				return -1;
		}
	}
	x = fp_fmix(h.a ^ ((h.b << 17) | (h.b >> 47)));
	y = fp_fmix(h.b + h.a);
	memcpy(out, &x, 8);
	memcpy(out + 8, &y, 8);
	return 0;
}

static int stamp_same(const struct mbox_stamp *a, const struct mbox_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns &&
	    a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

/* The only change we accept: mail appended after the scanned end. */
static int check_growth(struct mbox *m, const struct stat *st)
{
	unsigned char fp[16], head[6];
	size_t want = 5, got = 0;
	ssize_t r;

	if ((uint64_t)st->st_size <= m->scanned || st->st_nlink != 1 ||
	    st->st_uid != m->opts.owner)
		return 0;
	/* The byte before the old end, then the start of the new mail. */
	if (m->scanned > 0) {
		want = 6;
		r = pread(m->fd, head, want, (off_t)(m->scanned - 1));
	} else {
		r = pread(m->fd, head + 1, want, 0);
		head[0] = '\n';
		if (r >= 0)
			r += 1;
		want = 6;
	}
	if (r < 2)
		return 0;
	got = (size_t)r;
	/* A delivery still being written may have given us fewer bytes. */
	if (head[0] != '\n' || memcmp(head + 1, "From ", got - 1) != 0)
		return 0;
	if (mbox_fingerprint(m, m->scanned, fp) < 0)
		return 0;
	return memcmp(fp, m->fingerprint, sizeof(fp)) == 0;
}

enum mbox_status mbox_check_why(struct mbox *m, char *why, size_t whysize)
{
	struct stat st, lst;
	struct mbox_stamp now;

	if (m->broken) {
		mbox_why(why, whysize, "changed by another program");
		return MBOX_ERR_CHANGED;
	}
	if (m->fd < 0)
		return MBOX_OK;		/* no file at open: new mail is ignored */
	if (fstat(m->fd, &st) < 0) {
		mbox_why(why, whysize, "fstat: %s", strerror(errno));
		return MBOX_ERR_SYS;
	}
	if (lstat(m->path, &lst) < 0 || lst.st_dev != st.st_dev ||
	    lst.st_ino != st.st_ino) {
		mbox_why(why, whysize, "replaced or removed by another program");
		m->broken = 1;
		return MBOX_ERR_CHANGED;
	}
	for (long long nap = 1;; nap *= 2) {
		mbox_stamp_of(&now, &st);
		/* Growth once verified stays verified while nothing else
		 * moves: without this every RETR after a delivery re-read
		 * the fingerprint. */
		if (stamp_same(&now, &m->stamp) || stamp_same(&now, &m->seen) ||
		    check_growth(m, &st)) {
			m->seen = now;
			return MBOX_OK;
		}
		/*
		 * write(2) stamps mtime and ctime before it extends the size,
		 * so an append caught in flight looks like a rewrite of the
		 * same length.  Look again for up to ~127 ms before calling
		 * it a change (seen under load in test-mbox-update's
		 * concurrent deliverer).
		 */
		if (nap > 64 || st.st_size != (m->seen.ino ? m->seen : m->stamp).size)
			break;
		io_sleep_ms(nap);
		if (fstat(m->fd, &st) < 0) {
			mbox_why(why, whysize, "fstat: %s", strerror(errno));
			return MBOX_ERR_SYS;
		}
	}
	mbox_why(why, whysize, "changed by another program");
	m->broken = 1;
	return MBOX_ERR_CHANGED;
}

enum mbox_status mbox_check_quick(struct mbox *m)
{
	struct stat st;
	struct mbox_stamp now;

	if (!m->broken && m->fd >= 0 && fstat(m->fd, &st) == 0 && st.st_nlink == 1) {
		mbox_stamp_of(&now, &st);
		/* A rename over us or an unlink moves our ctime too. */
		if (stamp_same(&now, &m->seen) || stamp_same(&now, &m->stamp))
			return MBOX_OK;
	}
	return mbox_check_why(m, NULL, 0);
}
