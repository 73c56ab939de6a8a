/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the leader's decoders of frames from other processes
 * (frame_parse, frame_get, authproto_parse_request/_result, the
 * PROXY source and verdict decoders, and the pre-auth child's end frame
 * and the listener's session verdict).  They run
 * as root on bytes a compromised pre-auth child or auth helper chose.
 * Input: one raw frame (8-byte header + payload).  Also replayed over
 * tests/fuzz/corpus-frame by `make check` (replay-frame).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "authproto.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame f;
	struct authproto_request rq;
	const unsigned char *p;
	const char *why = NULL;
	char user[FRAME_USER_MAX + 1];
	unsigned code;
	size_t n, total = 0;

	if (frame_parse(&f, data, size, &why) < 0) {
		if (!why)
			__builtin_trap();
		return 0;
	}
	/* Walk the fields as a generic decoder would: every field must lie
	 * inside the payload. */
	while (frame_get(&f, &p, &n, UINT16_MAX) == 0) {
		if (p < f.data || p + n > f.data + f.len)
			__builtin_trap();
		total += 2 + n;
	}
	if (total > f.len || (frame_end(&f) == 0) != (total == f.len))
		__builtin_trap();

	{
		struct authproto_source src;
		unsigned verdict;
		long long pen;

		/* An accepted source re-encodes to the very same bytes. */
		if (authproto_parse_source(&f, &src, &why) == 0) {
			struct frame g;

			if (authproto_encode_source(&g, &src) < 0 || g.len != f.len ||
			    memcmp(g.data, f.data, f.len) != 0)
				__builtin_trap();
		}
		if (authproto_parse_verdict(&f, &verdict, &pen, &why) == 0 &&
		    ((verdict != FRAME_PROXY_GO && verdict != FRAME_PROXY_REFUSE) ||
		     pen < 0 || pen > AUTHPROTO_PENALTY_MAX))
			__builtin_trap();
	}
	{
		/* An accepted end frame: a known reason, a bounded detail that
		 * re-encodes to the same bytes unless it holds a NUL (the
		 * leader treats the detail as a C string). */
		char detail[FRAME_DETAIL_MAX + 1];
		unsigned reason;

		if (authproto_parse_end(&f, &reason, detail, sizeof detail, &why) == 0) {
			struct frame g;

			if (reason == 0 || reason > FRAME_END_MAX || strlen(detail) > FRAME_DETAIL_MAX)
				__builtin_trap();
			if (authproto_encode_end(&g, reason, detail) < 0 ||
			    (g.len == f.len && memcmp(g.data, f.data, f.len) != 0 &&
			     !memchr(f.data, '\0', f.len)))
				__builtin_trap();
		}
	}
	{
		char name[FRAME_USER_MAX + 1];
		unsigned event, verdict;

		/* An accepted user note re-encodes to the very same bytes. */
		if (authproto_parse_user_note(&f, &event, name, sizeof name, &why) == 0) {
			struct frame g;

			if (authproto_encode_user_note(&g, event, name) < 0 || g.len != f.len ||
			    memcmp(g.data, f.data, f.len) != 0)
				__builtin_trap();
		}
		if (authproto_parse_user_verdict(&f, &verdict, &why) == 0 &&
		    verdict != FRAME_USER_GO && verdict != FRAME_USER_REFUSE_USER &&
		    verdict != FRAME_USER_REFUSE_SESSIONS)
			__builtin_trap();
	}
	if (authproto_parse_result(&f, &code, user, sizeof user, &why) == 0) {
		if (code > FRAME_AUTH_TEMPFAIL ||
		    (code == FRAME_AUTH_OK && !authproto_user_valid(user, strlen(user))))
			__builtin_trap();
	}
	if (authproto_parse_request(&f, &rq, &why) == 0) {
		/* Whatever was accepted must round-trip through the encoder. */
		struct frame g;

		if (!authproto_user_valid(rq.user, rq.user_len) ||
		    memchr(rq.secret, '\0', rq.secret_len) ||
		    authproto_encode_request(&g, rq.method, rq.user, rq.user_len,
					     rq.secret, rq.secret_len) < 0)
			__builtin_trap();
		frame_wipe(&g);
		authproto_request_wipe(&rq);
	} else if (rq.secret[0] != '\0') {
		__builtin_trap();	/* a refused request keeps no secret */
	}
	return 0;
}
