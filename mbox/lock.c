/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * Mailbox locking, the way Debian's MTAs expect it.  Runs as the mail
 * user.  Order: dotlock, then fcntl, then flock; released in reverse.
 *
 * - Dotlock: <path>.lock created with O_CREAT|O_EXCL (no link() dance:
 *   NFS spools are out of scope).  Only where the user may create files
 *   beside the mailbox: in Debian's /var/mail (root:mail 2775) a user
 *   outside group mail gets EACCES and we go on without it.  We never
 *   keep or regain the mail group to get it: that would hand every user
 *   write access to every spool.  A lock older than MBOX_DOTLOCK_STALE
 *   seconds is taken as left by a dead process and removed (the same
 *   rule as liblockfile's and procmail's defaults); two processes that
 *   both find it stale may both remove it, a window we narrow by checking
 *   that the inode and mtime are still the stale ones right before unlink.
 * - fcntl: what exim (default), postfix local (mailbox_delivery_lock =
 *   fcntl, dotlock on Debian) and procmail (with kernel locking) use, so
 *   it is what really keeps a delivery out of the middle of our UPDATE.
 *   Shared for a scan, exclusive for an update.
 * - flock: for local programs that lock only with flock().
 *
 * Every wait is bounded: we poll the non-blocking forms until the
 * deadline (opts.lock_timeout), then answer MBOX_ERR_INUSE ([IN-USE]).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mbox-int.h"
#include "sysio.h"

#define MBOX_DOTLOCK_STALE 300		/* seconds */
#define MBOX_LOCK_POLL_MS 50

static int lock_wait(long long deadline)
{
	long long now = io_now_ms();

	if (now >= deadline)
		return -1;
	io_sleep_ms(deadline - now < MBOX_LOCK_POLL_MS ?
		    deadline - now : MBOX_LOCK_POLL_MS);
	return 0;
}

static void lock_drop_stale(const char *lockpath)
{
	struct stat a, b;

	if (lstat(lockpath, &a) < 0 || !S_ISREG(a.st_mode))
		return;
	if (time(NULL) - a.st_mtime < MBOX_DOTLOCK_STALE)
		return;
	if (lstat(lockpath, &b) < 0 || a.st_ino != b.st_ino ||
	    a.st_mtime != b.st_mtime)
		return;
	(void)unlink(lockpath);
}

static enum mbox_status lock_dot(struct mbox *m, long long deadline,
				 char *why, size_t whysize)
{
	for (;;) {
		int fd = open(m->lockpath, O_WRONLY | O_CREAT | O_EXCL |
			      O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);

		if (fd >= 0) {
			if (close(fd) < 0) {
				(void)unlink(m->lockpath);
				mbox_why(why, whysize, "dotlock close: %s",
					 strerror(errno));
				return MBOX_ERR_SYS;
			}
			m->dotlocked = 1;
			return MBOX_OK;
		}
		switch (errno) {
		case EEXIST:
			lock_drop_stale(m->lockpath);
			if (lock_wait(deadline) < 0) {
				mbox_why(why, whysize, "dotlock held by another process");
				return MBOX_ERR_INUSE;
			}
			break;
		case EINTR:
			break;
		case EACCES:
		case EPERM:
		case EROFS:
		case EDQUOT:
		case ENOSPC:
			/* Not ours to create: rely on fcntl/flock. */
			return MBOX_OK;
		default:
			mbox_why(why, whysize, "dotlock: %s", strerror(errno));
			return MBOX_ERR_SYS;
		}
	}
}

static enum mbox_status lock_fcntl(struct mbox *m, int exclusive,
				   long long deadline, char *why, size_t whysize)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(m->fd, F_SETLK, &fl) < 0) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			mbox_why(why, whysize, "fcntl lock: %s", strerror(errno));
			return MBOX_ERR_SYS;
		}
		if (lock_wait(deadline) < 0) {
			mbox_why(why, whysize, "fcntl lock held by another process");
			return MBOX_ERR_INUSE;
		}
	}
	return MBOX_OK;
}

static enum mbox_status lock_flock(struct mbox *m, int exclusive,
				   long long deadline, char *why, size_t whysize)
{
	while (flock(m->fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			mbox_why(why, whysize, "flock: %s", strerror(errno));
			return MBOX_ERR_SYS;
		}
		if (lock_wait(deadline) < 0) {
			mbox_why(why, whysize, "flock held by another process");
			return MBOX_ERR_INUSE;
		}
	}
	return MBOX_OK;
}

static void unlock_fcntl(struct mbox *m)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	(void)fcntl(m->fd, F_SETLK, &fl);
}

enum mbox_status mbox_lock(struct mbox *m, int exclusive, char *why,
			   size_t whysize)
{
	long long deadline = io_now_ms() +
	    (long long)(m->opts.lock_timeout > 0 ? m->opts.lock_timeout : 0) * 1000;
	unsigned how = m->opts.lock_methods;
	enum mbox_status st;

	if (how & MBOX_LOCK_DOT) {
		st = lock_dot(m, deadline, why, whysize);
		if (st != MBOX_OK)
			return st;
	}
	if (how & MBOX_LOCK_FCNTL) {
		st = lock_fcntl(m, exclusive, deadline, why, whysize);
		if (st != MBOX_OK)
			goto fail_dot;
	}
	if (how & MBOX_LOCK_FLOCK) {
		st = lock_flock(m, exclusive, deadline, why, whysize);
		if (st != MBOX_OK)
			goto fail_fcntl;
	}
	return MBOX_OK;

fail_fcntl:
	if (how & MBOX_LOCK_FCNTL)
		unlock_fcntl(m);
fail_dot:
	if (m->dotlocked) {
		(void)unlink(m->lockpath);
		m->dotlocked = 0;
	}
	return st;
}

/*
 * Unlocking cannot usefully fail: fcntl and flock locks also go with the
 * descriptor at close, and a dotlock we cannot remove ages into a stale
 * one that the next locker removes.
 */
void mbox_unlock(struct mbox *m)
{
	if (m->opts.lock_methods & MBOX_LOCK_FLOCK)
		(void)flock(m->fd, LOCK_UN);
	if (m->opts.lock_methods & MBOX_LOCK_FCNTL)
		unlock_fcntl(m);
	if (m->dotlocked) {
		(void)unlink(m->lockpath);
		m->dotlocked = 0;
	}
}
