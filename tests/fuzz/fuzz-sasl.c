/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: SASL's strict base64 decoder and the PLAIN splitter
 * on arbitrary client bytes.  Invariants (abort() on violation): the
 * decoder never writes past its buffer (ASan), a decoded string
 * re-encodes to exactly the input (strictness: one encoding per byte
 * string), and the split fields lie inside the message with no NUL in
 * them and within their limits.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_split(const unsigned char *m, size_t n)
{
	struct sasl_plain p;
	enum sasl_plain_error e = sasl_plain_split(m, n, 1024, &p);

	if (e != SASL_OK)
		return;
	if (p.authcid < m || p.authcid + p.authcid_len > m + n ||
	    p.passwd < m || p.passwd + p.passwd_len > m + n ||
	    p.authzid != m || p.authcid_len == 0 || p.passwd_len == 0 ||
	    p.authcid_len > SASL_FIELD_MAX || p.authzid_len > SASL_FIELD_MAX ||
	    p.passwd_len > 1024)
		abort();
	if (memchr(p.authcid, 0, p.authcid_len) || memchr(p.passwd, 0, p.passwd_len) ||
	    (p.authzid_len && memchr(p.authzid, 0, p.authzid_len)))
		abort();
	if (p.authzid_len && (p.authzid_len != p.authcid_len ||
			      memcmp(p.authzid, p.authcid, p.authcid_len)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out;
	char *enc;
	size_t n, en, cap;

	if (size > SASL_LINE_MAX)
		return 0;
	/* an exact-size heap buffer, so ASan sees a one-byte overrun */
	cap = size / 4 * 3;
	out = malloc(cap ? cap : 1);
	if (!out)
		return 0;
	if (sasl_b64_decode(data, size, out, cap, &n) == 0) {
		enc = malloc(size + 4);
		if (!enc || n > cap || sasl_b64_encode(out, n, enc, size + 4, &en) < 0 ||
		    en != size || memcmp(enc, data, size) != 0)
			abort();
		free(enc);
		fuzz_split(out, n);
	}
	free(out);
	/* the splitter on raw bytes too */
	fuzz_split(data, size);
	return 0;
}
