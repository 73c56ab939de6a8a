/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * The Maildir store (doc/maildir.md): a maildrop of one file per message
 * in cur/ and new/ (tmp/ holds deliveries in progress and is never read).
 * Runs in the session process as the mail user, never as root: it only
 * reads the user's own regular files and, at UPDATE, unlinks the ones
 * the client deleted; it creates, renames, chmods and chowns nothing.
 *
 * Every file name comes from readdir and is checked (maildir_parse_name)
 * before it is used, and only ever relative to a directory descriptor
 * opened with O_NOFOLLOW: no path built from the mailbox's contents is
 * resolved through anything we did not check ourselves.
 *
 * This file holds the store's table and what the session does with an
 * open Maildir's index: find a message that moved, open, send and at
 * UPDATE remove it.  Opening (the names, the scan, the dovecot-uidlist
 * match) is maildir-scan.c's.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "dovecot.h"
#include "log.h"
#include "maildir-int.h"
#include "maildir.h"
#include "mbox-int.h"
#include "store.h"

static void md_close(struct mbox *m)
{
	struct maildir *md = m->md;

	if (!md)
		return;
	if (md->fd >= 0)
		(void)close(md->fd);
	if (md->dir[MD_CUR] >= 0)
		(void)close(md->dir[MD_CUR]);
	if (md->dir[MD_NEW] >= 0)
		(void)close(md->dir[MD_NEW]);
	free(md->msgs);
	free(md->pool);
	free(md);
	m->md = NULL;
}

static const char *md_msg_uidl(const struct mbox *m, uint32_t i)
{
	/* The buffer is scratch space, not part of the index's state. */
	struct maildir *md = m->md;

	const char *base;

	if (i >= md->count) {
		md->uidl[0] = '\0';
		return md->uidl;
	}
	base = md_name(md, i);
	/* --uidl dovecot: a unique part that looks like a Dovecot id is
	 * hashed, so it cannot equal the id of a message the list names. */
	md_uidl(base, md->msgs[i].baselen,
		!(m->dc && dovecot_uidl_like(base, md->msgs[i].baselen)), md->uidl);
	return md->uidl;
}

/* ------------------------------------------------------------ lookups */

/*
 * Where is the file with this unique part now?  Another client or a MUA
 * may have moved it from new/ to cur/ or changed its flags (a rename
 * within cur/).  cb gets each match; returns -1 on a directory error.
 */
static int md_find(struct maildir *md,
		   int (*cb)(struct maildir *, int, const char *, size_t, void *),
		   void *arg)
{
	int d, rc = 0;

	for (d = 0; d < 2 && rc == 0; d++) {
		struct dirent *de;
		DIR *dir;

		if (md->dir[d] < 0)
			continue;
		dir = md_opendir(md->dir[d]);
		if (!dir)
			return -1;
		while (rc == 0 && (de = readdir(dir)) != NULL) {
			struct maildir_name pn;

			if (maildir_parse_name(de->d_name, strlen(de->d_name), &pn) == 0)
				rc = cb(md, d, de->d_name, pn.baselen, arg);
		}
		(void)closedir(dir);
	}
	return rc < 0 ? -1 : 0;
}

struct md_rename {
	uint32_t i;
	int found;
};

static int md_match_one(struct maildir *md, int d, const char *name,
			size_t baselen, void *arg)
{
	struct md_rename *r = arg;
	struct maildir_msg *msg = &md->msgs[r->i];
	uint32_t off;

	if (baselen != msg->baselen ||
	    memcmp(name, md_name(md, r->i), baselen) != 0)
		return 0;
	if (md_add_name(md, name, strlen(name), &off) < 0)
		return -1;
	msg->name = off;
	msg->dir = (uint8_t)d;
	r->found = 1;
	return 1;
}

static int md_openat(struct maildir *md, uint32_t i)
{
	int d = md->msgs[i].dir;

	if (md->dir[d] < 0) {
		errno = ENOENT;
		return -1;
	}
	return openat(md->dir[d], md_name(md, i), O_RDONLY | O_NOFOLLOW |
		      O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

static enum mbox_status md_msg_open(struct mbox *m, uint32_t i)
{
	struct maildir *md = m->md;
	struct maildir_msg *msg;
	struct stat st;
	uint64_t size;
	int fd;

	if (i >= md->count)
		return MBOX_ERR_SYS;
	if (md->fd >= 0 && md->fd_msg == i)
		return MBOX_OK;
	if (md->fd >= 0)
		(void)close(md->fd);
	md->fd = -1;
	msg = &md->msgs[i];
	fd = md_openat(md, i);
	if (fd < 0 && errno == ENOENT) {
		struct md_rename r = { i, 0 };

		if (md_find(md, md_match_one, &r) < 0)
			return MBOX_ERR_SYS;
		if (!r.found)
			return MBOX_ERR_GONE;
		fd = md_openat(md, i);
	}
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? MBOX_ERR_GONE :
		    MBOX_ERR_SYS;
	if (fstat(fd, &st) < 0) {
		(void)close(fd);
		return MBOX_ERR_SYS;
	}
	if (!md_safe(m, &st)) {
		/* Replaced by something we would not have listed. */
		(void)close(fd);
		return MBOX_ERR_GONE;
	}
	/*
	 * A size from the name is counted before the client hears it, and so
	 * is a file that changed size (Maildir files are written once, but
	 * an editor may rewrite one): the "+OK n octets" line then states
	 * what we will send, and the log says that LIST was wrong.
	 */
	if (msg->hinted || (uint64_t)st.st_size != msg->stsize) {
		enum mbox_status rc = md_count(m, fd, (uint64_t)st.st_size, &size);

		if (rc != MBOX_OK) {
			(void)close(fd);
			return rc == MBOX_ERR_CHANGED ? MBOX_ERR_GONE : rc;
		}
		if (size != msg->size) {
			char clean[LOG_CLEAN_SIZE(64)];
			const char *n = md_name(md, i);

			log_msg(LOG_WARNING, "maildir: %s/%s is %llu octets, "
				"listed as %llu; sent as it is now",
				md_dirname[msg->dir],
				log_clean(clean, sizeof(clean), n, strnlen(n, 64)),
				(unsigned long long)size,
				(unsigned long long)msg->size);
			if (!(m->msgs[i].flags & MBOX_MSG_DELETED))
				m->live_size = m->live_size - msg->size + size;
			msg->size = size;
			m->msgs[i].size = size;
		}
		msg->stsize = (uint64_t)st.st_size;
		msg->hinted = 0;
	}
	md->fd = fd;
	md->fd_msg = i;
	return MBOX_OK;
}

static enum mbox_status md_send(struct mbox *m, uint32_t i, long long body_lines,
			       mbox_write_fn out, void *ctx)
{
	struct maildir *md = m->md;
	enum mbox_status rc;
	uint64_t octets;

	rc = md_msg_open(m, i);
	if (rc != MBOX_OK)
		return rc;
	rc = mbox_encode(md->fd, m->win, m->winsize, 0, md->msgs[i].stsize, body_lines,
			 out, ctx, &octets);
	/*
	 * The file shrank, or RETR sent other than what "+OK" said: the
	 * session ends before the final ".", so no client takes it as the
	 * message.
	 */
	if (rc == MBOX_OK && body_lines < 0 && octets != md->msgs[i].size)
		rc = MBOX_ERR_CHANGED;
	return rc;
}

/* ------------------------------------------------------------ UPDATE */

struct md_pending {
	uint32_t *idx;		/* deleted messages not found by name, by base */
	uint32_t n;
	int err;		/* first unlink error */
};

static int md_unlink_moved(struct maildir *md, int d, const char *name,
			   size_t baselen, void *arg)
{
	struct md_pending *p = arg;
	uint32_t lo = 0, hi = p->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct maildir_msg *msg = &md->msgs[p->idx[mid]];
		size_t n = baselen < msg->baselen ? baselen : msg->baselen;
		int c = memcmp(name, md_name(md, p->idx[mid]), n);

		if (c == 0)
			c = baselen < msg->baselen ? -1 : baselen > msg->baselen;
		if (c == 0) {
			if (unlinkat(md->dir[d], name, 0) < 0 && errno != ENOENT &&
			    !p->err)
				p->err = errno;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/*
 * RFC 1939 section 6: remove what was marked, nothing else.  A file
 * already gone was removed by someone else, which is what the client
 * wanted; one that was renamed meanwhile (flags, new/ to cur/) is found
 * by its unique part.  Mail that arrived during the session is not in
 * the index and cannot be touched.
 */
static enum mbox_status md_update(struct mbox *m, char *why, size_t whysize)
{
	struct maildir *md = m->md;
	struct md_pending p = { NULL, 0, 0 };
	uint32_t i;
	int d, touched[2] = { 0, 0 };

	mbox_why(why, whysize, "ok");
	if (m->updated)
		return MBOX_OK;
	if (md->fd >= 0)
		(void)close(md->fd);
	md->fd = -1;
	for (i = 0; i < md->count; i++) {
		if (!(m->msgs[i].flags & MBOX_MSG_DELETED))
			continue;
		d = md->msgs[i].dir;
		touched[d] = 1;
		if (md->dir[d] >= 0 && unlinkat(md->dir[d], md_name(md, i), 0) == 0)
			continue;
		if (md->dir[d] >= 0 && errno != ENOENT) {
			if (!p.err)
				p.err = errno;
			continue;
		}
		if (!p.idx && !(p.idx = malloc(md->count * sizeof(*p.idx)))) {
			mbox_why(why, whysize, "out of memory");
			return MBOX_ERR_SYS;
		}
		p.idx[p.n++] = i;
	}
	if (p.n) {
		md_sort_index(md, p.idx, p.n);
		touched[MD_CUR] = touched[MD_NEW] = 1;
		if (md_find(md, md_unlink_moved, &p) < 0 && !p.err)
			p.err = errno;
	}
	free(p.idx);
	/* The removals survive a crash once the directories are synced. */
	for (d = 0; d < 2; d++)
		if (touched[d] && md->dir[d] >= 0 && fsync(md->dir[d]) < 0 &&
		    !p.err && errno != EINVAL)
			p.err = errno;
	if (p.err) {
		mbox_why(why, whysize, "unlink: %s", strerror(p.err));
		return MBOX_ERR_SYS;
	}
	m->updated = 1;
	return MBOX_OK;
}

/*
 * Nothing to check between commands: each file is looked at again when
 * it is sent (md_msg_open), and new mail is not in the index.
 */
static enum mbox_status md_check(struct mbox *m)
{
	(void)m;
	return MBOX_OK;
}

const struct mbox_store maildir_store = {
	.name = "maildir",
	.open = md_open,
	.close = md_close,
	.msg_uidl = md_msg_uidl,
	.check = md_check,
	.msg_open = md_msg_open,
	.send = md_send,
	.update = md_update,
};
