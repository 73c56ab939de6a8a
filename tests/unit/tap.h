/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Minimal TAP for the C unit tests: each check prints "ok N - name" or
 * "not ok N - name"; tap_done() prints the plan and returns the exit
 * status.  Automake's tap-driver counts the lines.
 */
#ifndef POPA3D_TAP_H
#define POPA3D_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

/* cond is evaluated before the message arguments (a plain call leaves
 * the order unspecified, and gcc reads "(%s)", why before the call that
 * sets why). */
#define ok(cond, ...) ({ int tap_pass_ = !!(cond); \
	tap_ok(tap_pass_, __FILE__, __LINE__, __VA_ARGS__); })

__attribute__((format(printf, 4, 5), unused))
static int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", pass ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

__attribute__((unused))
static void tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

__attribute__((unused))
static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
