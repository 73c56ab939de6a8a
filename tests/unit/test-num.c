/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the number parser for untrusted input (src/lib/num.c). */
#include "config.h"

#include <stdint.h>
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
	return tap_done();
}
