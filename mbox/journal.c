/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * The UPDATE journal record: format, encoder and strict parser (the
 * layout is in journal.h; why it is enough to finish an UPDATE is in
 * update.c).  Runs as the mail user, on bytes the user controls.
 *
 * Layout, little-endian:
 *   "P3U2" flags:u32 ino birth src dst seg undone_bytes:u64 undone_msgs:u32
 *   stale_len stale_hash:u64
 *   len blk nsig:u32  nsig x (e:u16 e_old e_new l:u16 l_old l_new)
 *   npairs planlen:u32  planlen bytes of varints (skip, keep)...
 *   check:u64 = ur_hash over everything before it
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "mbox-int.h"

#define UR_OFF_MAX ((uint64_t)INT64_MAX)

uint64_t ur_hash(uint64_t h, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int ur_put_varint(unsigned char *out, size_t cap, size_t *pos, uint64_t v)
{
	do {
		if (*pos >= cap)
			return -1;
		out[(*pos)++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return 0;
}

int ur_get_varint(const unsigned char *p, size_t n, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift = 0;

	for (;;) {
		unsigned char c;

		if (*pos >= n || shift > 56)
			return -1;
		c = p[(*pos)++];
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			/* One encoding per value: no trailing zero group. */
			if (c == 0 && shift > 0)
				return -1;
			break;
		}
		shift += 7;
	}
	if (x > UR_OFF_MAX)
		return -1;
	*v = x;
	return 0;
}

static void put32(unsigned char *p, size_t *pos, uint32_t v)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		p[(*pos)++] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, size_t *pos, uint64_t v)
{
	unsigned i;

	for (i = 0; i < 8; i++)
		p[(*pos)++] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p, size_t *pos)
{
	uint32_t v = 0;
	unsigned i;

	for (i = 0; i < 4; i++)
		v |= (uint32_t)p[(*pos)++] << (8 * i);
	return v;
}

static uint64_t get64(const unsigned char *p, size_t *pos)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[(*pos)++] << (8 * i);
	return v;
}

size_t ur_encode(const struct ur_record *r, unsigned char *out)
{
	size_t pos = 0, need = UR_FIXED + (size_t)r->nsig * 8 + r->planlen;
	uint32_t i;

	if (r->nsig > UR_SIG_MAX || need > UR_MAX)
		return 0;
	memcpy(out, UR_MAGIC, 4);
	pos = 4;
	put32(out, &pos, r->flags);
	put64(out, &pos, r->ino);
	put64(out, &pos, r->birth);
	put64(out, &pos, r->src);
	put64(out, &pos, r->dst);
	put64(out, &pos, r->seg);
	put64(out, &pos, r->undone_bytes);
	put32(out, &pos, r->undone_msgs);
	put64(out, &pos, r->stale_len);
	put64(out, &pos, r->stale_hash);
	put32(out, &pos, r->len);
	put32(out, &pos, r->blk);
	put32(out, &pos, r->nsig);
	for (i = 0; i < r->nsig; i++) {
		const struct ur_sig *s = &r->sig[i];

		out[pos++] = (unsigned char)s->e;
		out[pos++] = (unsigned char)(s->e >> 8);
		out[pos++] = s->e_old;
		out[pos++] = s->e_new;
		out[pos++] = (unsigned char)s->l;
		out[pos++] = (unsigned char)(s->l >> 8);
		out[pos++] = s->l_old;
		out[pos++] = s->l_new;
	}
	put32(out, &pos, r->npairs);
	put32(out, &pos, (uint32_t)r->planlen);
	if (r->planlen)
		memcpy(out + pos, r->plan, r->planlen);
	pos += r->planlen;
	put64(out, &pos, ur_hash(UR_HASH_INIT, out, pos));
	return pos;
}

#define BAD(...) do { mbox_why(why, whysize, __VA_ARGS__); return -1; } while (0)

/* The samples of a chunk: one per block of the part of the destination
 * that overlaps the source, [src, dst + len). */
static int parse_sigs(struct ur_record *r, char *why, size_t whysize)
{
	uint64_t gap = r->src - r->dst, over, nblk;
	uint32_t i;

	if (r->len == 0) {
		if (r->blk || r->nsig)
			BAD("samples without a chunk");
		return 0;
	}
	if (r->len > MBOX_WINDOW)
		BAD("chunk of %lu bytes", (unsigned long)r->len);
	if (r->blk == 0 || r->blk > UR_BLOCK || r->blk > gap)
		BAD("sample block of %lu bytes", (unsigned long)r->blk);
	over = r->len > gap ? r->len - gap : 0;
	nblk = (over + r->blk - 1) / r->blk;
	if (nblk != r->nsig)
		BAD("%lu samples for %llu blocks", (unsigned long)r->nsig,
		    (unsigned long long)nblk);
	for (i = 0; i < r->nsig; i++) {
		const struct ur_sig *s = &r->sig[i];
		uint64_t size = over - (uint64_t)i * r->blk;

		if (size > r->blk)
			size = r->blk;
		if (s->e == UR_NONE) {
			if (s->l != UR_NONE || s->e_old || s->e_new || s->l_old ||
			    s->l_new)
				BAD("sample %lu: empty but not zero", (unsigned long)i);
			continue;
		}
		if (s->e > s->l || s->l >= size || s->e_old == s->e_new ||
		    s->l_old == s->l_new ||
		    (s->e == s->l && (s->e_old != s->l_old || s->e_new != s->l_new)))
			BAD("sample %lu inconsistent", (unsigned long)i);
	}
	return 0;
}

/* The plan: npairs (skip, keep), skip >= 1, keep >= 1 but in the last
 * pair, and every offset it reaches from src below 2^63. */
static int parse_plan(struct ur_record *r, char *why, size_t whysize)
{
	size_t pos = 0;
	uint64_t at = r->src + r->seg, skip, keep;
	uint32_t i;

	for (i = 0; i < r->npairs; i++) {
		if (ur_get_varint(r->plan, r->planlen, &pos, &skip) < 0 ||
		    ur_get_varint(r->plan, r->planlen, &pos, &keep) < 0)
			BAD("plan: bad varint in pair %lu", (unsigned long)i);
		if (skip == 0 || (keep == 0 && i + 1 < r->npairs))
			BAD("plan: empty run in pair %lu", (unsigned long)i);
		if (skip > UR_OFF_MAX - at || keep > UR_OFF_MAX - at - skip)
			BAD("plan: offset overflow");
		at += skip + keep;
	}
	if (pos != r->planlen)
		BAD("plan: %lu stray bytes", (unsigned long)(r->planlen - pos));
	return 0;
}

/* The fields in their order; the plan is left in place (r->plan). */
static int read_fields(const unsigned char *buf, size_t n, struct ur_record *r,
		       char *why, size_t whysize)
{
	size_t pos = 4, planlen;
	uint32_t i;

	r->flags = get32(buf, &pos);
	r->ino = get64(buf, &pos);
	r->birth = get64(buf, &pos);
	r->src = get64(buf, &pos);
	r->dst = get64(buf, &pos);
	r->seg = get64(buf, &pos);
	r->undone_bytes = get64(buf, &pos);
	r->undone_msgs = get32(buf, &pos);
	r->stale_len = get64(buf, &pos);
	r->stale_hash = get64(buf, &pos);
	r->len = get32(buf, &pos);
	r->blk = get32(buf, &pos);
	r->nsig = get32(buf, &pos);
	if (r->nsig > UR_SIG_MAX || (size_t)r->nsig * 8 > n - UR_FIXED)
		BAD("%lu samples", (unsigned long)r->nsig);
	for (i = 0; i < r->nsig; i++) {
		struct ur_sig *s = &r->sig[i];

		s->e = (uint16_t)(buf[pos] | buf[pos + 1] << 8);
		s->e_old = buf[pos + 2];
		s->e_new = buf[pos + 3];
		s->l = (uint16_t)(buf[pos + 4] | buf[pos + 5] << 8);
		s->l_old = buf[pos + 6];
		s->l_new = buf[pos + 7];
		pos += 8;
	}
	r->npairs = get32(buf, &pos);
	planlen = get32(buf, &pos);
	if (planlen != n - 8 - pos)
		BAD("plan length %lu", (unsigned long)planlen);
	r->plan = buf + pos;
	r->planlen = planlen;
	return 0;
}

/* What the fields must say of each other, then the samples and the plan. */
static int check_fields(struct ur_record *r, char *why, size_t whysize)
{
	if (r->flags & ~(uint32_t)UR_TRUNC)
		BAD("unknown flags %#lx", (unsigned long)r->flags);
	if (r->src > UR_OFF_MAX || r->seg > UR_OFF_MAX - r->src)
		BAD("offsets out of range");
	/* Only logged, but held to one meaning: both zero or both not. */
	if (r->undone_bytes > UR_OFF_MAX ||
	    (r->undone_bytes == 0) != (r->undone_msgs == 0))
		BAD("undone count %llu bytes in %lu messages",
		    (unsigned long long)r->undone_bytes,
		    (unsigned long)r->undone_msgs);
	if (r->flags & UR_TRUNC) {
		/* Cutting: nothing left to move, dst is the new end. */
		if (r->seg || r->len || r->blk || r->nsig || r->npairs ||
		    r->planlen || r->undone_msgs || r->dst >= r->src)
			BAD("cut record with work left");
		if (r->stale_len != (r->src - r->dst < UR_STALE ?
				     r->src - r->dst : UR_STALE))
			BAD("stale length %llu", (unsigned long long)r->stale_len);
		return 0;
	}
	if (r->stale_len || r->stale_hash)
		BAD("stale hash outside a cut");
	if (r->dst >= r->src)
		BAD("destination %llu not below source %llu",
		    (unsigned long long)r->dst, (unsigned long long)r->src);
	/* After each segment the next pair is taken at once: a record
	 * written between segments would have had seg > 0. */
	if (r->seg == 0 && r->npairs)
		BAD("no segment in progress but %lu pairs left",
		    (unsigned long)r->npairs);
	if (r->seg && r->len > r->seg)
		BAD("chunk beyond its segment");
	if (r->len > UR_OFF_MAX - r->src)
		BAD("chunk beyond 2^63");
	if (parse_sigs(r, why, whysize) < 0 || parse_plan(r, why, whysize) < 0)
		return -1;
	return 0;
}

int ur_parse(const unsigned char *buf, size_t n, struct ur_record *r,
	     char *why, size_t whysize)
{
	memset(r, 0, sizeof(*r));
	if (n >= 4 && memcmp(buf, "P3U", 3) == 0 && buf[3] != UR_MAGIC[3] &&
	    buf[3] >= '0' && buf[3] <= '9')
		BAD("update record of another version (P3U%c)", buf[3]);
	if (n < UR_FIXED || n > UR_MAX || memcmp(buf, UR_MAGIC, 4) != 0)
		BAD("not a popa3d update record (%lu bytes)", (unsigned long)n);
	{
		size_t cpos = n - 8;

		if (get64(buf, &cpos) != ur_hash(UR_HASH_INIT, buf, n - 8))
			BAD("checksum mismatch");
	}
	return read_fields(buf, n, r, why, whysize) < 0 ? -1 :
	       check_fields(r, why, whysize);
}
