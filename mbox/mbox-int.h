/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * Internals of the mail engine shared between its files (scan, send,
 * lock, check, update).  Not for the protocol layer: it sees mbox.h only.
 * Runs as the mail user; never as root.
 */
#ifndef POPA3D_MBOX_INT_H
#define POPA3D_MBOX_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "mbox.h"
#include "status.h"

#define MBOX_MSG_DELETED 0x1

/* The longest From_ line the index can describe (fromlen's width). */
#define MBOX_FROMLINE_MAX ((UINT32_C(1) << 28) - 1)

/*
 * One message, 32 bytes: the whole index is count * 32 bytes, whatever
 * the size of the messages (--max-messages bounds count).  Offsets that
 * follow from the neighbours are not stored: the raw extent of message i
 * (what UPDATE copies: From_ line, content and separator) runs from from
 * to the next message's from, or to the scanned end for the last one;
 * its content (what RETR sends) from mbox_msg_data() to mbox_msg_end().
 * A Maildir (maildir.c) uses only size, dup and flags.
 */
struct mbox_msg {
	uint64_t from;			/* offset of the From_ line */
	uint64_t size;			/* octets as transmitted (RFC 1939 11) */
	unsigned char digest[8];	/* popa3d's UIDL digest, bytes 0..7 */
	uint32_t dup;			/* 0: first copy; n >= 2: n-th copy */
	uint32_t flags : 2;		/* MBOX_MSG_* */
	uint32_t sep : 2;		/* separator after the content: 0, 1 or 2 */
	uint32_t fromlen : 28;		/* From_ line with its newline */
};

/* What we know of the file as we scanned it (change detection). */
struct mbox_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	long long mtime_s, mtime_ns, ctime_s, ctime_ns;
};

struct maildir;
struct mbox_dovecot;
struct mbox_store;

/* A maildrop: the index every store shares, then each store's state. */
struct mbox {
	/* Shared (mbox.c), filled by the store's open. */
	const struct mbox_store *store;	/* the one that opened it (store.h) */
	char *path;
	struct mbox_opts opts;
	struct mbox_dovecot *dc;	/* --uidl dovecot only: the side table
					 * of Dovecot UIDs (dovecot.h) */
	struct mbox_msg *msgs;		/* a Maildir fills size, dup, flags */
	uint32_t count, cap;
	uint32_t live_count;
	uint64_t live_size;
	int updated;			/* UPDATE done: nothing more to do */
	unsigned char *win;		/* I/O window, winsize bytes */
	size_t winsize;			/* MBOX_WINDOW, or MBOX_WINDOW_SMALL */
	char uidl[40];			/* mbox_msg_uidl()'s result */

	/* The Maildir store's (maildir.c). */
	struct maildir *md;

	/* The mbox store's (file.c, scan.c, check.c, lock.c, update.c). */
	int fd;				/* -1: no file (empty maildrop) */
	int rdonly;			/* opened O_RDONLY: UPDATE refused */
	int broken;			/* changed under us: never written again */
	int dotlocked;			/* we hold lockpath */
	char *lockpath;			/* <path>.lock */
	uint64_t scanned;		/* bytes of the file we indexed */
	struct mbox_stamp stamp;	/* as of the scan */
	struct mbox_stamp seen;		/* the last one mbox_check accepted */
	unsigned char fingerprint[16];	/* see mbox_fingerprint() */
	size_t chunk;			/* UPDATE copy size (tests shrink it) */
};

/*
 * Scan and send read the file through one window of this size.  The
 * fuzzing build makes it tiny so that small inputs cross window edges
 * (a line, a CRLF or a From_ line split between two reads).
 */
#ifdef POPA3D_FUZZING
#define MBOX_WINDOW 640
#define MBOX_WINDOW_SMALL MBOX_WINDOW
#else
#define MBOX_WINDOW (1024 * 1024)
/*
 * A mailbox smaller than this gets a window this size: from the heap,
 * not a mapping of its own that a short session maps, faults in and
 * unmaps again, at every login (doc/performance.md).
 */
#define MBOX_WINDOW_SMALL (64 * 1024)
#endif

/* First byte after message i's From_ line. */
static inline uint64_t mbox_msg_data(const struct mbox *m, uint32_t i)
{
	return m->msgs[i].from + m->msgs[i].fromlen;
}

/* End of message i's content, its separator (the empty line before the
 * next From_ line, or a final one) excluded. */
static inline uint64_t mbox_msg_end(const struct mbox *m, uint32_t i)
{
	uint64_t next = i + 1 < m->count ? m->msgs[i + 1].from : m->scanned;

	return next - m->msgs[i].sep;
}

/* scan.c */
enum mbox_status mbox_scan(struct mbox *m, char *why, size_t whysize);
int mbox_number_duplicates(struct mbox *m);

/* send.c: the RETR/TOP encoder over [off, end) of fd through win
 * (winsize bytes, at least MBOX_WINDOW_SMALL); out NULL only counts.
 * *octets: what it sent, stuffed dots excluded (LIST's size when the
 * whole message is sent).  MBOX_ERR_CHANGED: the file ended before end. */
enum mbox_status mbox_encode(int fd, unsigned char *win, size_t winsize, uint64_t off,
			     uint64_t end, long long body_lines,
			     mbox_write_fn out, void *ctx, uint64_t *octets);

/* lock.c: lock for a scan (shared) or an update (exclusive). */
enum mbox_status mbox_lock(struct mbox *m, int exclusive,
			   char *why, size_t whysize);
void mbox_unlock(struct mbox *m);

/* check.c */
void mbox_stamp_of(struct mbox_stamp *s, const struct stat *st);
/* fstat alone: as mbox_check, but the path is looked up (and growth
 * verified) only when the descriptor shows a stamp not yet accepted. */
enum mbox_status mbox_check_quick(struct mbox *m);
int mbox_fingerprint(struct mbox *m, uint64_t size, unsigned char out[16]);
enum mbox_status mbox_check_why(struct mbox *m, char *why, size_t whysize);

/* dovecot.c: the side table follows m->cap; after the scan, the UIDs
 * it found are checked (mbox only). */
int mbox_dovecot_grow(struct mbox *m);
void mbox_dovecot_finish(struct mbox *m);

/* md5.c: RFC 1321, our own implementation (no crypto library here). */
struct mbox_md5 {
	uint32_t state[4];
	uint64_t bytes;
	unsigned char block[64];
};
void mbox_md5_init(struct mbox_md5 *c);
void mbox_md5_update(struct mbox_md5 *c, const void *p, size_t n);
void mbox_md5_final(struct mbox_md5 *c, unsigned char out[16]);

/* update.c: finish an UPDATE a kill interrupted (called at open, before
 * the scan; takes the exclusive lock only when a record is there). */
enum mbox_status mbox_resume(struct mbox *m, char *why, size_t whysize);
/* update.c: the mbox store's UPDATE (mbox_update of mbox.h). */
enum mbox_status mbox_file_update(struct mbox *m, char *why, size_t whysize);

/* Testing only: copy UPDATE in pieces of n bytes (0: the default). */
/* Testing only: raise SIGKILL at the kill_at-th step of an UPDATE or a
 * resume in this process (a pwrite, record write, cut or record
 * removal; a pwrite first writes part % (n + 1) of its n bytes);
 * 0: never.  The steps counted since the last call. */
void mbox_test_fault(long kill_at, size_t part);
long mbox_test_fault_steps(void);
void mbox_set_copy_chunk(struct mbox *m, size_t n);

#endif
