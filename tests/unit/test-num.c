/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the number parser for untrusted input and the formatters
 * for the numbers we send (src/lib/num.c). */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "num.h"
#include "tap.h"

static int p(const char *s, uint64_t max, uint64_t *v)
{
	return num_parse(s, strlen(s), max, v);
}

int main(void)
{
	uint64_t v = 12345;
	static const char *bad[] = {
		"", "-1", "+1", " 1", "1 ", "1x", "x1", "01", "00", "0x10",
		"00000000000000000001", "1.0", "1e3", "\t1", "1\r", "١",
	};

	ok(p("0", 10, &v) == 0 && v == 0, "0");
	ok(p("1", 10, &v) == 0 && v == 1, "1");
	ok(p("10", 10, &v) == 0 && v == 10, "max itself");
	ok(p("11", 10, &v) == -1 && v == 10, "max+1 rejected, out untouched");
	ok(p("4294967295", UINT32_MAX, &v) == 0 && v == 4294967295u, "UINT32_MAX");
	ok(p("4294967296", UINT32_MAX, &v) == -1, "UINT32_MAX+1 rejected");
	ok(p("4294967297", UINT32_MAX, &v) == -1, "LIST 4294967297 is not message 1");
	ok(p("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX, "UINT64_MAX");
	ok(p("18446744073709551616", UINT64_MAX, &v) == -1, "UINT64_MAX+1 overflows, rejected");
	ok(p("99999999999999999999999999999", UINT64_MAX, &v) == -1, "far overflow rejected");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(p(bad[i], UINT64_MAX, &v) == -1, "rejects \"%s\"", bad[i]);
	ok(num_parse("12\0003", 4, 100000, &v) == -1, "embedded NUL rejected");
	ok(num_parse("123", 2, 1000, &v) == 0 && v == 12, "length bounds the parse");
	ok(num_parse_str("600", 86400, &v) == 0 && v == 600, "num_parse_str");

	/* num_dec: what printf's %llu gives, and what num_parse takes back */
	{
		static const uint64_t vals[] = {
			0, 1, 9, 10, 99, 100, 4294967295u, 4294967296u,
			10000000000000000000u, UINT64_MAX,
		};
		char d[NUM_DEC_MAX + 1], want[32];

		for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
			size_t n = num_dec(d, vals[i]);
			uint64_t back = 1;

			d[n] = '\0';
			snprintf(want, sizeof want, "%" PRIu64, vals[i]);
			ok(n <= NUM_DEC_MAX && strcmp(d, want) == 0 &&
			   num_parse(d, n, UINT64_MAX, &back) == 0 && back == vals[i],
			   "num_dec(%s) = \"%s\" and parses back", want, d);
		}
	}
	{
		static const unsigned char bytes[] = { 0x00, 0x09, 0x0a, 0x7f, 0x80, 0xa5, 0xf0, 0xff };
		char h[2 * sizeof bytes + 1];

		memset(h, '#', sizeof h);
		num_hex(h, bytes, sizeof bytes);
		ok(memcmp(h, "00090a7f80a5f0ff", 16) == 0 && h[16] == '#',
		   "num_hex: lower case, two digits a byte, nothing past 2n");
	}
	return tap_done();
}
