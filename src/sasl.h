/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SASL for the pre-auth child (RFC 5034 AUTH, RFC 4616 PLAIN): a strict
 * base64 decoder and the PLAIN message splitter.  Runs unprivileged and
 * sandboxed; every byte is the client's.  Pure functions over memory, no
 * I/O, fuzzed by tests/fuzz/fuzz-sasl.c.
 */
#ifndef POPA3D_SASL_H
#define POPA3D_SASL_H

#include <stddef.h>

/* RFC 5034 section 4 lets tokens be long; we take lines up to 8 KiB. */
#define SASL_LINE_MAX 8192
/* Decoded bytes a base64 line of SASL_LINE_MAX can hold. */
#define SASL_DECODED_MAX (SASL_LINE_MAX / 4 * 3)
/* RFC 4616 section 2: authzid and authcid of up to 255 octets. */
#define SASL_FIELD_MAX 255

/*
 * Strict RFC 4648 section 4 base64: only A-Z a-z 0-9 + /, length a
 * multiple of 4, '=' only as one or two final pad characters, and the
 * unused bits before the padding zero (one encoding per byte string, so
 * nothing can hide in the slack).  Writes at most outsize bytes.
 * 0 with *outlen set, or -1 (out then holds nothing worth keeping; the
 * caller wipes it).  An empty input decodes to nothing; RFC 5034's "="
 * for an empty response is the caller's to recognise.
 */
int sasl_b64_decode(const void *in, size_t inlen, unsigned char *out,
		    size_t outsize, size_t *outlen);

/* Encode (for tests and the fuzz target's round trip): -1 if outsize is short. */
int sasl_b64_encode(const void *in, size_t inlen, char *out, size_t outsize,
		    size_t *outlen);

/* A split PLAIN message; the pointers point into the decoded buffer. */
struct sasl_plain {
	const unsigned char *authzid, *authcid, *passwd;
	size_t authzid_len, authcid_len, passwd_len;
};

enum sasl_plain_error {
	SASL_OK = 0,
	SASL_MALFORMED,		/* not exactly two NULs, empty authcid or passwd */
	SASL_TOO_LONG,		/* a field over its limit */
	SASL_PROXY		/* authzid set and different from authcid */
};

/*
 * RFC 4616 section 2: message = [authzid] NUL authcid NUL passwd.
 * authzid and authcid up to SASL_FIELD_MAX, passwd up to secret_max
 * octets, none holding a NUL.  We authorise nobody as somebody else: a
 * non-empty authzid must equal authcid.
 */
enum sasl_plain_error sasl_plain_split(const unsigned char *msg, size_t n,
				       size_t secret_max, struct sasl_plain *out);

#endif
