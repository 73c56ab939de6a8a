/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the pre-auth child.
 * SASL decoding for the pre-auth child; see sasl.h.  Runs unprivileged,
 * chrooted and under seccomp.  Nothing here allocates or does I/O: the
 * caller owns every buffer (and wipes it, since it holds a password).
 */
#include "config.h"

#include <string.h>

#include "sasl.h"

static const char sasl_b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63, or -1 for anything else (padding included). */
static int sasl_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int sasl_b64_decode(const void *in, size_t inlen, unsigned char *out,
		    size_t outsize, size_t *outlen)
{
	const unsigned char *p = in;
	size_t o = 0;

	*outlen = 0;
	if (inlen % 4 != 0)
		return -1;
	for (size_t i = 0; i < inlen; i += 4) {
		int v[4], pad = 0;
		unsigned long w;

		for (int k = 0; k < 4; k++) {
			v[k] = sasl_b64_value(p[i + k]);
			if (v[k] >= 0) {
				/* a data character after '=' */
				if (pad)
					return -1;
				continue;
			}
			/* '=' only in the last quantum, positions 3 and 4 */
			if (p[i + k] != '=' || i + 4 != inlen || k < 2)
				return -1;
			pad++;
			v[k] = 0;
		}
		w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
		    ((unsigned long)v[2] << 6) | (unsigned long)v[3];
		/* Non-canonical: bits the padding drops must be zero. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1;
		if (outsize - o < (size_t)(3 - pad))
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	*outlen = o;
	return 0;
}

int sasl_b64_encode(const void *in, size_t inlen, char *out, size_t outsize,
		    size_t *outlen)
{
	const unsigned char *p = in;
	size_t need = (inlen + 2) / 3 * 4, o = 0;

	if (inlen > (((size_t)-1) / 4) * 3 - 3 || outsize < need)
		return -1;
	for (size_t i = 0; i < inlen; i += 3) {
		unsigned long w = (unsigned long)p[i] << 16;
		size_t left = inlen - i;

		if (left > 1)
			w |= (unsigned long)p[i + 1] << 8;
		if (left > 2)
			w |= p[i + 2];
		out[o++] = sasl_b64_alphabet[(w >> 18) & 63];
		out[o++] = sasl_b64_alphabet[(w >> 12) & 63];
		out[o++] = left > 1 ? sasl_b64_alphabet[(w >> 6) & 63] : '=';
		out[o++] = left > 2 ? sasl_b64_alphabet[w & 63] : '=';
	}
	*outlen = o;
	return 0;
}

enum sasl_plain_error sasl_plain_split(const unsigned char *msg, size_t n,
				       size_t secret_max, struct sasl_plain *out)
{
	const unsigned char *nul1, *nul2;

	memset(out, 0, sizeof *out);
	nul1 = memchr(msg, '\0', n);
	if (!nul1)
		return SASL_MALFORMED;
	nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - msg));
	if (!nul2 || memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - msg)))
		return SASL_MALFORMED;
	out->authzid = msg;
	out->authzid_len = (size_t)(nul1 - msg);
	out->authcid = nul1 + 1;
	out->authcid_len = (size_t)(nul2 - nul1 - 1);
	out->passwd = nul2 + 1;
	out->passwd_len = n - (size_t)(nul2 + 1 - msg);
	if (out->authcid_len == 0 || out->passwd_len == 0)
		return SASL_MALFORMED;
	if (out->authzid_len > SASL_FIELD_MAX || out->authcid_len > SASL_FIELD_MAX ||
	    out->passwd_len > secret_max)
		return SASL_TOO_LONG;
	/* RFC 4616 section 2: a proxy authorisation we do not grant. */
	if (out->authzid_len != 0 &&
	    (out->authzid_len != out->authcid_len ||
	     memcmp(out->authzid, out->authcid, out->authcid_len) != 0))
		return SASL_PROXY;
	return SASL_OK;
}
