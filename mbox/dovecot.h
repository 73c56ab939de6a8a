/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * --uidl dovecot (doc/migration.md): the UIDLs Dovecot's POP3 server
 * shows with its default pop3_uidl_format "%08Xu%08Xv", which it prints
 * as 16 lower-case hex digits: the IMAP UID, then the UIDVALIDITY.  We
 * read them from what Dovecot left behind and never write its files:
 *  - mbox: the X-UID header of each message and X-IMAPbase (UIDVALIDITY,
 *    last UID) in the first message's headers;
 *  - Maildir: dovecot-uidlist in the Maildir's directory.
 * Every byte parsed here is untrusted (a sender writes headers; a
 * damaged list is possible), so the parsers are pure, bounded and
 * fuzzed, and whatever they refuse falls back to our own ids.  Runs as
 * the mail user; never as root.
 */
#ifndef POPA3D_DOVECOT_H
#define POPA3D_DOVECOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DOVECOT_UIDL_SIZE 17		/* 16 hex digits and NUL */
#define DOVECOT_UIDLIST_NAME "dovecot-uidlist"
#define DOVECOT_UIDLIST_MAX (64u * 1024 * 1024)	/* bytes we read at most */
#define DOVECOT_LINE_MAX 4096		/* a longer list line is damage */

/*
 * The side table, allocated only under --uidl dovecot (the per-message
 * index stays as small as it is without it): one UID per message, in
 * the index's order, 0 where the message has none we believe.
 */
struct mbox_dovecot {
	uint32_t validity;	/* 0: none known, so no Dovecot ids at all */
	uint32_t last;		/* mbox: the last UID X-IMAPbase names */
	int imapbase_bad;	/* mbox: X-IMAPbase given twice or malformed */
	uint32_t *uid;
	uint32_t cap;
};

/* The value after "X-IMAPbase:": UIDVALIDITY, last UID, then optional
 * keywords.  Leading zeros are allowed (Dovecot pads the last UID).
 * 0 and both set (validity non-zero), or -1. */
int dovecot_parse_imapbase(const char *v, size_t n, uint32_t *validity,
			   uint32_t *last);
/* The value after "X-UID:": a non-zero UID, blanks around it.  0 or -1. */
int dovecot_parse_xuid(const char *v, size_t n, uint32_t *uid);

/* dovecot-uidlist, one line at a time (versions 1 and 3). */
struct dovecot_uidlist {
	int version;		/* 0 until the header line was read */
	uint32_t validity;
	uint32_t prev;		/* the last record's UID: they must increase */
};
/*
 * One line, without its '\n'.  0 for the header line; 1 for a record,
 * with *uid and the file's base name (what precedes ":2," in cur/) in
 * *name, *namelen; -1 if the list is damaged, with a fixed reason in
 * *why.  UIDs must be non-zero and strictly increasing, so the ids of
 * one list are unique.
 */
int dovecot_uidlist_line(struct dovecot_uidlist *l, const char *p, size_t n,
			 uint32_t *uid, const char **name, size_t *namelen,
			 const char **why);

/*
 * Read dirfd's dovecot-uidlist (the user's own regular file, not a
 * symlink, at most DOVECOT_UIDLIST_MAX bytes) through win and hand every
 * record to cb, which returns -1 to call the list damaged.  1 and
 * *validity set if it was read whole; 0 if there is none; -1 with a
 * reason in why if it must be ignored.  A last line without its '\n'
 * (an append cut short) is not read.
 */
int dovecot_uidlist_read(int dirfd, uid_t owner, unsigned char *win,
			 size_t winsize,
			 int (*cb)(void *ctx, const char *name, size_t len,
				   uint32_t uid),
			 void *ctx, uint32_t *validity, char *why,
			 size_t whysize);

/* "%08x%08x": uid, then validity. */
void dovecot_uidl_format(uint32_t uid, uint32_t validity,
			 char out[DOVECOT_UIDL_SIZE]);
/* Does s[0..n) have the form of such an id (16 of [0-9a-f])? */
int dovecot_uidl_like(const char *s, size_t n);

#endif
