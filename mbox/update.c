/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * UPDATE (RFC 1939 section 6): remove the deleted messages by rewriting
 * the mailbox in place.  Runs as the mail user.  There is no temporary
 * file: in Debian's /var/mail the user may not create one, and a rename
 * would lose the MTA's lock and the file's identity anyway.
 *
 * Why kill -9 at any moment loses no byte of a kept message:
 *  - bytes before the first deleted message are never written;
 *  - from there on, kept messages (their raw bytes: From_ line, content,
 *    separator) are copied downward in file order, then the mail that
 *    arrived during the session; the destination is always below the
 *    source (dst < src once a message was skipped);
 *  - a copy step reads a chunk [src, src+n) into memory, then writes it
 *    to [dst, dst+n).  The write only overwrites old bytes in [dst, src),
 *    which are deleted bytes or kept bytes whose new copy is already
 *    complete below dst, or, when the ranges overlap, bytes of this very
 *    chunk at x >= src whose new home x - (src - dst) lies before them:
 *    the kernel fills a regular file's pages in ascending order, so a
 *    write cut short by SIGKILL has written a prefix, and a byte at x is
 *    overwritten only after its new copy at x - (src - dst) exists;
 *  - so at every instant each kept byte is at its old or its new place:
 *    the file is the new layout up to some offset k and the old file from
 *    k on; an interrupted run leaves a duplicated span, never a missing
 *    one.  Every kept message is whole in one of the two layouts except,
 *    possibly, the one being copied when the kill came: if it is longer
 *    than the gap (the deleted bytes before it), its new copy overlaps its
 *    old one, and it reads as its first c bytes followed by its old bytes
 *    from c - gap on: all of it, with `gap' bytes repeated at the cut.
 *    No in-place copy avoids that; keeping that message whole as well
 *    needs a second copy of it beyond the end of the file first, i.e. free
 *    space and twice the writes, which a full spool may not allow;
 *  - ftruncate comes last, after every byte is in its new place, and only
 *    cuts the stale tail; fsync then makes it durable.
 * This covers process death, not power loss: the page cache writes back
 * in any order, and no in-place rewrite can survive that without a
 * journal.  A failing write (full disk, I/O error) stops the copy before
 * the truncation, which leaves the same duplicated-but-complete file.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"
#include "sysio.h"

static int update_pwrite(int fd, const unsigned char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/*
 * Copy [src, src+len) down to *dst; len UINT64_MAX copies to the end of
 * the file.  0, or -1 with errno (ESPIPE: the file ended too soon).
 */
static int update_copy(struct mbox *m, uint64_t src, uint64_t len,
		       uint64_t *dst)
{
	size_t chunk = m->chunk && m->chunk < m->winsize ? m->chunk : m->winsize;

	while (len) {
		size_t want = len < chunk ? (size_t)len : chunk, got = 0;

		while (got < want) {
			ssize_t r = pread(m->fd, m->win + got, want - got,
					  (off_t)(src + got));

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -1;
			if (r == 0)
				break;
			got += (size_t)r;
		}
		if (got == 0 && len == UINT64_MAX)
			return 0;
		if (got < want && len != UINT64_MAX) {
			errno = ESPIPE;
			return -1;
		}
		if (update_pwrite(m->fd, m->win, got, *dst) < 0)
			return -1;
		src += got;
		*dst += got;
		if (len != UINT64_MAX)
			len -= got;
	}
	return 0;
}

static enum mbox_status update_rewrite(struct mbox *m, uint32_t first,
				       uint64_t *newsize, char *why,
				       size_t whysize)
{
	uint64_t dst = m->msgs[first].from;
	uint32_t j;

	for (j = first + 1; j < m->count; j++) {
		uint64_t from = m->msgs[j].from;
		uint64_t to = j + 1 < m->count ? m->msgs[j + 1].from : m->scanned;

		if (m->msgs[j].flags & MBOX_MSG_DELETED)
			continue;
		if (update_copy(m, from, to - from, &dst) < 0)
			goto fail;
	}
	/* Mail delivered during the session moves down with the rest. */
	if (update_copy(m, m->scanned, UINT64_MAX, &dst) < 0)
		goto fail;
	*newsize = dst;
	return MBOX_OK;
fail:
	mbox_why(why, whysize, "rewrite: %s (mailbox left complete, not shortened)",
		 strerror(errno));
	return MBOX_ERR_SYS;
}

/*
 * Readers that compare mtimes in whole seconds (popa3d, MUAs' new-mail
 * checks) must see that we changed the file: if our writes left the
 * mtime in the second it had before, wait for the next second and set
 * it explicitly.
 */
static int update_touch(struct mbox *m, long long before_s)
{
	struct stat st;
	struct timespec ts[2];

	if (fstat(m->fd, &st) < 0)
		return -1;
	if ((long long)st.st_mtim.tv_sec > before_s)
		return 0;
	while ((long long)time(NULL) <= before_s)
		io_sleep_ms(50);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_NOW;
	return futimens(m->fd, ts);
}

enum mbox_status mbox_update(struct mbox *m, char *why, size_t whysize)
{
	sigset_t all, old;
	struct stat st;
	uint32_t first;
	uint64_t newsize = 0;
	enum mbox_status rc;

	if (m->md)
		return maildir_update(m, why, whysize);
	mbox_why(why, whysize, "ok");
	if (m->updated)
		return MBOX_OK;
	for (first = 0; first < m->count; first++)
		if (m->msgs[first].flags & MBOX_MSG_DELETED)
			break;
	if (first == m->count || m->fd < 0)
		return MBOX_OK;		/* nothing deleted: write nothing */
	if (m->broken) {
		mbox_why(why, whysize, "changed by another program");
		return MBOX_ERR_CHANGED;
	}
	if (m->rdonly) {
		mbox_why(why, whysize, "mailbox is read-only for the user");
		return MBOX_ERR_SYS;
	}
	rc = mbox_lock(m, 1, why, whysize);
	if (rc != MBOX_OK)
		return rc;
	rc = mbox_check_why(m, why, whysize);
	if (rc != MBOX_OK)
		goto out;
	if (fstat(m->fd, &st) < 0) {
		mbox_why(why, whysize, "fstat: %s", strerror(errno));
		rc = MBOX_ERR_SYS;
		goto out;
	}

	/* A signal handler must not abandon the rewrite halfway. */
	if (sigfillset(&all) < 0 || sigprocmask(SIG_BLOCK, &all, &old) < 0) {
		mbox_why(why, whysize, "sigprocmask: %s", strerror(errno));
		rc = MBOX_ERR_SYS;
		goto out;
	}
	rc = update_rewrite(m, first, &newsize, why, whysize);
	if (rc == MBOX_OK) {
		if (ftruncate(m->fd, (off_t)newsize) < 0 || fsync(m->fd) < 0 ||
		    update_touch(m, (long long)st.st_mtim.tv_sec) < 0) {
			mbox_why(why, whysize, "truncate/sync: %s", strerror(errno));
			rc = MBOX_ERR_SYS;
		}
	}
	if (sigprocmask(SIG_SETMASK, &old, NULL) < 0 && rc == MBOX_OK) {
		mbox_why(why, whysize, "sigprocmask: %s", strerror(errno));
		rc = MBOX_ERR_SYS;
	}
	m->updated = rc == MBOX_OK;
	/* From now on the index no longer describes the file. */
	m->broken = 1;
out:
	mbox_unlock(m);
	return rc;
}
