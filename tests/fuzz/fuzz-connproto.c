/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the connection frames' decoders (src/connproto.c):
 * TLS_ACTIVE, PROXY_SOURCE and _VERDICT, USER_NOTE and _VERDICT,
 * PREAUTH_END.  They run as root, in the leader on bytes a compromised
 * pre-auth child chose and in the listener on a leader's.  Whatever a
 * decoder accepts must be in range and re-encode to the same bytes.
 * Input: one raw frame (8-byte header + payload).  Also replayed over
 * tests/fuzz/corpus-connproto by `make check` (replay-connproto).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "connproto.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted frame re-encodes to the very same bytes. */
static void same_bytes(const struct frame *f, const struct frame *g)
{
	if (g->len != f->len || memcmp(g->data, f->data, f->len) != 0)
		__builtin_trap();
}

static void fuzz_tls_active(struct frame *f)
{
	const unsigned char *p;
	const char *why = NULL;
	size_t n;

	/* the text is the child's: bounded, inside the payload */
	if (connproto_parse_tls_active(f, &p, &n, &why) == 0 &&
	    (n > FRAME_DETAIL_MAX || p < f->data || p + n > f->data + f->len))
		__builtin_trap();
}

static void fuzz_proxy(struct frame *f)
{
	struct connproto_source src;
	const char *why = NULL;
	unsigned verdict;
	long long pen;

	if (connproto_parse_source(f, &src, &why) == 0) {
		struct frame g;

		if (connproto_encode_source(&g, &src) < 0)
			__builtin_trap();
		same_bytes(f, &g);
	}
	if (connproto_parse_verdict(f, &verdict, &pen, &why) == 0 &&
	    ((verdict != FRAME_PROXY_GO && verdict != FRAME_PROXY_REFUSE) ||
	     pen < 0 || pen > CONNPROTO_PENALTY_MAX))
		__builtin_trap();
}

/* An accepted end frame: a known reason, a bounded detail that
 * re-encodes to the same bytes unless it holds a NUL (the leader treats
 * the detail as a C string). */
static void fuzz_end(struct frame *f)
{
	char detail[FRAME_DETAIL_MAX + 1];
	const char *why = NULL;
	unsigned reason;

	if (connproto_parse_end(f, &reason, detail, sizeof detail, &why) == 0) {
		struct frame g;

		if (reason == 0 || reason > FRAME_END_MAX || strlen(detail) > FRAME_DETAIL_MAX)
			__builtin_trap();
		if (connproto_encode_end(&g, reason, detail) < 0 ||
		    (g.len == f->len && memcmp(g.data, f->data, f->len) != 0 &&
		     !memchr(f->data, '\0', f->len)))
			__builtin_trap();
	}
}

static void fuzz_user(struct frame *f)
{
	char name[FRAME_USER_MAX + 1];
	const char *why = NULL;
	unsigned event, verdict;

	if (connproto_parse_user_note(f, &event, name, sizeof name, &why) == 0) {
		struct frame g;

		if (connproto_encode_user_note(&g, event, name) < 0)
			__builtin_trap();
		same_bytes(f, &g);
	}
	if (connproto_parse_user_verdict(f, &verdict, &why) == 0 &&
	    verdict != FRAME_USER_GO && verdict != FRAME_USER_REFUSE_USER &&
	    verdict != FRAME_USER_REFUSE_SESSIONS)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame f;
	const char *why = NULL;

	if (frame_parse(&f, data, size, &why) < 0) {
		if (!why)
			__builtin_trap();
		return 0;
	}
	fuzz_tls_active(&f);
	fuzz_proxy(&f);
	fuzz_end(&f);
	fuzz_user(&f);
	return 0;
}
