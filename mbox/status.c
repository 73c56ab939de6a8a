/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * The reason text that goes with a failed mbox_status (status.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "status.h"

void mbox_why(char *why, size_t whysize, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whysize)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, whysize, fmt, ap);
	va_end(ap);
}
