/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the frame decoder (frame_parse, frame_get) and the
 * authentication frames' decoders (authproto_parse_request, _reply,
 * _result).  They run as root on bytes a compromised pre-auth child or
 * auth helper chose (the reply in the pre-auth child, on the leader's).
 * The connection frames have their own target, fuzz-connproto.c.
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
		unsigned reply;

		if (authproto_parse_reply(&f, &reply, &why) == 0) {
			struct frame g;

			if (authproto_encode_reply(&g, reply) < 0 || g.len != f.len ||
			    memcmp(g.data, f.data, f.len) != 0)
				__builtin_trap();
		}
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
