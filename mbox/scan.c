/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * The mbox scanner: one pass over the file that finds the messages, their
 * sizes as transmitted and their popa3d-compatible UIDL digests.  Runs as
 * the mail user, on bytes anyone who can send mail controls: it must never
 * trust a length, never hold a whole line or message, never allocate per
 * byte of input (only per message found, bounded by --max-messages).
 *
 * The From_ rule (mboxo/mboxrd as exim, postfix local and procmail write
 * them on Debian):
 *  - a message starts at a line beginning with the five bytes "From " that
 *    is at the very start of the file or follows an empty line ("\n" or
 *    "\r\n");
 *  - the first line of the file must be such a line, otherwise the file is
 *    not an mbox (MBOX_ERR_DAMAGED): guessing would hand the user's mail
 *    out under the wrong boundaries;
 *  - the line right after a From_ line is always a header line, even if it
 *    begins with "From " (it does not follow an empty line);
 *  - ">From " lines are content and are sent as stored: we do not unquote
 *    (mboxo and mboxrd cannot be told apart, and unquoting is lossy);
 *  - the empty line before the next From_ line, and a final empty line at
 *    the end of the file, are separators, not content;
 *  - the headers end at the first empty line ("\n" or "\r\n").
 *
 * Sizes follow RFC 1939 section 11: the octets as transmitted, every line
 * ending in CRLF, before dot-stuffing.  A line ending in "\r\n" is sent as
 * is; one ending in a bare "\n" gains one octet; a last line without any
 * newline gains "\r\n" (or "\n" if it ends in "\r"), so that what we
 * announce in LIST is exactly what RETR sends.
 *
 * The UIDL digest is popa3d 1.0.3's: MD5 over the header lines it deems
 * fixed, each with its line end and continuation lines, in file order:
 *  - the first "Received:" line (case-insensitive name);
 *  - "Date:" and "Message-ID:" lines only while no Received: was seen;
 *  - every "Delivered-To:" line, and every "X-Delivery-ID:" line whose
 *    first letter is an upper-case X (popa3d's switch has no 'x' case).
 *
 * Speed: the file is read through one window with pread() (not mmap: a
 * concurrent truncation must give us a short read, not SIGBUS; and
 * mapping a cached file costs as much as copying it).  Headers go line by
 * line (memchr, a few comparisons at each line start); bodies, nearly all
 * of the bytes, go 64 at a time through scan_body's bit masks, which
 * beats a memchr per line (doc/performance.md, bench/scan-bench).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dovecot.h"
#include "mbox-int.h"
#include "simd.h"

/* 32 bytes a message: with the duplicate table's 8, a mailbox of empty
 * messages stays well under 64 bytes of memory a message. */
_Static_assert(sizeof(struct mbox_msg) == 32, "mbox_msg is not 32 bytes");

/* At a line start we look at up to this many bytes (X-Delivery-ID: + 2). */
#define SCAN_PEEK 16

struct scan {
	struct mbox *m;
	struct mbox_msg *cur;		/* message being scanned, or NULL */
	uint64_t data;			/* first byte after cur's From_ line */
	uint64_t nlf;			/* so far: LFs not preceded by CR */
	uint64_t data_nlf;		/* nlf at data */
	uint64_t blank_off, blank_nlf;	/* the last empty line */
	int prev_blank;			/* the previous line was empty */
	int hdr;			/* in the headers of cur */
	int fixed;			/* hash the current header line */
	int received;			/* a Received: line was hashed */
	struct mbox_md5 md5;
	/* --uidl dovecot: Dovecot's header lines (dovecot.h). */
	int grab;			/* collecting one: SCAN_XUID, SCAN_IMAPBASE */
	int glast;			/* what the previous header line was */
	size_t glen;
	int gover;			/* it was longer than gbuf */
	char gbuf[128];
	uint32_t dc_uid;		/* cur's X-UID, 0: none */
	int dc_bad;			/* given twice or folded: none */
};

enum { SCAN_XUID = 1, SCAN_IMAPBASE };

static int scan_eq(const unsigned char *p, size_t n, const char *name,
		   size_t len)
{
	return n >= len && strncasecmp((const char *)p, name, len) == 0;
}

/* popa3d's choice of the header lines that stay fixed over MUA runs. */
static int scan_fixed(struct scan *s, const unsigned char *p, size_t n)
{
	switch (p[0]) {
	case ' ':
	case '\t':
		return s->fixed;
	case 'R':
	case 'r':
		if (s->received)
			return 0;
		s->received = scan_eq(p, n, "Received:", 9);
		return s->received;
	case 'D':
	case 'd':
		return scan_eq(p, n, "Delivered-To:", 13) ||
		    (!s->received && scan_eq(p, n, "Date:", 5));
	case 'M':
	case 'm':
		return !s->received && scan_eq(p, n, "Message-ID:", 11);
	case 'X':
		return scan_eq(p, n, "X-Delivery-ID:", 14);
	default:
		return 0;
	}
}

/*
 * A header line starts (--uidl dovecot): X-UID in any message, X-IMAPbase
 * in the first.  Dovecot writes either unfolded; a folded X-UID is not
 * its, and neither is a second one.
 */
static void scan_dovecot_line(struct scan *s, const unsigned char *p, size_t n)
{
	int cont = p[0] == ' ' || p[0] == '\t';

	s->grab = 0;
	if (cont) {
		if (s->glast == SCAN_XUID)
			s->dc_bad = 1;
		return;
	}
	s->glast = 0;
	if (scan_eq(p, n, "X-UID:", 6))
		s->grab = SCAN_XUID;
	else if (s->cur == s->m->msgs && scan_eq(p, n, "X-IMAPbase:", 11))
		s->grab = SCAN_IMAPBASE;
	s->glen = 0;
	s->gover = 0;
}

static void scan_grab(struct scan *s, const unsigned char *p, size_t n)
{
	size_t room = sizeof(s->gbuf) - s->glen;

	if (n > room) {
		n = room;
		s->gover = 1;
	}
	memcpy(s->gbuf + s->glen, p, n);
	s->glen += n;
}

/* The line is complete (or as much of it as gbuf holds). */
static void scan_grab_done(struct scan *s)
{
	struct mbox_dovecot *dc = s->m->dc;
	size_t n = s->glen;
	const char *v;
	uint32_t a, b;

	while (n > 0 && (s->gbuf[n - 1] == '\n' || s->gbuf[n - 1] == '\r'))
		n--;
	s->glast = s->grab;
	if (s->grab == SCAN_XUID) {
		v = s->gbuf + 6;
		if (s->dc_uid || s->gover ||
		    dovecot_parse_xuid(v, n - 6, &s->dc_uid) < 0)
			s->dc_bad = 1;
	} else {
		v = s->gbuf + 11;
		n -= 11;
		/* Long keyword lists follow the two numbers: drop the cut one. */
		while (s->gover && n > 0 && v[n - 1] != ' ' && v[n - 1] != '\t')
			n--;
		if (dc->validity || dc->imapbase_bad ||
		    dovecot_parse_imapbase(v, n, &a, &b) < 0) {
			dc->imapbase_bad = 1;
		} else {
			dc->validity = a;
			dc->last = b;
		}
	}
	s->grab = 0;
}

/* Close cur: its content ends at end (separator excluded), and the next
 * message (or the scanned end) starts at next, 0 to 2 bytes later: the
 * empty line between them, which is all the index keeps of end. */
static void scan_finish(struct scan *s, uint64_t end, uint64_t next,
			uint64_t end_nlf, int lastc)
{
	struct mbox_msg *msg = s->cur;
	unsigned char d[16];

	msg->sep = (uint32_t)(next - end) & 3;
	msg->size = (end - s->data) + (end_nlf - s->data_nlf);
	/* Only the file's last line can lack its newline. */
	if (end > s->data && lastc != '\n')
		msg->size += lastc == '\r' ? 1 : 2;
	mbox_md5_final(&s->md5, d);
	memcpy(msg->digest, d, sizeof(msg->digest));
	if (s->m->dc)
		s->m->dc->uid[msg - s->m->msgs] = s->dc_bad ? 0 : s->dc_uid;
	s->cur = NULL;
}

/* cur's From_ line ends at data (the index keeps its length). */
static enum mbox_status scan_data(struct scan *s, uint64_t data, char *why, size_t whysize)
{
	if (data - s->cur->from > MBOX_FROMLINE_MAX) {
		mbox_why(why, whysize, "a From_ line longer than %lu bytes",
			 (unsigned long)MBOX_FROMLINE_MAX);
		return MBOX_ERR_LIMIT;
	}
	s->cur->fromlen = (uint32_t)(data - s->cur->from);
	s->data = data;
	s->data_nlf = s->nlf;
	return MBOX_OK;
}

static enum mbox_status scan_start(struct scan *s, uint64_t off,
				   char *why, size_t whysize)
{
	struct mbox *m = s->m;

	if (m->opts.max_messages && m->count >= m->opts.max_messages) {
		mbox_why(why, whysize, "more than %llu messages",
			 (unsigned long long)m->opts.max_messages);
		return MBOX_ERR_LIMIT;
	}
	if (m->count == m->cap) {
		uint32_t ncap = m->cap ? m->cap * 2 : 64;
		struct mbox_msg *n;

		if (ncap <= m->cap) {
			mbox_why(why, whysize, "too many messages");
			return MBOX_ERR_LIMIT;
		}
		n = realloc(m->msgs, (size_t)ncap * sizeof(*n));
		if (!n) {
			mbox_why(why, whysize, "out of memory for %u messages",
				 (unsigned)ncap);
			return MBOX_ERR_SYS;
		}
		m->msgs = n;
		m->cap = ncap;
	}
	if (m->dc && mbox_dovecot_grow(m) < 0) {
		mbox_why(why, whysize, "out of memory for %u messages",
			 (unsigned)m->cap);
		return MBOX_ERR_SYS;
	}
	s->cur = &m->msgs[m->count++];
	memset(s->cur, 0, sizeof(*s->cur));
	s->cur->from = off;
	mbox_md5_init(&s->md5);
	s->hdr = 1;
	s->fixed = s->received = 0;
	s->grab = s->glast = 0;
	s->dc_uid = 0;
	s->dc_bad = 0;
	return MBOX_OK;
}

/*
 * The body of a message, 64 bytes at a time: the bulk of any mailbox,
 * where only line ends, empty lines and a From_ line after an empty one
 * matter.  A per-line memchr() costs a call per ~70 bytes; here every
 * block gives bit masks of its LFs and CRs, from which the LFs without a
 * CR (one more octet each on the wire) are counted and the empty lines
 * ("\n\n", "\n\r\n") found, carrying the last bytes of each block into
 * the next.  buf[pos] is a line start in a body.  Returns the line start
 * after the last LF it took (pos if none: a long line, left to the
 * general path), stopping early at a line after an empty one that may be
 * a From_ line.  The masks make no decision of their own: the result is
 * what the general path would compute, which the fuzzing build checks
 * against a naive parser.
 */
static inline __attribute__((always_inline)) size_t
scan_body_with(struct scan *s, const unsigned char *buf, size_t pos, size_t have,
	       uint64_t base, uint64_t (*eq)(const unsigned char *, unsigned char),
	       uint64_t (*popcount)(uint64_t))
{
	const unsigned char *q = buf + pos, *lim = buf + have;
	size_t done = pos;
	uint64_t nlf = s->nlf;
	int pb = s->prev_blank;
	/* The byte before q is the LF that ended the previous line. */
	uint64_t lf1 = 1, lf2 = 2, cr1 = 0;

	while (lim - q >= 64) {
		uint64_t lf = eq(q, '\n'), cr = eq(q, '\r'), crl, bare, blank, b;

		crl = (cr << 1) | cr1;		/* the byte before is a CR */
		bare = lf & ~crl;
		blank = lf & ((lf << 1) | lf1 | (crl & ((lf << 2) | lf2)));
		for (b = blank; b; b &= b - 1) {
			unsigned i = (unsigned)__builtin_ctzll(b);
			const unsigned char *next = q + i + 1;

			s->blank_off = base + (uint64_t)(q - buf) + i - ((crl >> i) & 1);
			s->blank_nlf = nlf + popcount(bare & ((UINT64_C(1) << i) - 1));
			if (lim - next < 5 || memcmp(next, "From ", 5) == 0) {
				s->nlf = s->blank_nlf + 1 - ((crl >> i) & 1);
				s->prev_blank = 1;
				return (size_t)(next - buf);
			}
		}
		if (lf) {
			unsigned h = 63 - (unsigned)__builtin_clzll(lf);

			pb = (int)((blank >> h) & 1);
			done = (size_t)(q - buf) + h + 1;
		}
		nlf += popcount(bare);
		lf1 = lf >> 63;
		lf2 = lf >> 62;
		cr1 = cr >> 63;
		q += 64;
	}
	s->nlf = nlf;
	s->prev_blank = pb;
	return done;
}

static size_t scan_body_base(struct scan *s, const unsigned char *buf, size_t pos,
			     size_t have, uint64_t base)
{
	return scan_body_with(s, buf, pos, have, base, simd_eq64, simd_popcount);
}

int mbox_simd_fast = -1;

#if SIMD_HAVE_FAST
static SIMD_FAST size_t scan_body_fast(struct scan *s, const unsigned char *buf,
				       size_t pos, size_t have, uint64_t base)
{
	return scan_body_with(s, buf, pos, have, base, simd_eq64_fast, simd_popcount_fast);
}

static size_t scan_body(struct scan *s, const unsigned char *buf, size_t pos,
			size_t have, uint64_t base)
{
	return simd_fast() ? scan_body_fast(s, buf, pos, have, base)
			   : scan_body_base(s, buf, pos, have, base);
}
#else
#define scan_body scan_body_base
#endif

/* Bytes of the current line: hashed if the UIDL covers it, kept if
 * --uidl dovecot wants it. */
static void scan_take(struct scan *s, const unsigned char *p, size_t n)
{
	if (s->fixed)
		mbox_md5_update(&s->md5, p, n);
	if (s->grab)
		scan_grab(s, p, n);
}

/* The part of the file in the window: buf[0] is at offset base, buf[pos]
 * the next byte to look at, buf[have] the first not read yet. */
struct scan_win {
	unsigned char *buf;
	uint64_t base, total;
	size_t have, pos;
	int eof;
};

/* Keep the unread bytes and read as many more as the window holds. */
static enum mbox_status scan_refill(const struct mbox *m, struct scan_win *w,
				    char *why, size_t whysize)
{
	size_t keep = w->have - w->pos, want;
	ssize_t r;

	memmove(w->buf, w->buf + w->pos, keep);
	w->base += w->pos;
	w->pos = 0;
	w->have = keep;
	want = m->winsize - w->have;
	if (want > w->total - (w->base + w->have))
		want = (size_t)(w->total - (w->base + w->have));
	r = pread(m->fd, w->buf + w->have, want, (off_t)(w->base + w->have));
	if (r < 0) {
		mbox_why(why, whysize, "read: %s", strerror(errno));
		return MBOX_ERR_SYS;
	}
	if (r == 0) {
		mbox_why(why, whysize, "shrank while locked");
		return MBOX_ERR_CHANGED;
	}
	w->have += (size_t)r;
	w->eof = w->base + w->have == w->total;
	return MBOX_OK;
}

/*
 * The start of a line at off (avail bytes of it in hand): a From_ line
 * after an empty one starts a message (*fromline set), the first line
 * must be one, and a header line may be hashed or kept for --uidl
 * dovecot.
 */
static enum mbox_status scan_line_start(struct scan *s, const unsigned char *p,
					size_t avail, uint64_t off, int *fromline,
					char *why, size_t whysize)
{
	int blank = p[0] == '\n' || (p[0] == '\r' && avail >= 2 && p[1] == '\n');
	enum mbox_status st;

	if (s->prev_blank && avail >= 5 && memcmp(p, "From ", 5) == 0) {
		if (s->cur)
			scan_finish(s, s->blank_off, off, s->blank_nlf, '\n');
		st = scan_start(s, off, why, whysize);
		if (st != MBOX_OK)
			return st;
		*fromline = 1;
		blank = 0;
	} else if (!s->cur) {
		mbox_why(why, whysize, "not an mbox: first line is no From_ line");
		return MBOX_ERR_DAMAGED;
	} else if (s->hdr) {
		if (blank) {
			s->hdr = 0;
			s->fixed = 0;
			s->grab = 0;
		} else {
			s->fixed = scan_fixed(s, p, avail);
			if (s->m->dc)
				scan_dovecot_line(s, p, avail);
		}
	}
	s->prev_blank = blank;
	if (blank) {
		s->blank_off = off;
		s->blank_nlf = s->nlf;
	}
	return MBOX_OK;
}

/* The end of the file ends the last message; then the ids are finished. */
static enum mbox_status scan_end(struct scan *s, uint64_t total, int mid,
				 int lastc, char *why, size_t whysize)
{
	struct mbox *m = s->m;

	if (s->cur) {
		if (s->prev_blank && !mid)
			scan_finish(s, s->blank_off, total, s->blank_nlf, '\n');
		else
			scan_finish(s, total, total, s->nlf, lastc);
	}
	m->scanned = total;
	if (mbox_number_duplicates(m) < 0) {
		mbox_why(why, whysize, "out of memory numbering duplicates");
		return MBOX_ERR_SYS;
	}
	if (m->dc)
		mbox_dovecot_finish(m);
	return MBOX_OK;
}

enum mbox_status mbox_scan(struct mbox *m, char *why, size_t whysize)
{
	struct scan s;
	struct scan_win w = { m->win, 0, (uint64_t)m->stamp.size, 0, 0, 0 };
	int mid = 0, fromline = 0, lastc = '\n';
	enum mbox_status st;

	memset(&s, 0, sizeof(s));
	s.m = m;
	s.prev_blank = 1;	/* the file start counts as after an empty line */
	w.eof = w.total == 0;
	m->count = 0;
	if (m->dc) {
		m->dc->validity = m->dc->last = 0;
		m->dc->imapbase_bad = 0;
	}

	for (;;) {
		const unsigned char *p, *nl;
		size_t avail, len;

		if (w.have - w.pos < SCAN_PEEK && !w.eof) {
			st = scan_refill(m, &w, why, whysize);
			if (st != MBOX_OK)
				return st;
			continue;
		}
		if (w.pos == w.have)
			break;

		if (!mid && !fromline && s.cur && !s.hdr &&
		    !(s.prev_blank && w.have - w.pos >= 5 &&
		      memcmp(w.buf + w.pos, "From ", 5) == 0)) {
			size_t to = scan_body(&s, w.buf, w.pos, w.have, w.base);

			if (to != w.pos) {
				lastc = '\n';
				w.pos = to;
				continue;
			}
		}
		p = w.buf + w.pos;
		avail = w.have - w.pos;
		if (!mid) {
			st = scan_line_start(&s, p, avail, w.base + w.pos, &fromline,
					     why, whysize);
			if (st != MBOX_OK)
				return st;
		}

		nl = memchr(p, '\n', avail);
		if (!nl) {
			/* A line longer than what we hold: take it in pieces. */
			scan_take(&s, p, avail);
			lastc = p[avail - 1];
			w.pos = w.have;
			mid = 1;
			if (fromline && w.eof &&
			    scan_data(&s, w.total, why, whysize) != MBOX_OK)
				return MBOX_ERR_LIMIT;
			continue;
		}
		len = (size_t)(nl - p) + 1;
		scan_take(&s, p, len);
		if (s.grab)
			scan_grab_done(&s);
		if (!(nl > p ? nl[-1] == '\r' : mid && lastc == '\r'))
			s.nlf++;
		lastc = '\n';
		mid = 0;
		w.pos += len;
		if (fromline) {
			if (scan_data(&s, w.base + w.pos, why, whysize) != MBOX_OK)
				return MBOX_ERR_LIMIT;
			fromline = 0;
		}
	}
	return scan_end(&s, w.total, mid, lastc, why, whysize);
}

/*
 * popa3d gives identical messages the same id, which RFC 1939 forbids
 * (ids are unique within the maildrop).  The first copy in file order
 * keeps the plain id; the n-th copy gets "-n" appended.  A plain id never
 * contains '-', so a variant can never equal anyone's plain id, and the
 * ids of different digests never meet.  Mail is appended, so a forged
 * copy of an existing message's fixed headers arrives later and gets a
 * variant: it cannot take over the id of the message already there.
 * Temporary table: 4 bytes per slot, at least 2 slots per message (so
 * it is never more than half full); a slot names the
 * latest copy of its digest seen so far, whose number the next copy
 * continues.  A Dovecot-style id would live in a table of its own, made
 * only when asked for; this one serves popa3d's ids.
 */
int mbox_number_duplicates(struct mbox *m)
{
	uint32_t *tab;		/* message index + 1 of the latest copy; 0: empty */
	size_t n = 64, mask, i;

	while (n < (size_t)m->count * 2)
		n *= 2;
	tab = calloc(n, sizeof(*tab));
	if (!tab)
		return -1;
	mask = n - 1;
	for (i = 0; i < m->count; i++) {
		struct mbox_msg *msg = &m->msgs[i];
		uint64_t key;
		size_t h;

		memcpy(&key, msg->digest, sizeof(key));
		for (h = (size_t)(key ^ (key >> 29)) & mask; tab[h]; h = (h + 1) & mask) {
			if (memcmp(m->msgs[tab[h] - 1].digest, msg->digest, 8) == 0)
				break;
		}
		if (tab[h]) {
			uint32_t prev = m->msgs[tab[h] - 1].dup;

			msg->dup = prev ? prev + 1 : 2;
		} else {
			msg->dup = 0;
		}
		tab[h] = (uint32_t)i + 1;
	}
	free(tab);
	return 0;
}
