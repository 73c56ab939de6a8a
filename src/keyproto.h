/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The key holder's wire format and its per-channel policy, without
 * OpenSSL and without system calls except the two that move one packet,
 * so that the decoder is fuzzed as it runs (tests/fuzz/fuzz-keyproto.c):
 *
 *   FRAME_KEY_REQUEST  TLS endpoint (pre-auth child) -> key holder
 *       op (1 byte, enum frame_key_op), pad (1 byte, enum frame_key_pad,
 *       0 for ECDSA), input (1..FRAME_KEY_DATA_MAX bytes)
 *   FRAME_KEY_REPLY    key holder -> TLS endpoint
 *       output (0..FRAME_KEY_DATA_MAX bytes; empty: refused)
 *
 * A channel is a SOCK_SEQPACKET socket: one frame is one packet, read
 * whole by one read(2), so a peer that sends half a frame cannot make
 * the holder wait for the rest.  A channel answers at most
 * KEYPROTO_OPS_PER_CHANNEL operations, one handshake's worth: a TLS 1.2
 * or 1.3 server handshake makes one private-key operation (the
 * ServerKeyExchange or CertificateVerify signature; RSA key exchange,
 * which would need a decryption, is off), and renegotiation is off.  Anything else on a
 * channel -- a malformed frame, a frame of another type, a request past
 * the budget, a refused operation (tls_key_op refuses, among others, an
 * RSA block without padding that is not a PSS encoding) -- ends that
 * channel, never the holder.
 */
#ifndef POPA3D_KEYPROTO_H
#define POPA3D_KEYPROTO_H

#include <stddef.h>

#include "frame.h"

#define KEYPROTO_OPS_PER_CHANNEL 1
/* The largest packet a channel carries; one more byte to read tells a
 * packet that was too long. */
#define KEYPROTO_PACKET_MAX (8 + FRAME_PAYLOAD_MAX)

struct keyproto_request {
	unsigned op;			/* enum frame_key_op */
	unsigned pad;			/* enum frame_key_pad, 0 for ECDSA */
	const unsigned char *in;	/* points into the frame */
	size_t n;
};

int keyproto_encode_request(struct frame *f, unsigned op, unsigned pad,
			    const unsigned char *in, size_t n);
int keyproto_parse_request(struct frame *f, struct keyproto_request *r, const char **why);
/* n == 0 is a refusal. */
int keyproto_encode_reply(struct frame *f, const unsigned char *out, size_t n);
/* 0 with *out (into f) and *n > 0; -1 (refused or malformed). */
int keyproto_parse_reply(struct frame *f, const unsigned char **out, size_t *n, const char **why);

/* One packet in: the frame in f; FRAME_RECV_EOF when the peer closed,
 * FRAME_RECV_ERROR (error, time-out, malformed or over-long packet), both
 * with *why set.  deadline_ms as io_wait. */
int keyproto_recv(int fd, struct frame *f, long long deadline_ms, const char **why);

/* The key operation the holder performs (tls_key_op in the daemon). */
typedef int (*keyproto_op_fn)(void *key, unsigned op, unsigned pad, const unsigned char *in,
			      size_t n, unsigned char *out, size_t outmax, size_t *outlen);

/*
 * The holder's answer to one packet on a channel that has made *ops
 * operations so far.  Returns 1 with the reply in reply (send it, keep
 * the channel), 0 with the reply in reply (send it, then close: the
 * budget is spent), or -1 with *why set (close without a word).
 */
int keyproto_answer(unsigned *ops, const void *pkt, size_t n, keyproto_op_fn op, void *key,
		    struct frame *reply, const char **why);

#endif
