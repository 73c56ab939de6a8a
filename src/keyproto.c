/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the key holder, the pre-auth child.
 * The key holder's frames and per-channel policy; see keyproto.h.
 *
 * keyproto_answer runs in the key holder on bytes chosen by the process
 * an attacker is most likely to own (the pre-auth child): it trusts no
 * length, op or padding it has not checked, and the key operation it
 * calls checks the input against the key once more.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "keyproto.h"
#include "sysio.h"

int keyproto_encode_request(struct frame *f, unsigned op, unsigned pad,
			    const unsigned char *in, size_t n)
{
	frame_init(f, FRAME_KEY_REQUEST);
	if (op > 255 || pad > 255 || n == 0 || n > FRAME_KEY_DATA_MAX ||
	    frame_put_byte(f, (unsigned char)op) < 0 || frame_put_byte(f, (unsigned char)pad) < 0 ||
	    frame_put(f, in, n) < 0)
		return -1;
	return 0;
}

int keyproto_parse_request(struct frame *f, struct keyproto_request *r, const char **why)
{
	const unsigned char *p;
	size_t n;

	*why = "malformed key request";
	if (f->type != FRAME_KEY_REQUEST) {
		*why = "not a key request";
		return -1;
	}
	f->pos = 0;
	if (frame_get(f, &p, &n, 1) < 0 || n != 1)
		return -1;
	r->op = p[0];
	if (frame_get(f, &p, &n, 1) < 0 || n != 1)
		return -1;
	r->pad = p[0];
	if (frame_get(f, &r->in, &r->n, FRAME_KEY_DATA_MAX) < 0 || r->n == 0 ||
	    frame_end(f) < 0)
		return -1;
	switch (r->op) {
	case FRAME_KEY_RSA_SIGN:
		if (r->pad != FRAME_KEY_PAD_PKCS1 && r->pad != FRAME_KEY_PAD_NONE) {
			*why = "unknown RSA padding";
			return -1;
		}
		return 0;
	case FRAME_KEY_ECDSA_SIGN:
		if (r->pad != 0) {
			*why = "padding given for ECDSA";
			return -1;
		}
		return 0;
	default:
		*why = "unknown key operation";
		return -1;
	}
}

int keyproto_encode_reply(struct frame *f, const unsigned char *out, size_t n)
{
	frame_init(f, FRAME_KEY_REPLY);
	if (n > FRAME_KEY_DATA_MAX)
		return -1;
	return frame_put(f, out, n);
}

int keyproto_parse_reply(struct frame *f, const unsigned char **out, size_t *n, const char **why)
{
	*why = "malformed key reply";
	if (f->type != FRAME_KEY_REPLY)
		return -1;
	f->pos = 0;
	if (frame_get(f, out, n, FRAME_KEY_DATA_MAX) < 0 || frame_end(f) < 0)
		return -1;
	if (*n == 0) {
		*why = "the key holder refused the operation";
		return -1;
	}
	return 0;
}

int keyproto_recv(int fd, struct frame *f, long long deadline_ms, const char **why)
{
	unsigned char pkt[KEYPROTO_PACKET_MAX + 1];
	ssize_t n;
	int r;

	for (;;) {
		int w = io_wait(fd, POLLIN, deadline_ms);

		if (w <= 0) {
			*why = w == 0 ? "timed out" : "poll error";
			return -1;
		}
		n = read(fd, pkt, sizeof pkt);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	if (n <= 0) {
		*why = n == 0 ? "end of file" : "read error";
		return n == 0 ? FRAME_RECV_EOF : FRAME_RECV_ERROR;
	}
	r = frame_parse(f, pkt, (size_t)n, why);
	explicit_bzero(pkt, sizeof pkt);
	return r;
}

int keyproto_answer(unsigned *ops, const void *pkt, size_t n, keyproto_op_fn op, void *key,
		    struct frame *reply, const char **why)
{
	struct frame f;
	struct keyproto_request r;
	unsigned char out[FRAME_KEY_DATA_MAX];
	size_t outlen = 0;
	int rc;

	if (n > KEYPROTO_PACKET_MAX) {
		*why = "over-long packet";
		return -1;
	}
	if (frame_parse(&f, pkt, n, why) < 0 || keyproto_parse_request(&f, &r, why) < 0)
		return -1;
	if (*ops >= KEYPROTO_OPS_PER_CHANNEL) {
		*why = "more operations than one handshake makes";
		return -1;
	}
	++*ops;
	rc = op(key, r.op, r.pad, r.in, r.n, out, sizeof out, &outlen);
	frame_wipe(&f);
	if (rc < 0 || outlen == 0 || outlen > sizeof out) {
		*why = "the key refused the operation";
		return -1;
	}
	rc = keyproto_encode_reply(reply, out, outlen);
	explicit_bzero(out, sizeof out);
	if (rc < 0) {
		*why = "reply too long";
		return -1;
	}
	return *ops >= KEYPROTO_OPS_PER_CHANNEL ? 0 : 1;
}
