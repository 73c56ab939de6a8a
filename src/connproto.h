/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The wire format of the connection frames: what the processes tell each
 * other about one connection, beside its credentials (those are
 * authproto.h's).  One encoder and one decoder each; frame.h carries the
 * bytes, boundary.c says who may send which and when:
 *
 *   FRAME_TLS_ACTIVE    pre-auth child -> leader: TLS is up
 *       version and cipher, text of at most FRAME_DETAIL_MAX bytes
 *   FRAME_PROXY_SOURCE  pre-auth child -> leader -> listener
 *   FRAME_PROXY_VERDICT listener -> leader -> pre-auth child
 *   FRAME_USER_NOTE     leader -> listener (standalone)
 *   FRAME_USER_VERDICT  listener -> leader (standalone)
 *   FRAME_PREAUTH_END   pre-auth child -> leader: why AUTHORIZATION ended
 * FRAME_EVICT (listener -> leader) carries nothing: frame_init alone.
 *
 * The decoders run as root (leader, listener) on bytes the pre-auth
 * child or a leader chose: every field is bounded, a frame with a field
 * too many or too few is refused, and a refusal names its reason for the
 * log.  User names follow authproto_user_valid.  Fuzzed by
 * tests/fuzz/fuzz-connproto.c.
 */
#ifndef POPA3D_CONNPROTO_H
#define POPA3D_CONNPROTO_H

#include <stddef.h>

#include "frame.h"

/*
 * TLS_ACTIVE: the pre-auth child's summary of its handshake (version,
 * a space, cipher), cut to FRAME_DETAIL_MAX.  The decoder points *text
 * into f's payload (*len bytes, not NUL-terminated): the child's bytes,
 * for log_clean.
 */
int connproto_encode_tls_active(struct frame *f, const char *summary);
int connproto_parse_tls_active(struct frame *f, const unsigned char **text, size_t *len,
			       const char **why);

/*
 * PROXY protocol frames (frame.h): where a connection really comes from,
 * pre-auth child -> leader -> listener, and the verdict back.  The
 * source's family is 0 (LOCAL/UNKNOWN: the connection's own peer), 4 or
 * 6 with that many address bytes, or FRAME_PROXY_FAILED with a one-byte
 * reason (enum proxy_error) for the leader's log line.
 */
struct connproto_source {
	unsigned char family;
	unsigned char addr[16];
	unsigned char error;		/* FRAME_PROXY_FAILED only */
};

int connproto_encode_source(struct frame *f, const struct connproto_source *s);
/* 0, or -1 with *why: wrong type, unknown family, wrong address length. */
int connproto_parse_source(struct frame *f, struct connproto_source *s, const char **why);
/* penalty_ms 0..CONNPROTO_PENALTY_MAX */
#define CONNPROTO_PENALTY_MAX 3600000LL
int connproto_encode_verdict(struct frame *f, unsigned verdict, long long penalty_ms);
int connproto_parse_verdict(struct frame *f, unsigned *verdict, long long *penalty_ms,
			    const char **why);
/*
 * Standalone, leader -> listener: a failed attempt for a user name, or a
 * login asking to start a session; and the listener's verdict on that
 * (enum frame_user: GO, REFUSE_USER for --max-per-user, REFUSE_SESSIONS
 * for --max-sessions).  user must pass authproto_user_valid.
 */
int connproto_encode_user_note(struct frame *f, unsigned event, const char *user);
/* 0 with *event and user (a valid C string) set; -1 with *why set.
 * user_size must be > FRAME_USER_MAX. */
int connproto_parse_user_note(struct frame *f, unsigned *event, char *user,
			      size_t user_size, const char **why);
int connproto_encode_user_verdict(struct frame *f, unsigned verdict);
int connproto_parse_user_verdict(struct frame *f, unsigned *verdict, const char **why);

/*
 * Pre-auth child -> leader: why AUTHORIZATION ended (enum frame_end) and
 * an optional detail text, cut to FRAME_DETAIL_MAX.  The decoder copies
 * the detail NUL-terminated into detail (detail_size > FRAME_DETAIL_MAX);
 * its bytes are the child's and must go through log_clean.
 */
int connproto_encode_end(struct frame *f, unsigned reason, const char *detail);
int connproto_parse_end(struct frame *f, unsigned *reason, char *detail, size_t detail_size,
			const char **why);

#endif
