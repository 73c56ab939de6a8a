/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * The mail engine: TRANSACTION and UPDATE over a traditional mbox file
 * or a Maildir (opts.format; doc/maildir.md), behind the same calls.
 *
 * Runs in the session process after it has become the mail user; knows
 * nothing of PAM, sockets or POP3 syntax.  The mailbox is read in place
 * (pread into bounded windows, never mmap, never copied), with bounded
 * memory whatever the size of a message or a line.  Message numbers
 * here are 0-based; the protocol layer adds 1.
 */
#ifndef POPA3D_MBOX_H
#define POPA3D_MBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mbox;

enum mbox_status {
	MBOX_OK = 0,
	MBOX_ERR_INUSE,		/* a lock could not be had in time: [IN-USE] */
	MBOX_ERR_DAMAGED,	/* not an mbox (first line not From_): [SYS/PERM] */
	MBOX_ERR_LIMIT,		/* over --max-messages/--max-mailbox-size: [SYS/PERM] */
	MBOX_ERR_UNSAFE,	/* symlink, not a regular file, wrong owner: [SYS/PERM] */
	MBOX_ERR_CHANGED,	/* changed by another program in a way we can't follow */
	MBOX_ERR_SYS,		/* I/O error, out of memory, full disk: [SYS/TEMP] */
	MBOX_ERR_PEER,		/* the output callback failed (client gone) */
	MBOX_ERR_GONE		/* Maildir: this message was removed by another
				 * client; only this command fails */
};

/* The store behind a maildrop path. */
enum mbox_format {
	MBOX_FORMAT_MBOX = 0,	/* one mbox file (the default) */
	MBOX_FORMAT_MAILDIR	/* a Maildir: cur/ and new/ (doc/maildir.md) */
};

/* Which UIDLs the maildrop shows (--uidl; doc/migration.md). */
enum mbox_uidl {
	MBOX_UIDL_POPA3D = 0,	/* ours: popa3d 1.0.3's (mbox), the unique part (Maildir) */
	MBOX_UIDL_DOVECOT	/* Dovecot's where it left them, ours elsewhere */
};

/* Locking methods; any combination. */
#define MBOX_LOCK_FCNTL 0x1
#define MBOX_LOCK_FLOCK 0x2
#define MBOX_LOCK_DOT   0x4	/* <path>.lock, only where we may create it */

struct mbox_opts {
	uid_t owner;			/* the file must be owned by this uid */
	uint64_t max_messages;		/* 0: no limit */
	uint64_t max_size;		/* bytes; 0: no limit */
	unsigned lock_methods;		/* MBOX_LOCK_* (default fcntl|dot) */
	int lock_timeout;		/* seconds to wait for a lock */
	int format;			/* enum mbox_format */
	int uidl;			/* enum mbox_uidl */
};

/* Fill o with the defaults (owner is left for the caller). */
void mbox_opts_default(struct mbox_opts *o);

/*
 * Open, lock, scan and unlock.  A missing or empty file is an empty
 * maildrop (MBOX_OK with 0 messages).  On failure *mp is NULL and a
 * human-readable reason is in why (for the log, never for the client).
 */
enum mbox_status mbox_open(struct mbox **mp, const char *path,
			   const struct mbox_opts *o, char *why, size_t whysize);

/* Number of messages found at open (deleted ones included). */
uint32_t mbox_count(const struct mbox *m);
/* Octets as transmitted (CRLF line ends, before dot-stuffing). */
uint64_t mbox_msg_size(const struct mbox *m, uint32_t i);
/* NUL-terminated unique id, 1..70 chars of 0x21..0x7E. */
const char *mbox_msg_uidl(const struct mbox *m, uint32_t i);

/* Deletion marks (applied only by mbox_update). */
int mbox_msg_deleted(const struct mbox *m, uint32_t i);
void mbox_msg_delete(struct mbox *m, uint32_t i);
void mbox_undelete_all(struct mbox *m);
/* Totals over the messages not marked deleted. */
uint32_t mbox_live_count(const struct mbox *m);
uint64_t mbox_live_size(const struct mbox *m);

/*
 * Has the file changed since we last looked?  MBOX_OK if not, or if the
 * only change is mail appended after the scanned end (ignored for the
 * rest of the session, RFC 1939's fixed maildrop).  MBOX_ERR_CHANGED
 * otherwise: the session must end without UPDATE.
 */
enum mbox_status mbox_check(struct mbox *m);

/* Output sink for mbox_send: 0 on success, -1 to abort (peer gone). */
typedef int (*mbox_write_fn)(void *ctx, const void *p, size_t n);

/*
 * Before RETR/TOP answers "+OK": make message i ready to send.  mbox: MBOX_OK.
 * Maildir: opens the file; MBOX_ERR_GONE if another client removed it,
 * and a size taken from the file name is checked here, so the "+OK"
 * line the caller writes next carries the exact size (mbox_msg_size).
 */
enum mbox_status mbox_msg_open(struct mbox *m, uint32_t i);

/*
 * Stream message i as POP3 wants it: CRLF line ends, leading '.' doubled,
 * ending in CRLF (one is supplied if the stored message lacks it).  The
 * protocol layer writes the "+OK" line before and ".\r\n" after.
 * body_lines < 0 sends everything (RETR); otherwise the headers, the
 * blank line and body_lines lines of the body (TOP).  Checks for change
 * before reading.
 */
enum mbox_status mbox_send(struct mbox *m, uint32_t i, long long body_lines,
			   mbox_write_fn out, void *ctx);

/*
 * UPDATE: lock, verify unchanged (appended mail is kept), rewrite in place
 * from the first deleted message, ftruncate, fsync, unlock.  Nothing
 * marked deleted: nothing written.
 */
enum mbox_status mbox_update(struct mbox *m, char *why, size_t whysize);

/* Release everything (no UPDATE). */
void mbox_close(struct mbox *m);

#endif
