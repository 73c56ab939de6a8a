/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * The store interface: what a maildrop format provides behind the mbox_*
 * calls of mbox.h.  mbox.c keeps the index every store shares (count,
 * sizes, deletion marks, the --uidl dovecot side table) and calls the
 * store only through this table; a store reaches no other store and
 * never calls back into mbox.c.
 */
#ifndef POPA3D_MBOX_STORE_H
#define POPA3D_MBOX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mbox.h"

struct mbox_store {
	const char *name;
	/* Fill m->msgs/m->count from m->path (m->opts, m->dc set up). */
	enum mbox_status (*open)(struct mbox *m, char *why, size_t whysize);
	/* Release what open and the other calls took (m is freed after). */
	void (*close)(struct mbox *m);
	/* The store's own UIDL of message i (a Dovecot id is mbox.c's). */
	const char *(*msg_uidl)(const struct mbox *m, uint32_t i);
	/* The calls of the same name in mbox.h. */
	enum mbox_status (*check)(struct mbox *m);
	enum mbox_status (*msg_open)(struct mbox *m, uint32_t i);
	enum mbox_status (*send)(struct mbox *m, uint32_t i,
				 long long body_lines, mbox_write_fn out,
				 void *ctx);
	enum mbox_status (*update)(struct mbox *m, char *why, size_t whysize);
};

/* One traditional mbox file (file.c, with scan.c, lock.c, check.c,
 * update.c); a Maildir (maildir.c). */
extern const struct mbox_store mbox_file_store;
extern const struct mbox_store maildir_store;

#endif
