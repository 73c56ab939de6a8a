/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user).
 * The UPDATE journal record (see update.c for how it is used): one
 * extended attribute of the mailbox file, rewritten before each write
 * of the rewrite that the last record does not cover.  This header is the record's format only: encoding,
 * strict parsing and the plan's varints.  Runs as the mail user, on
 * bytes the user controls (anyone who may write the file may set the
 * attribute): the parser trusts no length and no offset, and is fuzzed
 * (tests/fuzz/fuzz-journal.c).
 */
#ifndef POPA3D_MBOX_JOURNAL_H
#define POPA3D_MBOX_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define UR_XATTR "user.popa3d.update"
/* The format's version is its last byte: a record of another version
 * is discarded (logged once), never read by another version's rules. */
#define UR_MAGIC "P3U2"
/* ext4 keeps every attribute of a file in one 4 KiB block: stay well
 * under it so that a security label or an ACL still fits beside us. */
#define UR_MAX 3584
#define UR_SIG_MAX 128		/* sampled blocks of the chunk in flight */
#define UR_BLOCK 4096		/* largest sampled block */
#define UR_STALE 4096		/* bytes hashed beyond the new end */
#define UR_FIXED 104		/* header and trailer without sig and plan */
#define UR_NONE 0xffff		/* a block whose old and new bytes agree */

#define UR_TRUNC 0x1		/* everything copied: cutting at dst */

/*
 * One sampled block of the chunk in flight: the first (e) and the last
 * (l) byte of the block where what the write puts there differs from
 * what was there before, with both values.
 */
struct ur_sig {
	uint16_t e, l;
	unsigned char e_old, e_new, l_old, l_new;
};

struct ur_record {
	uint32_t flags;			/* UR_TRUNC */
	uint64_t ino;			/* the mailbox's inode */
	uint64_t birth;			/* and its birth time (ns), 0 if unknown */
	uint64_t src, dst;		/* next old byte to move, its new place */
	uint64_t seg;			/* kept bytes left from src (0: tail) */
	uint64_t undone_bytes;		/* deleted bytes past the plan's window */
	uint32_t undone_msgs;		/* and their messages (only logged) */
	uint64_t stale_len;		/* UR_TRUNC: bytes hashed at dst */
	uint64_t stale_hash;
	uint32_t len;			/* chunk in flight: [src, src+len) */
	uint32_t blk;			/* sample block size */
	uint32_t nsig;
	struct ur_sig sig[UR_SIG_MAX];
	uint32_t npairs;		/* (skip, keep) pairs after seg: the */
	const unsigned char *plan;	/* window's varints (into the parsed buffer) */
	size_t planlen;
};

/* 64-bit FNV-1a: record checksum and stale-tail hash (no adversary: the
 * user who could forge one controls the file anyway). */
uint64_t ur_hash(uint64_t h, const unsigned char *p, size_t n);
#define UR_HASH_INIT 0xcbf29ce484222325ULL

/* Append v as a LEB128 varint; -1 if it does not fit in out[*pos..cap). */
int ur_put_varint(unsigned char *out, size_t cap, size_t *pos, uint64_t v);
/* Read one canonical varint below 2^63; -1 on a short or bad one. */
int ur_get_varint(const unsigned char *p, size_t n, size_t *pos, uint64_t *v);

/* Encode r (plan bytes from r->plan); the length, or 0 if over UR_MAX. */
size_t ur_encode(const struct ur_record *r, unsigned char *out);

/*
 * Parse and check everything that needs no file: layout, checksum,
 * canonical varints, sums without overflow, the chunk and its samples
 * consistent with src - dst.  0, or -1 with a reason in why.
 */
int ur_parse(const unsigned char *buf, size_t n, struct ur_record *r,
	     char *why, size_t whysize);

#endif
