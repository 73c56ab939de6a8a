/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: every process.
 * Bounded byte buffers; see buf.h.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void buf_setup(struct buf *b, size_t max, int wipe)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->wipe = wipe;
}

void buf_init(struct buf *b, size_t max)
{
	buf_setup(b, max, 0);
}

void buf_init_secret(struct buf *b, size_t max)
{
	buf_setup(b, max, 1);
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t need, ncap;
	unsigned char *p;

	/* +1 keeps room for buf_cstr's terminator without a reallocation. */
	if (n > b->max - b->len) {
		errno = E2BIG;
		return -1;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if (b->wipe) {
		/* realloc could leave a copy of a secret behind: move by hand. */
		p = malloc(ncap);
		if (!p)
			return -1;
		if (b->data) {
			memcpy(p, b->data, b->len);
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
	} else {
		p = realloc(b->data, ncap);
		if (!p)
			return -1;
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, unsigned char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	/* reserve left room for n bytes plus the terminator vsnprintf adds */
	if (vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap) != n)
		return -1;
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		if (b->wipe && b->data)
			explicit_bzero(b->data, b->len);
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	if (b->wipe)
		explicit_bzero(b->data + b->len, n);
}

ssize_t buf_find(const struct buf *b, size_t from, unsigned char c)
{
	const unsigned char *p;

	if (from >= b->len)
		return -1;
	p = memchr(b->data + from, c, b->len - from);
	return p ? (ssize_t)(p - b->data) : -1;
}

void buf_truncate(struct buf *b, size_t n)
{
	if (n >= b->len)
		return;
	if (b->wipe)
		explicit_bzero(b->data + n, b->len - n);
	b->len = n;
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}

void buf_wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	b->len = 0;
}

void buf_free(struct buf *b)
{
	if (b->data && b->wipe)
		explicit_bzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

const char *buf_cstr(struct buf *b)
{
	if (b->len + 1 > b->cap) {
		/* only an empty, never-allocated buffer gets here */
		if (buf_reserve(b, 0) < 0)
			return NULL;
	}
	b->data[b->len] = '\0';
	return (const char *)b->data;
}

int buf_has_nul(const struct buf *b)
{
	return b->len && memchr(b->data, '\0', b->len) != NULL;
}
