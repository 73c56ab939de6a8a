/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: the bounded buffer (src/lib/buf.c). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

int main(void)
{
	struct buf b;
	unsigned char big[5000];

	buf_init(&b, 16);
	ok(b.len == 0 && b.data == NULL, "empty buffer allocates nothing");
	ok(buf_cstr(&b) && strcmp(buf_cstr(&b), "") == 0, "empty buffer is the empty string");
	ok(buf_append(&b, "hello", 5) == 0 && b.len == 5, "append 5");
	ok(buf_append_str(&b, " world") == 0 && b.len == 11, "append_str");
	ok(memcmp(b.data, "hello world", 11) == 0, "contents");
	errno = 0;
	ok(buf_append(&b, "123456", 6) == -1 && errno == E2BIG, "append past max fails with E2BIG");
	ok(b.len == 11 && memcmp(b.data, "hello world", 11) == 0, "failed append leaves contents intact");
	ok(buf_append(&b, "12345", 5) == 0 && b.len == 16, "append exactly to max");
	ok(buf_append_byte(&b, 'x') == -1, "one byte past max fails");
	ok(buf_cstr(&b) != NULL && strlen(buf_cstr(&b)) == 16, "cstr at max still has room for NUL");
	ok(buf_find(&b, 0, 'w') == 6, "find");
	ok(buf_find(&b, 7, 'w') == -1, "find from past the byte");
	ok(buf_find(&b, 100, 'h') == -1, "find from past the end");
	buf_consume(&b, 6);
	ok(b.len == 10 && memcmp(b.data, "world12345", 10) == 0, "consume from front");
	buf_consume(&b, 1000);
	ok(b.len == 0, "consume more than len empties");
	buf_free(&b);

	buf_init(&b, 8);
	ok(buf_printf(&b, "%d-%s", 42, "ab") == 0 && b.len == 5 &&
	   memcmp(b.data, "42-ab", 5) == 0, "printf");
	ok(buf_printf(&b, "%s", "toolong") == -1 && b.len == 5, "printf past max fails, keeps contents");
	ok(buf_printf(&b, "%s", "xyz") == 0 && b.len == 8, "printf exactly to max");
	buf_truncate(&b, 2);
	ok(b.len == 2 && memcmp(b.data, "42", 2) == 0, "truncate");
	buf_reset(&b);
	ok(b.len == 0, "reset");
	buf_free(&b);

	buf_init(&b, 10);
	ok(buf_append(&b, "a\0b", 3) == 0 && buf_has_nul(&b), "NUL bytes kept, detected");
	buf_reset(&b);
	ok(!buf_has_nul(&b), "empty has no NUL");
	buf_free(&b);

	/* growth across many reallocations keeps every byte */
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7);
	buf_init(&b, sizeof big);
	for (size_t i = 0; i < sizeof big; i += 100)
		buf_append(&b, big + i, sizeof big - i < 100 ? sizeof big - i : 100);
	ok(b.len == sizeof big && memcmp(b.data, big, sizeof big) == 0, "growth in steps keeps contents");
	ok(b.cap <= b.max + 1, "capacity never exceeds max+1 (%zu)", b.cap);
	buf_free(&b);
	ok(b.data == NULL && b.len == 0, "free resets");

	/* secret buffers move by hand and wipe */
	buf_init_secret(&b, 4096);
	ok(b.wipe == 1, "secret buffer flagged");
	for (int i = 0; i < 100; i++)
		buf_append_str(&b, "password");
	ok(b.len == 800 && memcmp(b.data + 792, "password", 8) == 0, "secret buffer grows correctly");
	buf_wipe(&b);
	{
		int zero = 1;

		for (size_t i = 0; i < b.cap; i++)
			if (b.data[i])
				zero = 0;
		ok(zero && b.len == 0, "wipe zeroes the whole allocation");
	}
	buf_free(&b);

	buf_init(&b, 0);
	ok(buf_append(&b, "x", 1) == -1, "max 0 refuses everything");
	ok(buf_append(&b, "", 0) == 0, "appending nothing always works");
	buf_free(&b);
	return tap_done();
}
