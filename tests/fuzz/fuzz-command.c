/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the POP3 line splitter and command parser on arbitrary
 * client bytes.  The input is fed to the splitter in chunks whose sizes
 * come from the first byte, so lines split across reads are covered; every
 * line it yields is parsed, and the whole input is also parsed as one line.
 * Invariants are checked with abort(): a line never holds its LF, is never
 * longer than the limit, and a parsed command's arguments lie in its line.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_parse(const unsigned char *p, size_t n)
{
	struct pop3_cmd c;
	const char *err = NULL;

	if (pop3_parse(p, n, &c, &err) < 0) {
		if (!err || c.verb != POP3_NONE)
			abort();
		return;
	}
	if (c.verb == POP3_NONE || c.nargs > 2)
		abort();
	if (memchr(p, '\0', n) || memchr(p, '\r', n))
		abort();
	if (c.arg && (c.arg < p || c.arg + c.arglen > p + n || c.arglen == 0))
		abort();
	if ((c.verb == POP3_RETR || c.verb == POP3_DELE || c.verb == POP3_TOP) && c.msg == 0)
		abort();
	if (c.verb == POP3_USER && (c.arglen > 255 || memchr(c.arg, ' ', c.arglen)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_reader r;
	size_t chunk, off;
	unsigned longs = 0;

	fuzz_parse(data, size);
	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	pop3_reader_init(&r, POP3_IN_MAX, data[0] & 0x80);
	for (off = 1; off < size;) {
		size_t k = size - off < chunk ? size - off : chunk;
		const unsigned char *line;
		size_t n;
		enum pop3_line st;

		if (pop3_reader_feed(&r, data + off, k) < 0)
			abort();	/* the splitter must keep room for a chunk */
		off += k;
		while ((st = pop3_reader_line(&r, &line, &n)) != POP3_LINE_MORE) {
			if (st == POP3_LINE_LONG) {
				longs++;
				continue;
			}
			if (n >= POP3_LINE_MAX || memchr(line, '\n', n))
				abort();
			fuzz_parse(line, n);
		}
		if (pop3_reader_ready(&r))
			abort();	/* ready() and line() must agree */
	}
	(void)longs;
	pop3_reader_free(&r);
	return 0;
}
