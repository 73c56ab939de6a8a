/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * Dovecot's POP3 UIDLs, read from what Dovecot left behind (dovecot.h,
 * doc/migration.md).  Runs in the session as the mail user, never as
 * root.  Reads the user's own files only; the one thing it writes is an
 * extended attribute on the user's mbox (below), never a Dovecot file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "dovecot.h"
#include "mbox-int.h"
#include "num.h"

static int dc_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A decimal number of 1..32 bits; Dovecot zero-pads some, so leading
 * zeros are skipped before the one number parser sees the digits. */
static int dc_u32(const char *p, size_t n, uint32_t *out)
{
	uint64_t v;

	while (n > 1 && p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
		p++;
		n--;
	}
	if (num_parse(p, n, UINT32_MAX, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* The next run of non-blanks at or after *i: its start and length. */
static size_t dc_token(const char *v, size_t n, size_t *i)
{
	size_t start;

	while (*i < n && dc_blank(v[*i]))
		(*i)++;
	start = *i;
	while (*i < n && !dc_blank(v[*i]))
		(*i)++;
	return *i - start;
}

int dovecot_parse_imapbase(const char *v, size_t n, uint32_t *validity,
			   uint32_t *last)
{
	size_t i = 0, len;
	uint32_t a, b;

	len = dc_token(v, n, &i);
	if (len == 0 || dc_u32(v + i - len, len, &a) < 0 || a == 0)
		return -1;
	len = dc_token(v, n, &i);
	if (len == 0 || dc_u32(v + i - len, len, &b) < 0)
		return -1;
	/* Keywords may follow; they are not ours to read. */
	*validity = a;
	*last = b;
	return 0;
}

int dovecot_parse_xuid(const char *v, size_t n, uint32_t *uid)
{
	size_t i = 0, len;
	uint64_t u;

	len = dc_token(v, n, &i);
	/* Dovecot writes "%u" and pads with blanks; anything more is not its. */
	if (len == 0 || num_parse(v + i - len, len, UINT32_MAX, &u) < 0 || u == 0)
		return -1;
	if (dc_token(v, n, &i) != 0)
		return -1;
	*uid = (uint32_t)u;
	return 0;
}

/* A list's UID: non-zero, above the previous record's. */
static int dc_record_uid(struct dovecot_uidlist *l, const char *p, size_t n,
			 uint32_t *uid, const char **why)
{
	uint64_t u;

	if (num_parse(p, n, UINT32_MAX, &u) < 0 || u == 0) {
		*why = "bad UID";
		return -1;
	}
	if (u <= l->prev) {
		*why = "UIDs not increasing";
		return -1;
	}
	l->prev = (uint32_t)u;
	*uid = (uint32_t)u;
	return 0;
}

/* "1 V N" or "3 Vn Nn Gguid ...": what we need is the UIDVALIDITY. */
static int dc_header(struct dovecot_uidlist *l, const char *p, size_t n,
		     const char **why)
{
	size_t i = 0, len;

	len = dc_token(p, n, &i);
	if (len == 1 && p[0] == '1') {
		len = dc_token(p, n, &i);
		if (len == 0 || dc_u32(p + i - len, len, &l->validity) < 0)
			goto bad;
		l->version = 1;
	} else if (len == 1 && p[0] == '3') {
		while ((len = dc_token(p, n, &i)) != 0) {
			const char *f = p + i - len;

			if (f[0] == 'V' && dc_u32(f + 1, len - 1, &l->validity) < 0)
				goto bad;
		}
		l->version = 3;
	} else {
		*why = "not a version 1 or 3 list";
		return -1;
	}
	if (l->validity == 0)
		goto bad;
	return 0;
bad:
	*why = "bad header";
	return -1;
}

int dovecot_uidlist_line(struct dovecot_uidlist *l, const char *p, size_t n,
			 uint32_t *uid, const char **name, size_t *namelen,
			 const char **why)
{
	const char *sp, *nm;
	size_t nlen;

	if (n > DOVECOT_LINE_MAX) {
		*why = "line too long";
		return -1;
	}
	if (memchr(p, '\0', n)) {
		*why = "NUL byte";
		return -1;
	}
	if (l->version == 0)
		return dc_header(l, p, n, why);
	sp = memchr(p, ' ', n);
	if (!sp) {
		*why = "record without a name";
		return -1;
	}
	if (dc_record_uid(l, p, (size_t)(sp - p), uid, why) < 0)
		return -1;
	if (l->version == 1) {
		nm = sp + 1;
	} else {
		/* "uid [Kvalue ...] :name": the name follows the first " :". */
		const char *q = sp;

		for (;;) {
			if ((size_t)(q - p) + 2 > n) {
				*why = "record without a name";
				return -1;
			}
			if (q[1] == ':')
				break;
			q = memchr(q + 1, ' ', n - (size_t)(q + 1 - p));
			if (!q) {
				*why = "record without a name";
				return -1;
			}
		}
		nm = q + 2;
	}
	nlen = n - (size_t)(nm - p);
	if (nlen == 0 || nlen > 255 || nm[0] == '.' || memchr(nm, '/', nlen)) {
		*why = "bad file name";
		return -1;
	}
	*name = nm;
	*namelen = nlen;
	return 1;
}

/* Feed the complete lines in buf[0..have); *used: bytes taken. */
static int dc_feed(struct dovecot_uidlist *l, const unsigned char *buf,
		   size_t have, size_t *used,
		   int (*cb)(void *, const char *, size_t, uint32_t), void *ctx,
		   const char **why)
{
	size_t pos = 0;

	for (;;) {
		const unsigned char *nl = memchr(buf + pos, '\n', have - pos);
		const char *name;
		size_t len, namelen;
		uint32_t uid;
		int r;

		if (!nl)
			break;
		len = (size_t)(nl - (buf + pos));
		r = dovecot_uidlist_line(l, (const char *)buf + pos, len, &uid,
					 &name, &namelen, why);
		if (r < 0)
			return -1;
		if (r == 1 && cb(ctx, name, namelen, uid) < 0) {
			*why = "a file named twice";
			return -1;
		}
		pos += len + 1;
	}
	*used = pos;
	return 0;
}

int dovecot_uidlist_read(int dirfd, uid_t owner, unsigned char *win,
			 size_t winsize,
			 int (*cb)(void *ctx, const char *name, size_t len,
				   uint32_t uid),
			 void *ctx, uint32_t *validity, char *why,
			 size_t whysize)
{
	struct dovecot_uidlist l = { 0, 0, 0 };
	const char *reason = NULL;
	struct stat st;
	uint64_t off = 0;
	size_t have = 0;
	int fd, rc = -1;

	fd = openat(dirfd, DOVECOT_UIDLIST_NAME, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		mbox_why(why, whysize, "open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		mbox_why(why, whysize, "fstat: %s", strerror(errno));
		goto out;
	}
	/* Someone else's file, or a FIFO, is not the user's list. */
	if (!S_ISREG(st.st_mode) || st.st_uid != owner) {
		mbox_why(why, whysize, "not the user's regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > DOVECOT_UIDLIST_MAX) {
		mbox_why(why, whysize, "larger than %u bytes", DOVECOT_UIDLIST_MAX);
		goto out;
	}
	for (;;) {
		size_t used = 0;
		ssize_t r;

		if (have == winsize) {
			mbox_why(why, whysize, "line too long");
			goto out;
		}
		r = pread(fd, win + have, winsize - have, (off_t)off);
		if (r < 0) {
			mbox_why(why, whysize, "read: %s", strerror(errno));
			goto out;
		}
		if (r == 0 || off + (uint64_t)r > DOVECOT_UIDLIST_MAX)
			break;
		off += (uint64_t)r;
		have += (size_t)r;
		if (dc_feed(&l, win, have, &used, cb, ctx, &reason) < 0) {
			mbox_why(why, whysize, "%s", reason);
			goto out;
		}
		memmove(win, win + used, have - used);
		have -= used;
	}
	if (l.version == 0) {
		mbox_why(why, whysize, "no header");
		goto out;
	}
	*validity = l.validity;
	rc = 1;
out:
	(void)close(fd);
	return rc;
}

void dovecot_uidl_format(uint32_t uid, uint32_t validity,
			 char out[DOVECOT_UIDL_SIZE])
{
	(void)snprintf(out, DOVECOT_UIDL_SIZE, "%08x%08x", (unsigned)uid,
		       (unsigned)validity);
}

int dovecot_uidl_like(const char *s, size_t n)
{
	size_t i;

	if (n != DOVECOT_UIDL_SIZE - 1)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* ------------------------------------------------------------ mbox */

int mbox_dovecot_grow(struct mbox *m)
{
	struct mbox_dovecot *dc = m->dc;
	uint32_t *p;

	if (dc->cap >= m->cap)
		return 0;
	p = realloc(dc->uid, (size_t)m->cap * sizeof(*p));
	if (!p)
		return -1;
	memset(p + dc->cap, 0, (size_t)(m->cap - dc->cap) * sizeof(*p));
	dc->uid = p;
	dc->cap = m->cap;
	return 0;
}

/*
 * X-IMAPbase lives in the first message, so a client that deletes that
 * message through us would take the UIDVALIDITY of every other message
 * with it (Dovecot moves the header; we never rewrite headers).  We keep
 * a copy in an extended attribute of the mbox itself: only the owner (or
 * root) can set it, it goes with the file, and it is no Dovecot file.
 */
#define DC_XATTR "user.popa3d.imapbase"

static void dc_memo(struct mbox *m, int from_header)
{
	struct mbox_dovecot *dc = m->dc;
	char text[32], old[32];
	struct stat st;
	ssize_t n;
	uint32_t v, l;

	n = fgetxattr(m->fd, DC_XATTR, old, sizeof(old));
	if (!from_header) {
		/* ENODATA or ENOTSUP: no memo, so no Dovecot ids. */
		if (n > 0 && dovecot_parse_imapbase(old, (size_t)n, &v, &l) == 0) {
			dc->validity = v;
			dc->last = l;
		}
		return;
	}
	(void)snprintf(text, sizeof(text), "%u %u", (unsigned)dc->validity,
		       (unsigned)dc->last);
	if (m->rdonly || (n == (ssize_t)strlen(text) && memcmp(old, text, (size_t)n) == 0))
		return;
	/* Best effort: without the memo we only lose the ids once message
	 * 1 is deleted, which is where we would be without this code. */
	if (fsetxattr(m->fd, DC_XATTR, text, strlen(text), 0) < 0)
		return;
	/*
	 * Setting it moved the ctime our change detection compares; we hold
	 * the scan lock, so if size and mtime are what we scanned, the new
	 * ctime is our own doing.
	 */
	if (fstat(m->fd, &st) == 0) {
		struct mbox_stamp now;

		mbox_stamp_of(&now, &st);
		if (now.dev == m->stamp.dev && now.ino == m->stamp.ino &&
		    now.size == m->stamp.size && now.mtime_s == m->stamp.mtime_s &&
		    now.mtime_ns == m->stamp.mtime_ns)
			m->stamp = now;
	}
}

/*
 * After the scan: believe an X-UID only in file order strictly above the
 * last one believed and at most the last UID X-IMAPbase names.  Dovecot's
 * LDA replaces a sender's X-UID and X-IMAPbase with its own, but an MTA
 * appending to the mbox passes them through; these rules keep ids unique
 * whatever they say.
 */
void mbox_dovecot_finish(struct mbox *m)
{
	struct mbox_dovecot *dc = m->dc;
	uint32_t i, prev = 0;

	if (dc->imapbase_bad)
		dc->validity = 0;
	if (m->fd >= 0)
		dc_memo(m, dc->validity != 0);
	for (i = 0; i < m->count; i++) {
		uint32_t u = dc->uid[i];

		if (!dc->validity || u <= prev || u > dc->last) {
			dc->uid[i] = 0;
			continue;
		}
		prev = u;
	}
}
