/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the config-file parser (src/options.c).  A file that
 * parses is also printed as popa3d -T prints it, and that output must
 * parse back to the same output (the round trip -T promises).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct options o, o2;
	struct buf err, shown, again;

	options_defaults(&o);
	buf_init(&err, 64 * 1024);
	if (options_parse_config(&o, data, size, "fuzz", &err) == 0 &&
	    options_check(&o, &err) == 0) {
		options_finish(&o);
		buf_init(&shown, 1024 * 1024);
		buf_init(&again, 1024 * 1024);
		options_show(&o, &shown);
		options_defaults(&o2);
		if (options_parse_config(&o2, shown.data, shown.len, "shown", &err) < 0)
			abort();
		options_finish(&o2);
		options_show(&o2, &again);
		if (again.len != shown.len || memcmp(again.data, shown.data, shown.len) != 0)
			abort();
		options_free(&o2);
		buf_free(&shown);
		buf_free(&again);
	}
	options_free(&o);
	buf_free(&err);
	return 0;
}
