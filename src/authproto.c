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

int authproto_encode_source(struct frame *f, const struct authproto_source *s)
{
	size_t alen;

	switch (s->family) {
	case 0:
		alen = 0;
		break;
	case 4:
		alen = 4;
		break;
	case 6:
		alen = 16;
		break;
	case FRAME_PROXY_FAILED:
		alen = 1;
		break;
	default:
		return -1;
	}
	frame_init(f, FRAME_PROXY_SOURCE);
	if (frame_put_byte(f, s->family) < 0 ||
	    frame_put(f, s->family == FRAME_PROXY_FAILED ? &s->error : s->addr, alen) < 0)
		return -1;
	return 0;
}

int authproto_parse_source(struct frame *f, struct authproto_source *s, const char **why)
{
	const unsigned char *p, *a;
	size_t n, alen;

	memset(s, 0, sizeof *s);
	if (f->type != FRAME_PROXY_SOURCE) {
		*why = "expected a PROXY source frame";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &p, &n, 1) < 0 || n != 1 || frame_get(f, &a, &alen, 16) < 0 ||
	    frame_end(f) < 0) {
		*why = "malformed PROXY source frame";
		return -1;
	}
	s->family = p[0];
	if (!((s->family == 0 && alen == 0) || (s->family == 4 && alen == 4) ||
	      (s->family == 6 && alen == 16) || (s->family == FRAME_PROXY_FAILED && alen == 1))) {
		*why = "PROXY source frame: bad family or address length";
		memset(s, 0, sizeof *s);
		return -1;
	}
	if (s->family == FRAME_PROXY_FAILED)
		s->error = a[0];
	else if (alen)
		memcpy(s->addr, a, alen);
	return 0;
}

int authproto_encode_verdict(struct frame *f, unsigned verdict, long long penalty_ms)
{
	unsigned char pen[8];
	unsigned char v = (unsigned char)verdict;

	if ((verdict != FRAME_PROXY_GO && verdict != FRAME_PROXY_REFUSE) ||
	    penalty_ms < 0 || penalty_ms > AUTHPROTO_PENALTY_MAX)
		return -1;
	for (int i = 0; i < 8; i++)
		pen[i] = (unsigned char)((unsigned long long)penalty_ms >> (56 - 8 * i));
	frame_init(f, FRAME_PROXY_VERDICT);
	if (frame_put(f, &v, 1) < 0 || frame_put(f, pen, sizeof pen) < 0)
		return -1;
	return 0;
}

int authproto_parse_verdict(struct frame *f, unsigned *verdict, long long *penalty_ms,
			    const char **why)
{
	const unsigned char *v, *pen;
	size_t vn, pn;
	unsigned long long ms = 0;

	if (f->type != FRAME_PROXY_VERDICT) {
		*why = "expected a PROXY verdict frame";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &v, &vn, 1) < 0 || vn != 1 || frame_get(f, &pen, &pn, 8) < 0 ||
	    pn != 8 || frame_end(f) < 0 ||
	    (v[0] != FRAME_PROXY_GO && v[0] != FRAME_PROXY_REFUSE)) {
		*why = "malformed PROXY verdict frame";
		return -1;
	}
	for (int i = 0; i < 8; i++)
		ms = ms << 8 | pen[i];
	if (ms > (unsigned long long)AUTHPROTO_PENALTY_MAX) {
		*why = "PROXY verdict: penalty out of range";
		return -1;
	}
	*verdict = v[0];
	*penalty_ms = (long long)ms;
	return 0;
}

int authproto_encode_user_note(struct frame *f, unsigned event, const char *user)
{
	unsigned char e = (unsigned char)event;
	size_t n = user ? strlen(user) : 0;

	if ((event != FRAME_USER_FAILED && event != FRAME_USER_LOGIN) ||
	    !authproto_user_valid(user, n))
		return -1;
	frame_init(f, FRAME_USER_NOTE);
	if (frame_put(f, &e, 1) < 0 || frame_put(f, user, n) < 0)
		return -1;
	return 0;
}

int authproto_parse_user_note(struct frame *f, unsigned *event, char *user,
			      size_t user_size, const char **why)
{
	const unsigned char *e, *u;
	size_t en, un;

	if (f->type != FRAME_USER_NOTE) {
		*why = "expected a user note frame";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &e, &en, 1) < 0 || en != 1 ||
	    frame_get(f, &u, &un, FRAME_USER_MAX) < 0 || frame_end(f) < 0 ||
	    (e[0] != FRAME_USER_FAILED && e[0] != FRAME_USER_LOGIN)) {
		*why = "malformed user note frame";
		return -1;
	}
	if (!authproto_user_valid(u, un) || un >= user_size) {
		*why = "user note: invalid user name";
		return -1;
	}
	memcpy(user, u, un);
	user[un] = '\0';
	*event = e[0];
	return 0;
}

int authproto_encode_user_verdict(struct frame *f, unsigned verdict)
{
	unsigned char v = (unsigned char)verdict;

	if (verdict > FRAME_USER_REFUSE_SESSIONS)
		return -1;
	frame_init(f, FRAME_USER_VERDICT);
	return frame_put(f, &v, 1);
}

int authproto_parse_user_verdict(struct frame *f, unsigned *verdict, const char **why)
{
	const unsigned char *v;
	size_t vn;

	if (f->type != FRAME_USER_VERDICT) {
		*why = "expected a user verdict frame";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &v, &vn, 1) < 0 || vn != 1 || frame_end(f) < 0 ||
	    v[0] > FRAME_USER_REFUSE_SESSIONS) {
		*why = "malformed user verdict frame";
		return -1;
	}
	*verdict = v[0];
	return 0;
}

int authproto_encode_end(struct frame *f, unsigned reason, const char *detail)
{
	size_t n = detail ? strlen(detail) : 0;

	if (reason == 0 || reason > FRAME_END_MAX)
		return -1;
	if (n > FRAME_DETAIL_MAX)
		n = FRAME_DETAIL_MAX;	/* a long OpenSSL text loses its tail */
	frame_init(f, FRAME_PREAUTH_END);
	if (frame_put_byte(f, (unsigned char)reason) < 0 || frame_put(f, detail ? detail : "", n) < 0)
		return -1;
	return 0;
}

int authproto_parse_end(struct frame *f, unsigned *reason, char *detail, size_t detail_size,
			const char **why)
{
	const unsigned char *r, *d;
	size_t rn, dn;

	if (f->type != FRAME_PREAUTH_END) {
		*why = "expected an end frame";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &r, &rn, 1) < 0 || rn != 1 || frame_get(f, &d, &dn, FRAME_DETAIL_MAX) < 0 ||
	    frame_end(f) < 0 || r[0] == 0 || r[0] > FRAME_END_MAX || dn >= detail_size) {
		*why = "malformed end frame";
		return -1;
	}
	*reason = r[0];
	/* raw bytes: the caller passes them through log_clean */
	memcpy(detail, d, dn);
	detail[dn] = '\0';
	return 0;
}
