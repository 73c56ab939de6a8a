/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * The engine's one error helper, shared by the files of mbox/: a leaf,
 * so that no file reaches another through mbox.c to report a failure.
 */
#ifndef POPA3D_MBOX_STATUS_H
#define POPA3D_MBOX_STATUS_H

#include <stddef.h>

/* Set why (never NULL-dereferenced; whysize 0 is fine).  The text is for
 * the log, never for the client. */
void mbox_why(char *why, size_t whysize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
