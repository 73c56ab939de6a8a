/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * The mbox store (store.h): one traditional mbox file, opened with spool
 * safety, locked (lock.c), scanned (scan.c), checked for change
 * (check.c), sent (send.c's encoder) and rewritten at UPDATE (update.c).
 * It must never create, chmod or chown anything but its own dotlock,
 * and never follow a symlink or open anything but the user's own
 * regular file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dovecot.h"
#include "mbox-int.h"
#include "num.h"
#include "store.h"

/*
 * The spool entry must be the user's own regular file with one name: a
 * symlink or hard link planted by someone else would make us hand out,
 * or rewrite, a file that is not the user's mailbox; a FIFO or device
 * must not block or trigger anything (lstat first, O_NONBLOCK anyway).
 */
static enum mbox_status file_safe(const struct mbox *m, const struct stat *st,
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

/* Under the shared lock: the limits, the scan and its fingerprint. */
static enum mbox_status file_scan(struct mbox *m, char *why, size_t whysize)
{
	struct stat st;
	enum mbox_status rc;

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

static enum mbox_status file_open(struct mbox *m, char *why, size_t whysize)
{
	size_t plen = strlen(m->path);
	struct stat lst, st;
	enum mbox_status rc;

	m->fd = -1;
	m->lockpath = malloc(plen + sizeof(".lock"));
	if (!m->lockpath) {
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	memcpy(m->lockpath, m->path, plen);
	memcpy(m->lockpath + plen, ".lock", sizeof(".lock"));

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
	rc = file_safe(m, &lst, why, whysize);
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
	rc = file_safe(m, &st, why, whysize);
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
	rc = mbox_resume(m, why, whysize);
	if (rc != MBOX_OK)
		return rc;
	return file_scan(m, why, whysize);
}

static void file_close(struct mbox *m)
{
	if (m->dotlocked)
		(void)unlink(m->lockpath);
	if (m->fd >= 0)
		(void)close(m->fd);
	free(m->lockpath);
}

static enum mbox_status file_check(struct mbox *m)
{
	return mbox_check_why(m, NULL, 0);
}

/*
 * popa3d prints the first 8 digest bytes as two 32-bit little-endian
 * words: bytes 3 2 1 0 7 6 5 4.  Copies after the first get "-n".
 * Under --uidl dovecot, mbox.c shows Dovecot's id, "%08x%08x" of UID
 * and UIDVALIDITY, where there is one.  A popa3d id whose second half is
 * that UIDVALIDITY could equal one of them, so such a first copy gets
 * "-1" (copies are numbered from 2): no id is ever shown twice.
 */
static const char *file_msg_uidl(const struct mbox *m, uint32_t i)
{
	/* The buffer is scratch space, not part of the index's state. */
	char *out = ((struct mbox *)m)->uidl;
	const unsigned char *d;
	unsigned dup;

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
	{
		/* popa3d 1.0.3's order: two little-endian 32-bit words */
		const unsigned char w[8] = { d[3], d[2], d[1], d[0], d[7], d[6], d[5], d[4] };
		size_t n = 16;

		_Static_assert(sizeof(m->uidl) >= 16 + 1 + NUM_DEC_MAX + 1, "uidl buffer");
		num_hex(out, w, sizeof w);
		if (dup) {
			out[n++] = '-';
			n += num_dec(out + n, dup);
		}
		out[n] = '\0';
	}
	return out;
}

static enum mbox_status file_msg_open(struct mbox *m, uint32_t i)
{
	return i < m->count ? MBOX_OK : MBOX_ERR_SYS;
}

static enum mbox_status file_send(struct mbox *m, uint32_t i, long long body_lines,
				  mbox_write_fn out, void *ctx)
{
	uint64_t octets;
	enum mbox_status st;

	if (i >= m->count || m->fd < 0)
		return MBOX_ERR_SYS;
	st = mbox_check_quick(m);
	if (st != MBOX_OK)
		return st;
	st = mbox_encode(m->fd, m->win, m->winsize, mbox_msg_data(m, i), mbox_msg_end(m, i),
			 body_lines, out, ctx, &octets);
	if (st == MBOX_ERR_SYS || st == MBOX_ERR_CHANGED) {
		/* Shorter than scanned: someone rewrote it under us. */
		enum mbox_status c = file_check(m);

		return c != MBOX_OK ? c : MBOX_ERR_SYS;
	}
	if (st != MBOX_OK)
		return st;
	/* A rewrite during the transfer may have fed the client garbage. */
	return file_check(m);
}

const struct mbox_store mbox_file_store = {
	.name = "mbox",
	.open = file_open,
	.close = file_close,
	.msg_uidl = file_msg_uidl,
	.check = file_check,
	.msg_open = file_msg_open,
	.send = file_send,
	.update = mbox_file_update,
};
