/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * RETR and TOP: stream one message as POP3 wants it (RFC 1939 section 3):
 * every line ending in CRLF, a leading '.' doubled, the last line ended
 * even if the stored message lacks a newline.  Runs as the mail user.
 *
 * Memory is bounded whatever the message: we read through the engine's
 * window (half for input, half for output) and never hold a line, so a
 * 1 GiB line costs what a 1 KiB one does.  A line ending in "\r\n" is
 * sent as stored (never CR CR LF); a bare "\n" becomes "\r\n"; NUL and
 * other bytes go out as they are.  The octets we send, minus the stuffed
 * dots, are exactly mbox_msg_size() (scan.c counts the same way).
 * The encoder takes any descriptor and range, so the Maildir store sends
 * (and, with no sink, sizes) its files with these very rules.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mbox-int.h"
#include "simd.h"

/* The window's halves: input, then output.  The bulk loop reads up to
 * 63 bytes past what pread() filled: the input half stops that far short
 * of the output half. */
#define SEND_IN(winsize) ((winsize) / 2 - 64)
#define SEND_OUT(winsize) ((winsize) / 2)

struct sender {
	mbox_write_fn out;		/* NULL: only count */
	void *ctx;
	unsigned char *buf;
	size_t len, cap;		/* cap: SEND_OUT of the window */
	uint64_t total;			/* octets put, stuffed dots included */
};

static int send_flush(struct sender *s)
{
	if (s->out && s->len && s->out(s->ctx, s->buf, s->len) < 0)
		return -1;
	s->len = 0;
	return 0;
}

static int send_put(struct sender *s, const void *vp, size_t n)
{
	const unsigned char *p = vp;

	s->total += n;
	if (!s->out)
		return 0;
	while (n) {
		size_t room = s->cap - s->len, take = n < room ? n : room;

		memcpy(s->buf + s->len, p, take);
		s->len += take;
		p += take;
		n -= take;
		if (s->len == s->cap && send_flush(s) < 0)
			return -1;
	}
	return 0;
}

/*
 * RETR's bulk: whole 64-byte blocks from a line start on.  The output is
 * the input with one byte put before each LF without a CR ('\r') and
 * before each '.' that starts a line (the stuffed '.'), so each block
 * needs only those positions, from three masks; between them the bytes
 * are copied 64 at a time, overlapping (the output half of the window
 * keeps 192 bytes of room per block, the input half 64 bytes of slack).
 * Returns where it stopped (a block edge, maybe inside a line) and sets
 * bol and lastc for the line-by-line loop that takes over; NULL if the
 * sink failed.
 */
SIMD_INLINE const unsigned char *
send_bulk_with(struct sender *s, const unsigned char *q, const unsigned char *qe,
	       uint64_t *dots, int *bol, int *lastc,
	       uint64_t (*eq)(const unsigned char *, unsigned char))
{
	const unsigned char *q0 = q;
	uint64_t lf1 = 1, cr1 = 0;	/* q follows an LF */

	while (qe - q >= 64) {
		uint64_t lf = eq(q, '\n'), cr = eq(q, '\r'), dot = eq(q, '.');
		uint64_t stuff = dot & ((lf << 1) | lf1), ins;
		unsigned char *o, *o0;
		unsigned prev = 0;

		if (s->cap - s->len < 192 && send_flush(s) < 0)
			return NULL;
		ins = (lf & ~((cr << 1) | cr1)) | stuff;
		o = o0 = s->buf + s->len;
		for (; ins; ins &= ins - 1) {
			unsigned j = (unsigned)__builtin_ctzll(ins);

			memcpy(o, q + prev, 64);
			o += j - prev;
			*o++ = q[j] == '.' ? '.' : '\r';
			prev = j;
		}
		memcpy(o, q + prev, 64);
		o += 64 - prev;
		for (; stuff; stuff &= stuff - 1)
			(*dots)++;
		s->len += (size_t)(o - o0);
		s->total += (uint64_t)(o - o0);
		lf1 = lf >> 63;
		cr1 = cr >> 63;
		q += 64;
	}
	if (q != q0) {
		*bol = q[-1] == '\n';
		*lastc = q[-1];
	}
	return q;
}

static const unsigned char *
send_bulk_base(struct sender *s, const unsigned char *q, const unsigned char *qe,
	       uint64_t *dots, int *bol, int *lastc)
{
	return send_bulk_with(s, q, qe, dots, bol, lastc, simd_eq64);
}

#if SIMD_HAVE_FAST
static SIMD_FAST const unsigned char *
send_bulk_fast(struct sender *s, const unsigned char *q, const unsigned char *qe,
	       uint64_t *dots, int *bol, int *lastc)
{
	return send_bulk_with(s, q, qe, dots, bol, lastc, simd_eq64_fast);
}

static const unsigned char *
send_bulk(struct sender *s, const unsigned char *q, const unsigned char *qe,
	  uint64_t *dots, int *bol, int *lastc)
{
	return simd_fast() ? send_bulk_fast(s, q, qe, dots, bol, lastc)
			   : send_bulk_base(s, q, qe, dots, bol, lastc);
}
#else
#define send_bulk send_bulk_base
#endif

/* Where the encoder is in the message; kept from one read to the next. */
struct send_line {
	uint64_t dots;			/* stuffed so far */
	long long nbody;		/* body lines sent (TOP) */
	int bol;			/* at the start of a line */
	int in_hdr;			/* still in the headers */
	int lastc, first;		/* the line's last and first byte */
	size_t linelen;			/* its length so far, LF excluded */
};

enum send_more { SEND_MORE, SEND_TOP_DONE, SEND_PEER_GONE };

/* Encode the bytes [q, qe) just read: SEND_MORE when they are all used,
 * SEND_TOP_DONE when TOP has its lines. */
static enum send_more send_lines(struct sender *s, struct send_line *l,
				 const unsigned char *q, const unsigned char *qe,
				 long long body_lines)
{
	while (q < qe) {
		const unsigned char *nl;

		if (l->bol && body_lines < 0 && qe - q >= 64) {
			q = send_bulk(s, q, qe, &l->dots, &l->bol, &l->lastc);
			if (!q)
				return SEND_PEER_GONE;
			if (q == qe)
				break;
		}
		if (l->bol) {
			/* TOP: the headers, the blank line, n lines. */
			if (body_lines >= 0 && !l->in_hdr && l->nbody >= body_lines)
				return SEND_TOP_DONE;
			if (*q == '.') {
				if (send_put(s, ".", 1) < 0)
					return SEND_PEER_GONE;
				l->dots++;
			}
			l->first = *q;
			l->linelen = 0;
			l->lastc = 0;
			l->bol = 0;
		}
		nl = memchr(q, '\n', (size_t)(qe - q));
		if (!nl) {
			if (send_put(s, q, (size_t)(qe - q)) < 0)
				return SEND_PEER_GONE;
			l->linelen += (size_t)(qe - q);
			l->lastc = qe[-1];
			break;
		}
		if (nl > q)
			l->lastc = nl[-1];
		l->linelen += (size_t)(nl - q);
		if (send_put(s, q, (size_t)(nl - q)) < 0 ||
		    send_put(s, l->lastc == '\r' ? "\n" : "\r\n",
			     l->lastc == '\r' ? 1 : 2) < 0)
			return SEND_PEER_GONE;
		q = nl + 1;
		l->bol = 1;
		if (l->in_hdr && (l->linelen == 0 ||
				  (l->linelen == 1 && l->first == '\r')))
			l->in_hdr = 0;
		else if (!l->in_hdr)
			l->nbody++;
	}
	return SEND_MORE;
}

enum mbox_status mbox_encode(int fd, unsigned char *win, size_t winsize, uint64_t off,
			     uint64_t end, long long body_lines,
			     mbox_write_fn out, void *ctx, uint64_t *octets)
{
	struct sender s;
	struct send_line l = { 0, 0, 1, 1, 0, 0, 0 };
	unsigned char *in = win;

	*octets = 0;
	s.out = out;
	s.ctx = ctx;
	s.buf = win + SEND_IN(winsize);
	s.cap = SEND_OUT(winsize);
	s.len = 0;
	s.total = 0;

	while (off < end) {
		size_t want = end - off < SEND_IN(winsize) ? (size_t)(end - off) : SEND_IN(winsize);
		ssize_t r = pread(fd, in, want, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return MBOX_ERR_SYS;
		if (r == 0)
			return MBOX_ERR_CHANGED;	/* shorter than it was */
		off += (uint64_t)r;
		switch (send_lines(&s, &l, in, in + r, body_lines)) {
		case SEND_MORE:
			continue;
		case SEND_TOP_DONE:
			goto done;
		case SEND_PEER_GONE:
			return MBOX_ERR_PEER;
		}
	}
	if (!l.bol && send_put(&s, l.lastc == '\r' ? "\n" : "\r\n",
			       l.lastc == '\r' ? 1 : 2) < 0)
		return MBOX_ERR_PEER;
done:
	if (send_flush(&s) < 0)
		return MBOX_ERR_PEER;
	*octets = s.total - l.dots;
	return MBOX_OK;
}
