/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The Maildir store's index, private to its two files: maildir-scan.c
 * (opening: the names, the scan of cur/ and new/, the dovecot-uidlist
 * match) and maildir.c (the store's other calls: find, open, send and
 * remove a message of the index).  mbox.c reaches them only through
 * maildir_store (store.h).
 */
#ifndef POPA3D_MAILDIR_INT_H
#define POPA3D_MAILDIR_INT_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "maildir.h"
#include "mbox-int.h"

enum { MD_CUR = 0, MD_NEW = 1 };
extern const char *const md_dirname[2];	/* "cur", "new" */

/* One message: 40 bytes, plus its name in the pool. */
struct maildir_msg {
	uint64_t time;		/* sort key: delivery time from the name, else mtime */
	uint64_t size;		/* octets as transmitted */
	uint64_t stsize;	/* stored octets when we looked */
	uint32_t name;		/* offset of the NUL-terminated name in the pool */
	uint16_t baselen;	/* its unique part (before ':') */
	uint8_t dir;		/* MD_CUR or MD_NEW */
	uint8_t hinted;		/* size from the name, not yet counted */
};

struct maildir {
	int dir[2];		/* cur/ and new/, -1 if missing */
	struct maildir_msg *msgs;
	uint32_t count, cap;
	char *pool;		/* names, NUL-terminated, back to back */
	size_t plen, pcap;
	int fd;			/* the message md_msg_open prepared */
	uint32_t fd_msg;
	int notime;		/* some name had no leading time */
	uint32_t skipped;	/* entries refused for safety (logged) */
	char skipped_why[96];
	char uidl[MAILDIR_UIDL_SIZE];
};

static inline const char *md_name(const struct maildir *md, uint32_t i)
{
	return md->pool + md->msgs[i].name;
}

/* maildir-scan.c, for the store's calls in maildir.c. */

/* The store's open: m->msgs from the directories (and the dovecot list). */
enum mbox_status md_open(struct mbox *m, char *why, size_t whysize);
/* The UIDL of a unique part into out; plain: it may be itself. */
void md_uidl(const char *base, size_t len, int plain, char out[MAILDIR_UIDL_SIZE]);
/* A name into the pool; *off its offset.  -1 when out of memory. */
int md_add_name(struct maildir *md, const char *name, size_t len, uint32_t *off);
/* The transmitted size of an open file, by the sender's rules. */
enum mbox_status md_count(struct mbox *m, int fd, uint64_t stsize, uint64_t *size);
/* A regular file of the maildrop's owner. */
int md_safe(const struct mbox *m, const struct stat *st);
/* A directory to readdir from its start, on a descriptor of its own. */
DIR *md_opendir(int fd);
/* idx[0..n) sorted by the unique part of the message each names. */
void md_sort_index(struct maildir *md, uint32_t *idx, uint32_t n);

#endif
