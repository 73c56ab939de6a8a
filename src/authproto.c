/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the pre-auth child, the leader, the auth helper.
 * Encoders and decoders of the authentication frames; see authproto.h.
 *
 * The decoders run in the leader, as root, on bytes an attacker-driven
 * process (the pre-auth child) chose: they must never trust a length, a
 * method number or a name they have not checked, and never keep a secret
 * longer than the caller asked for.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "authproto.h"

/* Length of the well-formed UTF-8 sequence at p (n > 0 bytes left), or 0.
 * C1 controls (U+0080..U+009F) count as malformed: they are controls. */
static size_t authproto_utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
		return 0;
	return len;
}

int authproto_user_valid(const void *p, size_t n)
{
	const unsigned char *u = p;
	size_t i = 0;

	if (n == 0 || n > FRAME_USER_MAX || u[0] == '-' || u[0] == '.')
		return 0;
	while (i < n) {
		size_t len = authproto_utf8_seq(u + i, n - i);

		if (len == 0)
			return 0;
		if (len == 1 && (u[i] <= 0x20 || u[i] == 0x7f || u[i] == '/' || u[i] == ':'))
			return 0;
		i += len;
	}
	return 1;
}

int authproto_encode_request(struct frame *f, unsigned method,
			     const void *user, size_t user_len,
			     const void *secret, size_t secret_len)
{
	frame_init(f, FRAME_AUTH_REQUEST);
	if ((method != FRAME_METHOD_USERPASS && method != FRAME_METHOD_PLAIN) ||
	    !authproto_user_valid(user, user_len) || secret_len > FRAME_SECRET_MAX ||
	    (secret_len && memchr(secret, '\0', secret_len)) ||
	    frame_put_byte(f, (unsigned char)method) < 0 ||
	    frame_put(f, user, user_len) < 0 ||
	    frame_put(f, secret, secret_len) < 0) {
		frame_wipe(f);
		return -1;
	}
	return 0;
}

void authproto_request_wipe(struct authproto_request *rq)
{
	explicit_bzero(rq, sizeof *rq);
}

static int authproto_parse_request_fields(struct frame *f, struct authproto_request *rq,
					  const char **why)
{
	const unsigned char *p;
	size_t n;

	if (f->type != FRAME_AUTH_REQUEST) {
		*why = "not an authentication request";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &p, &n, 1) < 0 || n != 1) {
		*why = "bad method field";
		return -1;
	}
	if (p[0] != FRAME_METHOD_USERPASS && p[0] != FRAME_METHOD_PLAIN) {
		*why = "unknown method";
		return -1;
	}
	rq->method = p[0];
	if (frame_get(f, &p, &n, FRAME_USER_MAX) < 0) {
		*why = "bad user field";
		return -1;
	}
	if (!authproto_user_valid(p, n)) {
		*why = "unacceptable user name";
		return -1;
	}
	memcpy(rq->user, p, n);
	rq->user[n] = '\0';
	rq->user_len = n;
	if (frame_get(f, &p, &n, FRAME_SECRET_MAX) < 0) {
		*why = "bad secret field";
		return -1;
	}
	if (n && memchr(p, '\0', n)) {
		*why = "NUL in secret";
		return -1;
	}
	memcpy(rq->secret, p, n);
	rq->secret[n] = '\0';
	rq->secret_len = n;
	if (frame_end(f) < 0) {
		*why = "extra bytes after the last field";
		return -1;
	}
	return 0;
}

int authproto_parse_request(struct frame *f, struct authproto_request *rq,
			    const char **why)
{
	int r;

	authproto_request_wipe(rq);
	r = authproto_parse_request_fields(f, rq, why);
	if (r < 0)
		authproto_request_wipe(rq);
	frame_wipe(f);
	return r;
}

int authproto_encode_reply(struct frame *f, unsigned code)
{
	if (code > FRAME_AUTH_INUSE)
		return -1;
	frame_init(f, FRAME_AUTH_REPLY);
	return frame_put_byte(f, (unsigned char)code);
}

int authproto_parse_reply(struct frame *f, unsigned *code, const char **why)
{
	const unsigned char *p;
	size_t n;

	if (f->type != FRAME_AUTH_REPLY) {
		*why = "not an authentication reply";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &p, &n, 1) < 0 || n != 1 || frame_end(f) < 0 || p[0] > FRAME_AUTH_INUSE) {
		*why = "malformed authentication reply";
		return -1;
	}
	*code = p[0];
	return 0;
}

int authproto_encode_result(struct frame *f, unsigned result, const char *user)
{
	size_t n = user ? strlen(user) : 0;

	frame_init(f, FRAME_AUTH_RESULT);
	if (result > FRAME_AUTH_TEMPFAIL || (result == FRAME_AUTH_OK) != (n > 0) ||
	    (n && !authproto_user_valid(user, n)) ||
	    frame_put_byte(f, (unsigned char)result) < 0 ||
	    frame_put(f, user ? user : "", n) < 0) {
		frame_wipe(f);
		return -1;
	}
	return 0;
}

int authproto_parse_result(struct frame *f, unsigned *result,
			   char *user, size_t user_size, const char **why)
{
	const unsigned char *p;
	size_t n;

	if (user_size <= FRAME_USER_MAX) {
		*why = "result buffer too small";
		return -1;
	}
	user[0] = '\0';
	if (f->type != FRAME_AUTH_RESULT) {
		*why = "not an authentication result";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &p, &n, 1) < 0 || n != 1) {
		*why = "bad result field";
		return -1;
	}
	/* FRAME_AUTH_CLOSE is the leader's word to the child, never the
	 * helper's answer. */
	if (p[0] > FRAME_AUTH_TEMPFAIL) {
		*why = "unknown result code";
		return -1;
	}
	*result = p[0];
	if (frame_get(f, &p, &n, FRAME_USER_MAX) < 0) {
		*why = "bad user field";
		return -1;
	}
	if (*result == FRAME_AUTH_OK ? !authproto_user_valid(p, n) : n != 0) {
		*why = "unacceptable final user name";
		return -1;
	}
	if (frame_end(f) < 0) {
		*why = "extra bytes after the last field";
		return -1;
	}
	memcpy(user, p, n);
	user[n] = '\0';
	return 0;
}
