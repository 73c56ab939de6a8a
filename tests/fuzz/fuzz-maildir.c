/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: Maildir file names, and whole maildrops built from
 * the input.  Invariants (abort() on violation):
 *  - maildir_parse_name accepts only names without '/', NUL or a leading
 *    '.', of 1..255 bytes, and its unique part lies inside the name;
 *  - a hint it reports is exactly the digits given once;
 *  - every UIDL is 1..70 bytes of 0x21..0x7E, and equal unique parts give
 *    equal ids, different ones different ids;
 *  - over a maildrop on disk: ids unique, RETR of every message sends
 *    exactly mbox_msg_size() octets before stuffing, as framed POP3
 *    (CRLF only, dots stuffed), including names with wrong size hints.
 * Input: first byte even: the rest is one file name.  Odd: records of
 * [name length][name][content length, 2 bytes LE][content], written to
 * new/ (or cur/ when the name has a ':').
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir.h"
#include "mbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int uidl_ok(const char *u)
{
	size_t n = strlen(u), i;

	if (n < 1 || n > 70)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e)
			return 0;
	return 1;
}

static void fuzz_name(const char *name, size_t len)
{
	struct maildir_name n;
	char u[MAILDIR_UIDL_SIZE], v[MAILDIR_UIDL_SIZE];

	if (maildir_parse_name(name, len, &n) < 0) {
		/* Refused only for a reason the contract names. */
		if (len >= 1 && len <= MAILDIR_NAME_MAX && name[0] != '.' &&
		    !memchr(name, '/', len) && !memchr(name, 0, len) &&
		    name[0] != ':')
			abort();
		return;
	}
	if (len == 0 || len > MAILDIR_NAME_MAX || name[0] == '.' ||
	    memchr(name, '/', len) || memchr(name, 0, len) ||
	    n.baselen == 0 || n.baselen > len || memchr(name, ':', n.baselen) ||
	    (n.baselen < len && name[n.baselen] != ':'))
		abort();
	if ((n.has_s && !memmem(name, n.baselen, ",S=", 3)) ||
	    (n.has_w && !memmem(name, n.baselen, ",W=", 3)))
		abort();
	maildir_uidl_of(name, n.baselen, u);
	maildir_uidl_of(name, n.baselen, v);
	if (!uidl_ok(u) || strcmp(u, v) != 0)
		abort();
	/* Verbatim ids are the unique part itself. */
	if (u[0] != '~' && (strlen(u) != n.baselen || memcmp(u, name, n.baselen)))
		abort();
	if (n.baselen > 1) {
		maildir_uidl_of(name, n.baselen - 1, v);
		if (strcmp(u, v) == 0)
			abort();
	}
}

/* Counts what RETR writes, checking the framing. */
struct sink {
	uint64_t total, dots;
	int bol, dotnext, prev;
};

static int sink_write(void *ctx, const void *vp, size_t n)
{
	struct sink *s = ctx;
	const unsigned char *p = vp;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s->dotnext) {
			if (p[i] != '.')
				abort();
			s->dots++;
			s->dotnext = 0;
		} else if (s->bol && p[i] == '.') {
			s->dotnext = 1;
		}
		if (p[i] == '\n' && s->prev != '\r')
			abort();
		s->bol = p[i] == '\n';
		s->prev = p[i];
	}
	s->total += n;
	return 0;
}

static char fz_dir[64];

static void fz_clear(const char *sub)
{
	char p[512];
	struct dirent *de;
	DIR *d;

	snprintf(p, sizeof(p), "%s/%s", fz_dir, sub);
	d = opendir(p);
	if (!d)
		abort();
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/%s", fz_dir, sub, de->d_name);
		(void)unlink(p);
	}
	closedir(d);
}

static void fz_remove(void)
{
	char p[128];

	fz_clear("cur");
	fz_clear("new");
	snprintf(p, sizeof(p), "%s/cur", fz_dir);
	(void)rmdir(p);
	snprintf(p, sizeof(p), "%s/new", fz_dir);
	(void)rmdir(p);
	(void)rmdir(fz_dir);
}

static void fz_setup(void)
{
	char p[128];

	if (fz_dir[0]) {
		fz_clear("cur");
		fz_clear("new");
		return;
	}
	snprintf(fz_dir, sizeof(fz_dir), "/tmp/fuzz-maildir-XXXXXX");
	if (!mkdtemp(fz_dir))
		abort();
	snprintf(p, sizeof(p), "%s/cur", fz_dir);
	if (mkdir(p, 0700) < 0)
		abort();
	snprintf(p, sizeof(p), "%s/new", fz_dir);
	if (mkdir(p, 0700) < 0)
		abort();
	atexit(fz_remove);
}

static void fuzz_maildrop(const uint8_t *data, size_t size)
{
	struct mbox_opts o;
	struct mbox *m;
	char why[256], name[256], path[512];
	uint32_t i, j, files = 0;

	fz_setup();
	while (size >= 1 && files < 64) {
		size_t nlen = data[0], clen;
		int fd;

		if (size < 1 + nlen + 2)
			break;
		memcpy(name, data + 1, nlen);
		name[nlen] = '\0';
		clen = data[1 + nlen] | (size_t)data[2 + nlen] << 8;
		data += 3 + nlen;
		size -= 3 + nlen;
		if (clen > size)
			clen = size;
		if (nlen == 0 || strchr(name, '/') || strlen(name) != nlen ||
		    name[0] == '.') {
			data += clen;
			size -= clen;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s/%s", fz_dir,
			 strchr(name, ':') ? "cur" : "new", name);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			if (write(fd, data, clen) != (ssize_t)clen)
				abort();
			close(fd);
			files++;
		}
		data += clen;
		size -= clen;
	}
	mbox_opts_default(&o);
	o.owner = getuid();
	o.format = MBOX_FORMAT_MAILDIR;
	if (mbox_open(&m, fz_dir, &o, why, sizeof(why)) != MBOX_OK)
		abort();
	if (mbox_count(m) > files)
		abort();
	for (i = 0; i < mbox_count(m); i++) {
		char u[MAILDIR_UIDL_SIZE];
		struct sink s = { 0, 0, 1, 0, 0 };

		snprintf(u, sizeof(u), "%s", mbox_msg_uidl(m, i));
		if (!uidl_ok(u))
			abort();
		for (j = i + 1; j < mbox_count(m); j++)
			if (strcmp(u, mbox_msg_uidl(m, j)) == 0)
				abort();
		if (mbox_msg_open(m, i) != MBOX_OK ||
		    mbox_send(m, i, -1, sink_write, &s) != MBOX_OK ||
		    s.total - s.dots != mbox_msg_size(m, i) ||
		    (s.total && !s.bol))
			abort();
	}
	mbox_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_maildrop(data + 1, size - 1);
	else
		fuzz_name((const char *)data + 1, size - 1);
	return 0;
}
