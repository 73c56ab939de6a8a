/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the pre-auth child, the leader, the listener.
 * Encoders and decoders of the connection frames; see connproto.h.
 *
 * The decoders run as root, in the leader on bytes the pre-auth child
 * (which shares a sandbox with the client's bytes) chose and in the
 * listener on a leader's: they trust no length, code or name they have
 * not checked.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "authproto.h"
#include "connproto.h"

int connproto_encode_tls_active(struct frame *f, const char *summary)
{
	size_t n = summary ? strlen(summary) : 0;

	if (n > FRAME_DETAIL_MAX)
		n = FRAME_DETAIL_MAX;
	frame_init(f, FRAME_TLS_ACTIVE);
	return frame_put(f, summary ? summary : "", n);
}

int connproto_parse_tls_active(struct frame *f, const unsigned char **text, size_t *len,
			       const char **why)
{
	if (f->type != FRAME_TLS_ACTIVE) {
		*why = "expected a TLS frame";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, text, len, FRAME_DETAIL_MAX) < 0 || frame_end(f) < 0) {
		*why = "a malformed TLS frame";
		return -1;
	}
	return 0;
}

int connproto_encode_source(struct frame *f, const struct connproto_source *s)
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

int connproto_parse_source(struct frame *f, struct connproto_source *s, const char **why)
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

int connproto_encode_verdict(struct frame *f, unsigned verdict, long long penalty_ms)
{
	unsigned char pen[8];
	unsigned char v = (unsigned char)verdict;

	if ((verdict != FRAME_PROXY_GO && verdict != FRAME_PROXY_REFUSE) ||
	    penalty_ms < 0 || penalty_ms > CONNPROTO_PENALTY_MAX)
		return -1;
	for (int i = 0; i < 8; i++)
		pen[i] = (unsigned char)((unsigned long long)penalty_ms >> (56 - 8 * i));
	frame_init(f, FRAME_PROXY_VERDICT);
	if (frame_put(f, &v, 1) < 0 || frame_put(f, pen, sizeof pen) < 0)
		return -1;
	return 0;
}

int connproto_parse_verdict(struct frame *f, unsigned *verdict, long long *penalty_ms,
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
	if (ms > (unsigned long long)CONNPROTO_PENALTY_MAX) {
		*why = "PROXY verdict: penalty out of range";
		return -1;
	}
	*verdict = v[0];
	*penalty_ms = (long long)ms;
	return 0;
}

int connproto_encode_user_note(struct frame *f, unsigned event, const char *user)
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

int connproto_parse_user_note(struct frame *f, unsigned *event, char *user,
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

int connproto_encode_user_verdict(struct frame *f, unsigned verdict)
{
	unsigned char v = (unsigned char)verdict;

	if (verdict > FRAME_USER_REFUSE_SESSIONS)
		return -1;
	frame_init(f, FRAME_USER_VERDICT);
	return frame_put(f, &v, 1);
}

int connproto_parse_user_verdict(struct frame *f, unsigned *verdict, const char **why)
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

int connproto_encode_end(struct frame *f, unsigned reason, const char *detail)
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

int connproto_parse_end(struct frame *f, unsigned *reason, char *detail, size_t detail_size,
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
