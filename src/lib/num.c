/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: every process.
 * The number parser for untrusted input; see num.h.
 */
#include "config.h"

#include <string.h>

#include "num.h"

int num_parse(const void *s, size_t len, uint64_t max, uint64_t *out)
{
	const unsigned char *p = s;
	uint64_t v = 0;
	size_t i;

	if (len == 0 || (p[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return -1;
		d = p[i] - '0';
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int num_parse_str(const char *s, uint64_t max, uint64_t *out)
{
	return num_parse(s, strlen(s), max, out);
}

size_t num_dec(char *out, uint64_t v)
{
	char tmp[NUM_DEC_MAX];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void num_hex(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
}
