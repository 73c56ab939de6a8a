/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * MD5 (RFC 1321), written here so that the engine needs no crypto
 * library.  Used for popa3d-compatible UIDLs (and Maildir's fallback
 * ids), never for anything that needs collision resistance:
 * uniqueness of ids is enforced by the duplicate rule in scan.c, not by
 * the hash.  Runs as the mail user.
 */
#include "config.h"

#include <string.h>

#include "mbox-int.h"

/* T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4. */
static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
	0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
	0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
	0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
	0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391
};

static const unsigned char md5_s[4][4] = {
	{ 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 }
};

static uint32_t md5_rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* The words are little-endian whatever the host (RFC 1321 section 2). */
static void md5_block(uint32_t st[4], const unsigned char *p)
{
	uint32_t x[16], a = st[0], b = st[1], c = st[2], d = st[3];
	unsigned i;

	for (i = 0; i < 16; i++)
		x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		    (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (i = 0; i < 64; i++) {
		uint32_t f, t;
		unsigned g, round = i / 16;

		switch (round) {
		case 0:
			f = (b & c) | (~b & d);
			g = i;
			break;
		case 1:
			f = (b & d) | (c & ~d);
			g = (5 * i + 1) % 16;
			break;
		case 2:
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
			break;
		default:
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
			break;
		}
		t = d;
		d = c;
		c = b;
		b = b + md5_rol(a + f + md5_t[i] + x[g], md5_s[round][i % 4]);
		a = t;
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
}

void mbox_md5_init(struct mbox_md5 *c)
{
	c->state[0] = 0x67452301;
	c->state[1] = 0xefcdab89;
	c->state[2] = 0x98badcfe;
	c->state[3] = 0x10325476;
	c->bytes = 0;
}

void mbox_md5_update(struct mbox_md5 *c, const void *vp, size_t n)
{
	const unsigned char *p = vp;
	size_t have = (size_t)(c->bytes % 64);

	c->bytes += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;

		memcpy(c->block + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		md5_block(c->state, c->block);
	}
	for (; n >= 64; p += 64, n -= 64)
		md5_block(c->state, p);
	if (n)
		memcpy(c->block, p, n);
}

void mbox_md5_final(struct mbox_md5 *c, unsigned char out[16])
{
	static const unsigned char pad[64] = { 0x80 };
	unsigned char len[8];
	uint64_t bits = c->bytes * 8;
	size_t have = (size_t)(c->bytes % 64);
	unsigned i;

	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (8 * i));
	mbox_md5_update(c, pad, have < 56 ? 56 - have : 120 - have);
	mbox_md5_update(c, len, 8);
	for (i = 0; i < 16; i++)
		out[i] = (unsigned char)(c->state[i / 4] >> (8 * (i % 4)));
}
