/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one parser for numbers that come from outside.  A number is one or
 * more ASCII digits and nothing else: no sign, no blanks, no leading
 * zeros (except "0" itself), no trailing bytes, no overflow, at most max.
 * "RETR 00000000000000000001" and "LIST 4294967297" are both rejected,
 * never quietly turned into message 1.
 */
#ifndef POPA3D_NUM_H
#define POPA3D_NUM_H

#include <stddef.h>
#include <stdint.h>

/* 0 and *out set on success, -1 (out untouched) otherwise. */
int num_parse(const void *s, size_t len, uint64_t max, uint64_t *out);
/* As num_parse on a NUL-terminated string. */
int num_parse_str(const char *s, uint64_t max, uint64_t *out);

#endif
