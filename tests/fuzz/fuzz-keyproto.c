/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the key holder's answer to one packet from a TLS
 * endpoint (keyproto_answer: frame_parse, keyproto_parse_request, the
 * budget), which runs in the process that holds the private key on bytes
 * a compromised pre-auth child chose.  The key is a stand-in that checks
 * what reaches it: only well-formed requests, within the budget.  Input:
 * one packet.  Also replayed over tests/fuzz/corpus-keyproto by `make
 * check` (replay-keyproto).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "frame.h"
#include "keyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_op(void *key, unsigned op, unsigned pad, const unsigned char *in, size_t n,
		   unsigned char *out, size_t outmax, size_t *outlen)
{
	(void)key;
	if (n == 0 || n > FRAME_KEY_DATA_MAX || outmax < n)
		__builtin_trap();
	if (op == FRAME_KEY_ECDSA_SIGN ? pad != 0 :
	    op != FRAME_KEY_RSA_SIGN || (pad != FRAME_KEY_PAD_PKCS1 && pad != FRAME_KEY_PAD_NONE))
		__builtin_trap();
	memcpy(out, in, n);
	*outlen = n;
	return in[0] == 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame reply;
	const unsigned char *out;
	const char *why = NULL;
	unsigned ops = 0;
	size_t n;
	int r = keyproto_answer(&ops, data, size, fuzz_op, NULL, &reply, &why);

	if (r < 0) {
		if (!why)
			__builtin_trap();
		return 0;
	}
	/* an answer: exactly one operation, and a reply that decodes */
	if (ops != 1 || r != 0 || keyproto_parse_reply(&reply, &out, &n, &why) < 0)
		__builtin_trap();
	/* the budget holds: the same packet again is refused */
	if (keyproto_answer(&ops, data, size, fuzz_op, NULL, &reply, &why) >= 0)
		__builtin_trap();
	return 0;
}
