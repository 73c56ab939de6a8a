/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * Opening a maildrop, and what the protocol layer asks of the index.
 * Runs in the session process as the mail user, never as root: it must
 * never create, chmod or chown anything but its own dotlock, and never
 * follow a symlink or open anything but the user's own regular file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dovecot.h"
#include "maildir.h"

void mbox_why(char *why, size_t whysize, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whysize)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, whysize, fmt, ap);
	va_end(ap);
}

void mbox_opts_default(struct mbox_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->owner = (uid_t)-1;
	o->max_messages = 2097152;
	o->max_size = 0;
	o->lock_methods = MBOX_LOCK_FCNTL | MBOX_LOCK_DOT;
	o->lock_timeout = 10;
}

void mbox_set_copy_chunk(struct mbox *m, size_t n)
{
	m->chunk = n > 0 && n < MBOX_WINDOW ? n : 0;
}

static void mbox_recount(struct mbox *m)
{
	uint32_t i;

	m->live_count = 0;
	m->live_size = 0;
	for (i = 0; i < m->count; i++) {
		if (m->msgs[i].flags & MBOX_MSG_DELETED)
			continue;
		m->live_count++;
		m->live_size += m->msgs[i].size;
	}
}

/*
 * The spool entry must be the user's own regular file with one name: a
 * symlink or hard link planted by someone else would make us hand out,
 * or rewrite, a file that is not the user's mailbox; a FIFO or device
 * must not block or trigger anything (lstat first, O_NONBLOCK anyway).
 */
static enum mbox_status mbox_safe(const struct mbox *m, const struct stat *st,
				  char *why, size_t whysize)
{
	if (!S_ISREG(st->st_mode)) {
		mbox_why(why, whysize, "not a regular file");
		return MBOX_ERR_UNSAFE;
	}
	if (st->st_uid != m->opts.owner) {
		mbox_why(why, whysize, "owned by uid %lu, not %lu",
			 (unsigned long)st->st_uid, (unsigned long)m->opts.owner);
		return MBOX_ERR_UNSAFE;
	}
	if (st->st_nlink != 1) {
		mbox_why(why, whysize, "has %lu hard links",
			 (unsigned long)st->st_nlink);
		return MBOX_ERR_UNSAFE;
	}
	return MBOX_OK;
}

static enum mbox_status mbox_load(struct mbox *m, char *why, size_t whysize)
{
	struct stat lst, st;
	enum mbox_status rc;

	if (lstat(m->path, &lst) < 0) {
		if (errno == ENOENT)
			return MBOX_OK;		/* no mail yet */
		mbox_why(why, whysize, "lstat: %s", strerror(errno));
		return MBOX_ERR_SYS;
	}
	if (S_ISLNK(lst.st_mode)) {
		mbox_why(why, whysize, "is a symlink");
		return MBOX_ERR_UNSAFE;
	}
	rc = mbox_safe(m, &lst, why, whysize);
	if (rc != MBOX_OK)
		return rc;

	m->fd = open(m->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
		     O_CLOEXEC);
	if (m->fd < 0 && (errno == EACCES || errno == EROFS)) {
		/* Readable but not writable: serve it, refuse UPDATE. */
		m->fd = open(m->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			     O_NOCTTY | O_CLOEXEC);
		m->rdonly = 1;
	}
	if (m->fd < 0) {
		if (errno == ENOENT)
			return MBOX_OK;
		mbox_why(why, whysize, "open: %s", strerror(errno));
		return errno == ELOOP ? MBOX_ERR_UNSAFE : MBOX_ERR_SYS;
	}
	if (fstat(m->fd, &st) < 0) {
		mbox_why(why, whysize, "fstat: %s", strerror(errno));
		return MBOX_ERR_SYS;
	}
	rc = mbox_safe(m, &st, why, whysize);
	if (rc != MBOX_OK)
		return rc;
	if (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino) {
		mbox_why(why, whysize, "replaced while being opened");
		return MBOX_ERR_UNSAFE;
	}

	m->winsize = st.st_size < MBOX_WINDOW_SMALL ? MBOX_WINDOW_SMALL : MBOX_WINDOW;
	m->win = malloc(m->winsize);
	if (!m->win) {
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	rc = mbox_lock(m, 0, why, whysize);
	if (rc != MBOX_OK)
		return rc;
	/* What we scan is what the file is under the lock. */
	if (fstat(m->fd, &st) < 0) {
		mbox_why(why, whysize, "fstat: %s", strerror(errno));
		rc = MBOX_ERR_SYS;
	} else if (m->opts.max_size &&
		   (uint64_t)st.st_size > m->opts.max_size) {
		mbox_why(why, whysize, "%llu bytes, over the limit of %llu",
			 (unsigned long long)st.st_size,
			 (unsigned long long)m->opts.max_size);
		rc = MBOX_ERR_LIMIT;
	} else {
		mbox_stamp_of(&m->stamp, &st);
		rc = mbox_scan(m, why, whysize);
		if (rc == MBOX_OK &&
		    mbox_fingerprint(m, m->scanned, m->fingerprint) < 0) {
			mbox_why(why, whysize, "fingerprint: %s", strerror(errno));
			rc = MBOX_ERR_SYS;
		}
	}
	mbox_unlock(m);
	return rc;
}

enum mbox_status mbox_open(struct mbox **mp, const char *path,
			   const struct mbox_opts *o, char *why, size_t whysize)
{
	struct mbox *m;
	size_t plen = strlen(path);
	enum mbox_status rc;

	*mp = NULL;
	mbox_why(why, whysize, "ok");
	m = calloc(1, sizeof(*m));
	if (!m) {
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	m->fd = -1;
	m->opts = *o;
	m->path = malloc(plen + 1);
	m->lockpath = malloc(plen + sizeof(".lock"));
	if (!m->path || !m->lockpath) {
		mbox_close(m);
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	memcpy(m->path, path, plen + 1);
	memcpy(m->lockpath, path, plen);
	memcpy(m->lockpath + plen, ".lock", sizeof(".lock"));
	if (o->uidl == MBOX_UIDL_DOVECOT && !(m->dc = calloc(1, sizeof(*m->dc)))) {
		mbox_close(m);
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}

	if (o->format == MBOX_FORMAT_MAILDIR) {
		/* "maildir:/var/mail/%u/": a trailing '/' would make the
		 * kernel follow a symlink there despite O_NOFOLLOW. */
		while (plen > 1 && m->path[plen - 1] == '/')
			m->path[--plen] = '\0';
		rc = maildir_open(m, m->path, why, whysize);
	} else {
		rc = mbox_load(m, why, whysize);
	}
	if (rc != MBOX_OK) {
		mbox_close(m);
		return rc;
	}
	mbox_recount(m);
	*mp = m;
	return MBOX_OK;
}

void mbox_close(struct mbox *m)
{
	if (!m)
		return;
	maildir_close(m);
	if (m->dotlocked)
		(void)unlink(m->lockpath);
	if (m->fd >= 0)
		(void)close(m->fd);
	if (m->dc)
		free(m->dc->uid);
	free(m->dc);
	free(m->msgs);
	free(m->win);
	free(m->path);
	free(m->lockpath);
	free(m);
}

uint32_t mbox_count(const struct mbox *m)
{
	return m->count;
}

uint64_t mbox_msg_size(const struct mbox *m, uint32_t i)
{
	return i < m->count ? m->msgs[i].size : 0;
}

/*
 * popa3d prints the first 8 digest bytes as two 32-bit little-endian
 * words: bytes 3 2 1 0 7 6 5 4.  Copies after the first get "-n".
 * Under --uidl dovecot a message with a Dovecot UID shows Dovecot's id,
 * "%08x%08x" of UID and UIDVALIDITY.  A popa3d id whose second half is
 * that UIDVALIDITY could equal one of them, so such a first copy gets
 * "-1" (copies are numbered from 2): no id is ever shown twice.
 */
const char *mbox_msg_uidl(const struct mbox *m, uint32_t i)
{
	/* The buffer is scratch space, not part of the index's state. */
	char *out = ((struct mbox *)m)->uidl;
	const unsigned char *d;
	unsigned dup;

	if (i < m->count && m->dc && m->dc->uid && m->dc->uid[i]) {
		dovecot_uidl_format(m->dc->uid[i], m->dc->validity, out);
		return out;
	}
	if (m->md)
		return maildir_msg_uidl(m, i);
	if (i >= m->count) {
		out[0] = '\0';
		return out;
	}
	d = m->msgs[i].digest;
	dup = m->msgs[i].dup;
	if (!dup && m->dc && m->dc->validity &&
	    (uint32_t)(d[4] | d[5] << 8 | d[6] << 16 | (uint32_t)d[7] << 24) ==
	    m->dc->validity)
		dup = 1;
	if (dup)
		(void)snprintf(out, sizeof(m->uidl),
			       "%02x%02x%02x%02x%02x%02x%02x%02x-%u",
			       d[3], d[2], d[1], d[0], d[7], d[6], d[5], d[4], dup);
	else
		(void)snprintf(out, sizeof(m->uidl),
			       "%02x%02x%02x%02x%02x%02x%02x%02x",
			       d[3], d[2], d[1], d[0], d[7], d[6], d[5], d[4]);
	return out;
}

enum mbox_status mbox_msg_open(struct mbox *m, uint32_t i)
{
	if (m->md)
		return maildir_msg_open(m, i);
	return i < m->count ? MBOX_OK : MBOX_ERR_SYS;
}

int mbox_msg_deleted(const struct mbox *m, uint32_t i)
{
	return i < m->count && (m->msgs[i].flags & MBOX_MSG_DELETED);
}

void mbox_msg_delete(struct mbox *m, uint32_t i)
{
	if (i >= m->count || (m->msgs[i].flags & MBOX_MSG_DELETED))
		return;
	m->msgs[i].flags |= MBOX_MSG_DELETED;
	m->live_count--;
	m->live_size -= m->msgs[i].size;
}

void mbox_undelete_all(struct mbox *m)
{
	uint32_t i;

	for (i = 0; i < m->count; i++)
		m->msgs[i].flags &= ~(uint32_t)MBOX_MSG_DELETED;
	mbox_recount(m);
}

uint32_t mbox_live_count(const struct mbox *m)
{
	return m->live_count;
}

uint64_t mbox_live_size(const struct mbox *m)
{
	return m->live_size;
}
