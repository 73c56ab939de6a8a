/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * The calls of mbox.h: the index every store shares (counts, sizes,
 * deletion marks, Dovecot UIDLs) and, through the store table
 * (store.h), the store that opened the maildrop: file.c for an mbox,
 * maildir.c for a Maildir.  Opens nothing itself.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "dovecot.h"
#include "mbox-int.h"
#include "store.h"

void mbox_opts_default(struct mbox_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->owner = (uid_t)-1;
	o->max_messages = 2097152;
	o->max_size = 0;
	o->lock_methods = MBOX_LOCK_FCNTL | MBOX_LOCK_DOT;
	o->lock_timeout = 10;
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
	m->opts = *o;
	m->path = malloc(plen + 1);
	if (!m->path) {
		mbox_close(m);
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	memcpy(m->path, path, plen + 1);
	if (o->uidl == MBOX_UIDL_DOVECOT && !(m->dc = calloc(1, sizeof(*m->dc)))) {
		mbox_close(m);
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	m->store = o->format == MBOX_FORMAT_MAILDIR ? &maildir_store :
	    &mbox_file_store;
	rc = m->store->open(m, why, whysize);
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
	if (m->store)
		m->store->close(m);
	if (m->dc)
		free(m->dc->uid);
	free(m->dc);
	free(m->msgs);
	free(m->win);
	free(m->path);
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
 * Under --uidl dovecot a message with a Dovecot UID shows Dovecot's id,
 * "%08x%08x" of UID and UIDVALIDITY, whatever the store; the others show
 * the store's own.
 */
const char *mbox_msg_uidl(const struct mbox *m, uint32_t i)
{
	/* The buffer is scratch space, not part of the index's state. */
	char *out = ((struct mbox *)m)->uidl;

	if (i < m->count && m->dc && m->dc->uid && m->dc->uid[i]) {
		dovecot_uidl_format(m->dc->uid[i], m->dc->validity, out);
		return out;
	}
	return m->store->msg_uidl(m, i);
}

enum mbox_status mbox_check(struct mbox *m)
{
	return m->store->check(m);
}

enum mbox_status mbox_msg_open(struct mbox *m, uint32_t i)
{
	return m->store->msg_open(m, i);
}

enum mbox_status mbox_send(struct mbox *m, uint32_t i, long long body_lines,
			   mbox_write_fn out, void *ctx)
{
	return m->store->send(m, i, body_lines, out, ctx);
}

enum mbox_status mbox_update(struct mbox *m, char *why, size_t whysize)
{
	return m->store->update(m, why, whysize);
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
