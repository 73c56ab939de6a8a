/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the config-file parser (src/options.c). */
#include "config.h"

#include <stdint.h>
#include <stddef.h>

#include "buf.h"
#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct options o;
	struct buf err;

	options_defaults(&o);
	buf_init(&err, 4096);
	if (options_parse_config(&o, data, size, "fuzz", &err) == 0)
		(void)options_check(&o, &err);
	options_free(&o);
	buf_free(&err);
	return 0;
}
