/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The key holder's frames and per-channel policy (src/keyproto.c): round
 * trips, every truncation and malformation of a request refused before
 * the key is touched, the one-operation budget, and a channel over a
 * real SOCK_SEQPACKET socketpair on which garbage and a half frame are
 * each one refused packet (the holder never waits for "the rest").
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "keyproto.h"
#include "sysio.h"
#include "tap.h"

static int calls;

/* A stand-in key: "signs" by reversing the input, refuses an input
 * that starts with 0. */
static int fake_op(void *key, unsigned op, unsigned pad, const unsigned char *in, size_t n,
		   unsigned char *out, size_t outmax, size_t *outlen)
{
	(void)key;
	(void)pad;
	calls++;
	(void)op;
	if (in[0] == 0 || n > outmax)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = in[n - 1 - i];
	*outlen = n;
	return 0;
}

/* The wire bytes of f. */
static size_t wire(const struct frame *f, unsigned char *out)
{
	memcpy(out, &f->type, 4);
	memcpy(out + 4, &f->len, 4);
	memcpy(out + 8, f->data, f->len);
	return 8 + f->len;
}

static int answer(const unsigned char *pkt, size_t n, unsigned *ops, struct frame *reply)
{
	const char *why = NULL;
	int r = keyproto_answer(ops, pkt, n, fake_op, NULL, reply, &why);

	if (r < 0 && !why)
		return -99;	/* a refusal must say why */
	return r;
}

int main(void)
{
	unsigned char digest[32], pkt[KEYPROTO_PACKET_MAX + 8];
	struct frame f, reply;
	struct keyproto_request rq;
	const unsigned char *out;
	const char *why = NULL;
	unsigned ops;
	size_t n, len;
	int bad;

	for (size_t i = 0; i < sizeof digest; i++)
		digest[i] = (unsigned char)(i + 1);

	/* round trip */
	ok(keyproto_encode_request(&f, FRAME_KEY_ECDSA_SIGN, 0, digest, sizeof digest) == 0 &&
	   keyproto_parse_request(&f, &rq, &why) == 0 && rq.op == FRAME_KEY_ECDSA_SIGN &&
	   rq.pad == 0 && rq.n == sizeof digest && memcmp(rq.in, digest, rq.n) == 0,
	   "request: round trip");
	ok(keyproto_encode_request(&f, FRAME_KEY_RSA_SIGN, FRAME_KEY_PAD_NONE, digest, 0) < 0,
	   "request: empty input not encoded");
	ok(keyproto_encode_reply(&f, digest, 5) == 0 &&
	   keyproto_parse_reply(&f, &out, &len, &why) == 0 && len == 5 &&
	   memcmp(out, digest, 5) == 0, "reply: round trip");
	ok(keyproto_encode_reply(&f, digest, 0) == 0 && keyproto_parse_reply(&f, &out, &len, &why) < 0,
	   "reply: an empty output is a refusal");

	/* one operation, then the channel is spent */
	keyproto_encode_request(&f, FRAME_KEY_ECDSA_SIGN, 0, digest, sizeof digest);
	n = wire(&f, pkt);
	ops = 0;
	calls = 0;
	ok(answer(pkt, n, &ops, &reply) == 0 && ops == 1 && calls == 1 &&
	   keyproto_parse_reply(&reply, &out, &len, &why) == 0 && len == sizeof digest &&
	   out[0] == digest[31], "a valid request is answered; the budget is then spent (0)");
	ok(answer(pkt, n, &ops, &reply) < 0 && calls == 1,
	   "a second request on the channel is refused without touching the key");

	/* every truncation and one extra byte: refused, the key untouched */
	bad = 0;
	calls = 0;
	for (size_t k = 0; k < n; k++) {
		ops = 0;
		if (answer(pkt, k, &ops, &reply) != -1)
			bad++;
	}
	pkt[n] = 0;
	ops = 0;
	if (answer(pkt, n + 1, &ops, &reply) != -1)
		bad++;
	ok(bad == 0 && calls == 0, "every truncation, and a trailing byte, refused with a reason");

	/* malformed requests */
	{
		static const struct {
			unsigned op, pad;
			const char *name;
		} cases[] = {
			{ 0, 0, "op 0" },
			{ 2, 1, "op 2 (RSA decryption: no RSA key exchange)" },
			{ 4, 0, "an unknown op" },
			{ 255, 1, "op 255" },
			{ FRAME_KEY_RSA_SIGN, 0, "RSA without padding code" },
			{ FRAME_KEY_RSA_SIGN, 3, "RSA with an unknown padding" },
			{ FRAME_KEY_ECDSA_SIGN, 1, "ECDSA with a padding" },
		};

		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			calls = 0;
			ops = 0;
			keyproto_encode_request(&f, cases[i].op, cases[i].pad, digest, 32);
			n = wire(&f, pkt);
			ok(answer(pkt, n, &ops, &reply) == -1 && calls == 0 && ops == 0,
			   "refused before the key: %s", cases[i].name);
		}
	}
	/* another frame type, an extra field, an over-long packet */
	frame_init(&f, FRAME_KEY_REPLY);
	frame_put(&f, digest, 32);
	n = wire(&f, pkt);
	ops = 0;
	ok(answer(pkt, n, &ops, &reply) == -1, "a KEY_REPLY sent to the holder is refused");
	frame_init(&f, FRAME_AUTH_REQUEST);
	frame_put_byte(&f, 1);
	n = wire(&f, pkt);
	ok(answer(pkt, n, &ops, &reply) == -1, "an AUTH_REQUEST sent to the holder is refused");
	keyproto_encode_request(&f, FRAME_KEY_ECDSA_SIGN, 0, digest, 32);
	frame_put_byte(&f, 0);
	n = wire(&f, pkt);
	ok(answer(pkt, n, &ops, &reply) == -1, "a request with a field too many is refused");
	memset(pkt, 'A', sizeof pkt);
	ok(answer(pkt, KEYPROTO_PACKET_MAX + 1, &ops, &reply) == -1, "an over-long packet is refused");
	calls = 0;
	ops = 0;
	digest[0] = 0;
	keyproto_encode_request(&f, FRAME_KEY_RSA_SIGN, FRAME_KEY_PAD_PKCS1, digest, 32);
	digest[0] = 1;
	n = wire(&f, pkt);
	ok(answer(pkt, n, &ops, &reply) == -1 && calls == 1 && ops == 1,
	   "an operation the key refuses ends the channel, and counts");

	/* packets on a real channel */
	{
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			ok(0, "socketpair");
			return tap_done();
		}
		/* half a frame: one packet, refused at once, not waited on */
		keyproto_encode_request(&f, FRAME_KEY_ECDSA_SIGN, 0, digest, 32);
		n = wire(&f, pkt);
		ok(write(sv[0], pkt, n / 2) == (ssize_t)(n / 2) &&
		   keyproto_recv(sv[1], &f, io_now_ms() + 2000, &why) < 0 &&
		   strcmp(why, "truncated frame") == 0, "keyproto_recv: half a frame is one bad packet");
		ok(write(sv[0], pkt, n) == (ssize_t)n && keyproto_recv(sv[1], &f, io_now_ms() + 2000, &why) == 0 &&
		   keyproto_parse_request(&f, &rq, &why) == 0 && rq.n == 32,
		   "keyproto_recv: then a whole frame reads whole");
		memset(pkt, 0xff, sizeof pkt);
		ok(write(sv[0], pkt, KEYPROTO_PACKET_MAX + 1) == KEYPROTO_PACKET_MAX + 1 &&
		   keyproto_recv(sv[1], &f, io_now_ms() + 2000, &why) < 0,
		   "keyproto_recv: an over-long packet is refused");
		ok(keyproto_recv(sv[1], &f, io_now_ms() + 50, &why) < 0 && strcmp(why, "timed out") == 0,
		   "keyproto_recv: nothing sent: the deadline ends the wait");
		close(sv[0]);
		ok(keyproto_recv(sv[1], &f, io_now_ms() + 2000, &why) == FRAME_RECV_EOF, "keyproto_recv: end of file");
		close(sv[1]);
	}
	return tap_done();
}
