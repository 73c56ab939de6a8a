/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one parser for numbers that come from outside (and its inverse for
 * the numbers we send).  A number is one or
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

/*
 * The other way, for numbers we send (LIST, UIDL, STAT lines): the
 * decimal digits of v, exactly what num_parse accepts back, into out,
 * which has room for NUM_DEC_MAX bytes; no NUL.  Returns the length.
 * Without printf: these run once per message of a LIST or UIDL listing,
 * where vfprintf was the largest cost (doc/performance.md).
 */
#define NUM_DEC_MAX 20
size_t num_dec(char *out, uint64_t v);
/* Lower-case hex of n bytes, 2n chars into out; no NUL. */
void num_hex(char *out, const unsigned char *p, size_t n);

#endif
