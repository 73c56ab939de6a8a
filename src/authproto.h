/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The wire format of the authentication frames, one encoder and one
 * decoder each (frame.h carries the bytes):
 *
 *   FRAME_AUTH_REQUEST  pre-auth child -> leader
 *       method (1 byte, enum frame_method), user, secret
 *   FRAME_AUTH_REPLY    leader -> pre-auth child
 *       reply (1 byte, enum frame_auth: OK, FAIL, TEMPFAIL, CLOSE, INUSE)
 *   FRAME_AUTH_RESULT   auth helper -> leader
 *       result (1 byte, enum frame_auth: OK, FAIL, EXPIRED, TEMPFAIL),
 *       final user name (empty unless OK)
 * The frames about the connection itself (TLS, PROXY, the listener's
 * notes and verdicts, the end of AUTHORIZATION) are connproto.h's.
 *
 * The decoders are the privileged side's guard: the leader (root) takes
 * nothing from the pre-auth child that has not passed
 * authproto_parse_request.  Every field is bounded, a frame with a field
 * too many or too few is refused, and a refusal names its reason for the
 * log.  Fuzzed by tests/fuzz/fuzz-frame.c.
 *
 * User names (both directions) must pass authproto_user_valid:
 *   - 1..FRAME_USER_MAX bytes of well-formed UTF-8 (no overlong forms,
 *     no surrogates): RFC 4616 and RFC 6856 allow UTF-8 names;
 *   - no C0 or C1 control character, no DEL, no space: nothing that
 *     could split a log line or a later protocol line;
 *   - no '/' and no ':': the name becomes a path component (%u in
 *     --mailbox) and a passwd(5) key;
 *   - not starting with '-' (an option to any tool it reaches) or '.'
 *     (".", "..", hidden files in the spool).
 * Secrets: 0..FRAME_SECRET_MAX bytes without NUL (a NUL would truncate
 * the C string PAM and crypt(3) see, making "pw\0junk" equal "pw").
 */
#ifndef POPA3D_AUTHPROTO_H
#define POPA3D_AUTHPROTO_H

#include <stddef.h>

#include "frame.h"

struct authproto_request {
	unsigned char method;			/* enum frame_method */
	char user[FRAME_USER_MAX + 1];		/* NUL-terminated, valid */
	char secret[FRAME_SECRET_MAX + 1];	/* NUL-terminated; wipe! */
	size_t user_len;
	size_t secret_len;
};

/* 1 if the n bytes at p are an acceptable user name (rules above). */
int authproto_user_valid(const void *p, size_t n);

/*
 * Pre-auth child: build a FRAME_AUTH_REQUEST in f (then frame_send it,
 * which wipes f).  -1 (and f wiped) if a field breaks the rules above, so
 * the child learns at once that the leader would refuse it.
 */
int authproto_encode_request(struct frame *f, unsigned method,
			     const void *user, size_t user_len,
			     const void *secret, size_t secret_len);

/*
 * Leader: decode a received frame into rq.  0 on success; -1 with *why
 * set (and rq wiped) on anything else: wrong type, unknown method,
 * missing, extra or over-long fields, a bad user name, NUL in the
 * secret.  The frame's payload is wiped in every case.
 */
int authproto_parse_request(struct frame *f, struct authproto_request *rq,
			    const char **why);
void authproto_request_wipe(struct authproto_request *rq);

/* Leader: the answer to one request.  Pre-auth child: decode it (0 with
 * *code set, -1 with *why for anything but one known code). */
int authproto_encode_reply(struct frame *f, unsigned code);
int authproto_parse_reply(struct frame *f, unsigned *code, const char **why);

/* Auth helper: build the FRAME_AUTH_RESULT (user NULL or "" unless OK). */
int authproto_encode_result(struct frame *f, unsigned result, const char *user);

/*
 * Leader: decode the helper's frame.  0 with *result and user (a C
 * string, valid by the rule above when *result is FRAME_AUTH_OK) set;
 * -1 with *why set otherwise.  user_size must be > FRAME_USER_MAX.
 */
int authproto_parse_result(struct frame *f, unsigned *result,
			   char *user, size_t user_size, const char **why);

#endif
