/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one bounded byte buffer of popa3d.
 *
 * Every byte that comes from outside (the client, a child process, a
 * mailbox, a config file) lands in a struct buf.  A buffer has a hard
 * ceiling (max) fixed when it is initialised; no append can grow it past
 * that, so a hostile peer can make an operation fail but never make us
 * allocate without bound.  Contents may hold NUL bytes; buf_cstr() adds
 * a terminator that is not counted in len.
 */
#ifndef POPA3D_BUF_H
#define POPA3D_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

struct buf {
	unsigned char *data;	/* NULL until the first append */
	size_t len;		/* bytes in use */
	size_t cap;		/* bytes allocated (always > len once allocated) */
	size_t max;		/* hard ceiling for len */
	int wipe;		/* explicit_bzero on free/reset/realloc (secrets) */
};

/* Start empty with a ceiling of max bytes of content. */
void buf_init(struct buf *b, size_t max);
/* As buf_init, and every byte it ever held is wiped before release. */
void buf_init_secret(struct buf *b, size_t max);

/* Make room for n more bytes; -1 (errno E2BIG or ENOMEM) if impossible. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, unsigned char c);
/* snprintf into the buffer; -1 if the result would pass max. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drop n bytes from the front (n > len drops all). */
void buf_consume(struct buf *b, size_t n);
/* Index of the first c at or after from, or -1. */
ssize_t buf_find(const struct buf *b, size_t from, unsigned char c);
/* Keep the first n bytes. */
void buf_truncate(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Release the storage (wiping it first if it is a secret buffer). */
void buf_free(struct buf *b);
/* Wipe the contents now, whatever the buffer's kind, and empty it. */
void buf_wipe(struct buf *b);
/* NUL-terminate without counting it; NULL if there is no room. */
const char *buf_cstr(struct buf *b);
/* 1 if the buffer holds a NUL byte (such a buffer is no C string). */
int buf_has_nul(const struct buf *b);

#endif
