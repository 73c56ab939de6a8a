/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers shared by the mbox engine's unit tests: scratch files, an
 * output sink that checks POP3 framing as it goes, default options.
 */
#ifndef POPA3D_TEST_MBOX_UTIL_H
#define POPA3D_TEST_MBOX_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbox.h"

static char tm_dir[64];

__attribute__((unused))
static void tm_setup(void)
{
	snprintf(tm_dir, sizeof(tm_dir), "/tmp/test-mbox-XXXXXX");
	if (!mkdtemp(tm_dir)) {
		perror("mkdtemp");
		exit(99);
	}
}

__attribute__((unused))
static const char *tm_path(const char *name)
{
	/* A ring: callers keep a few results alive at a time. */
	static char p[256][256];
	static int k;

	k = (k + 1) % 256;
	snprintf(p[k], sizeof(p[k]), "%s/%s", tm_dir, name);
	return p[k];
}

__attribute__((unused))
static void tm_write(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || (n && write(fd, data, n) != (ssize_t)n) || close(fd) < 0) {
		perror(path);
		exit(99);
	}
}

__attribute__((unused))
static void tm_append(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n || close(fd) < 0) {
		perror(path);
		exit(99);
	}
}

/* Whole file into a NUL-terminated heap buffer. */
__attribute__((unused))
static char *tm_read(const char *path, size_t *len)
{
	struct stat st;
	char *p;
	int fd = open(path, O_RDONLY);
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	p = malloc((size_t)st.st_size + 1);
	if (!p)
		exit(99);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	p[got] = '\0';
	*len = got;
	return p;
}

__attribute__((unused))
static void tm_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tm_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
}

__attribute__((unused))
static struct mbox_opts tm_opts(void)
{
	struct mbox_opts o;

	mbox_opts_default(&o);
	o.owner = getuid();
	o.lock_timeout = 1;
	return o;
}

/* A literal and its length, for the calls that take both. */
#define S(x) x, sizeof(x) - 1

/* Three small messages, the mailbox most cases start from. */
__attribute__((unused))
static const char tm_base_box[] =
	"From a\nS: 1\n\nbody one\n\n"
	"From b\nS: 2\n\nbody two\n\n"
	"From c\nS: 3\n\nbody three\n\n";

/* mbox_open with tm_opts(), which must succeed (one TAP line). */
__attribute__((unused))
static struct mbox *tm_open_ok(const char *path, const char *name)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	enum mbox_status st = mbox_open(&m, path, &o, why, sizeof(why));

	ok(st == MBOX_OK && m, "%s: opens (%d %s)", name, (int)st, why);
	return m;
}

/* Collects what mbox_send writes (up to a cap), checking framing. */
struct tm_sink {
	char *buf;
	size_t len, cap, keep;
	unsigned long long total;	/* bytes written */
	unsigned long long stuffed;	/* dots added by stuffing */
	int bol;			/* next byte starts a line */
	int prev;			/* last byte */
	int bad;			/* framing error seen */
	int dotpending;			/* a line began with '.', next must be '.' */
	int fail_after;			/* >0: fail once this many calls made */
	int calls;
};

__attribute__((unused))
static void tm_sink_init(struct tm_sink *s, size_t keep)
{
	memset(s, 0, sizeof(*s));
	s->keep = keep;
	s->bol = 1;
}

__attribute__((unused))
static int tm_sink_write(void *ctx, const void *vp, size_t n)
{
	struct tm_sink *s = ctx;
	const unsigned char *p = vp;
	size_t i;

	s->calls++;
	if (s->fail_after && s->calls >= s->fail_after)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (s->dotpending) {
			/* A line starting with '.' must be stuffed: ". ." */
			if (c != '.')
				s->bad = 1;
			s->stuffed++;
			s->dotpending = 0;
		} else if (s->bol && c == '.') {
			s->dotpending = 1;
		}
		if (c == '\n' && s->prev != '\r')
			s->bad = 1;	/* bare LF on the wire */
		s->bol = c == '\n';
		s->prev = c;
	}
	s->total += n;
	if (s->keep) {
		size_t take = n;

		if (s->len + take > s->keep)
			take = s->keep - s->len;
		if (s->len + take + 1 > s->cap) {
			s->cap = (s->len + take + 1) * 2;
			s->buf = realloc(s->buf, s->cap);
			if (!s->buf)
				exit(99);
		}
		memcpy(s->buf + s->len, p, take);
		s->len += take;
		s->buf[s->len] = '\0';
	}
	return 0;
}

__attribute__((unused))
static void tm_sink_free(struct tm_sink *s)
{
	free(s->buf);
}

#endif
