/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: --uidl dovecot (mbox/dovecot.h).  Invariants
 * (abort() on violation):
 *  - the header parsers accept only what they promise (a non-zero
 *    UIDVALIDITY, a non-zero X-UID) and what they accept prints back to
 *    a value they accept again;
 *  - dovecot-uidlist lines: accepted records have strictly increasing
 *    non-zero UIDs and a name of 1..255 bytes inside the line;
 *  - an mbox, and a Maildir whose dovecot-uidlist is the input, opened
 *    under the policy: every id is 1..70 bytes of 0x21..0x7E and no id
 *    is shown twice, whatever the headers or the list say.
 * Input: first byte mod 4 picks the part; the rest is its text (the
 * mbox, or the list; the Maildir holds four fixed files, three of them
 * named by the corpus' lists).
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

#include "dovecot.h"
#include "mbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_headers(const char *p, size_t n)
{
	char again[40];
	uint32_t v, l, u, v2, l2, u2;
	int k;

	if (dovecot_parse_imapbase(p, n, &v, &l) == 0) {
		if (v == 0)
			abort();
		k = snprintf(again, sizeof(again), " %u %u", (unsigned)v, (unsigned)l);
		if (dovecot_parse_imapbase(again, (size_t)k, &v2, &l2) < 0 || v2 != v || l2 != l)
			abort();
	}
	if (dovecot_parse_xuid(p, n, &u) == 0) {
		if (u == 0)
			abort();
		k = snprintf(again, sizeof(again), " %u", (unsigned)u);
		if (dovecot_parse_xuid(again, (size_t)k, &u2) < 0 || u2 != u)
			abort();
	}
}

static void fz_lines(const char *p, size_t n)
{
	struct dovecot_uidlist l = { 0, 0, 0 };
	uint32_t prev = 0;

	while (n > 0) {
		const char *nl = memchr(p, '\n', n), *name = NULL, *why = NULL;
		size_t len = nl ? (size_t)(nl - p) : n, namelen = 0;
		uint32_t uid = 0;
		int r = dovecot_uidlist_line(&l, p, len, &uid, &name, &namelen, &why);

		if (r < 0) {
			if (!why)
				abort();
			break;
		}
		if (r == 1) {
			if (uid == 0 || uid <= prev || namelen < 1 || namelen > 255 ||
			    name < p || name + namelen > p + len)
				abort();
			prev = uid;
		} else if (l.version != 1 && l.version != 3) {
			abort();
		}
		if (!nl)
			break;
		n -= len + 1;
		p = nl + 1;
	}
}

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

static void fz_check(const char *path, int format)
{
	struct mbox_opts o;
	struct mbox *m;
	char why[256], **seen;
	uint32_t i, j, n;

	mbox_opts_default(&o);
	o.owner = getuid();
	o.lock_timeout = 0;
	o.format = format;
	o.uidl = MBOX_UIDL_DOVECOT;
	if (mbox_open(&m, path, &o, why, sizeof(why)) != MBOX_OK)
		return;
	n = mbox_count(m);
	seen = calloc(n ? n : 1, sizeof(*seen));
	if (!seen)
		abort();
	for (i = 0; i < n; i++) {
		const char *u = mbox_msg_uidl(m, i);

		if (!uidl_ok(u))
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(seen[j], u) == 0)
				abort();
		seen[i] = strdup(u);
		if (!seen[i])
			abort();
	}
	for (i = 0; i < n; i++)
		free(seen[i]);
	free(seen);
	mbox_close(m);
}

static char fz_dir[64];

static void fz_put(const char *rel, const void *p, size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fz_dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || close(fd) < 0)
		abort();
}

static void fz_cleanup(void)
{
	static const char *const files[] = {
		"mbox", "mbox.lock", "md/dovecot-uidlist",
		"md/cur/1796218898.M70539P10539.vm,S=61,W=66:2,",
		"md/cur/1796218898.M92894P10543.vm,S=61,W=66:2,S",
		"md/new/1796218898.M110506P10547.vm,S=61,W=66",
		"md/new/000000046b102012",
		"md/cur", "md/new", "md",
	};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fz_dir, files[i]);
		if (unlink(path) < 0)
			(void)rmdir(path);
	}
	(void)rmdir(fz_dir);
}

static void fz_setup(void)
{
	static const char *const dirs[] = { "md", "md/cur", "md/new" };
	char path[256];
	size_t i;

	if (fz_dir[0])
		return;
	snprintf(fz_dir, sizeof(fz_dir), "/tmp/fuzz-dovecot-XXXXXX");
	if (!mkdtemp(fz_dir))
		abort();
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", fz_dir, dirs[i]);
		if (mkdir(path, 0700) < 0)
			abort();
	}
	fz_put("md/cur/1796218898.M70539P10539.vm,S=61,W=66:2,", "S: 1\n\nb\n", 8);
	fz_put("md/cur/1796218898.M92894P10543.vm,S=61,W=66:2,S", "S: 2\n\nb\n", 8);
	fz_put("md/new/1796218898.M110506P10547.vm,S=61,W=66", "S: 3\n\nb\n", 8);
	fz_put("md/new/000000046b102012", "S: 4\n\nb\n", 8);
	atexit(fz_cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256];

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fz_headers((const char *)data + 1, size - 1);
		break;
	case 1:
		fz_lines((const char *)data + 1, size - 1);
		break;
	case 2:
		fz_setup();
		fz_put("mbox", data + 1, size - 1);
		snprintf(path, sizeof(path), "%s/mbox", fz_dir);
		fz_check(path, MBOX_FORMAT_MBOX);
		break;
	default:
		fz_setup();
		fz_put("md/dovecot-uidlist", data + 1, size - 1);
		snprintf(path, sizeof(path), "%s/md", fz_dir);
		fz_check(path, MBOX_FORMAT_MAILDIR);
		break;
	}
	return 0;
}
