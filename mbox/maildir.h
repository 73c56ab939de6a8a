/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session (the mail user), never as root.
 * The Maildir store's file-name parser and UIDL rule, which the unit
 * test and the fuzz target call directly; the store itself is reached
 * through its table (maildir_store, store.h).
 */
#ifndef POPA3D_MAILDIR_H
#define POPA3D_MAILDIR_H

#include <stddef.h>
#include <stdint.h>

#define MAILDIR_NAME_MAX 255	/* NAME_MAX: nothing longer is a message */
#define MAILDIR_UIDL_SIZE 71	/* RFC 1939 section 7: 70 chars, and NUL */

/* What a file name says: "time.unique.host[,S=n][,W=n][:2,flags]". */
struct maildir_name {
	size_t baselen;		/* the unique part: bytes before the first ':' */
	uint64_t time;		/* delivery time, the leading number ... */
	int has_time;		/* ... if the name starts with one */
	uint64_t s_size;	/* ",S=": stored octets (Dovecot, Courier) */
	uint64_t w_size;	/* ",W=": octets with CRLF line ends (Dovecot) */
	int has_s, has_w;	/* each given exactly once, as a valid number */
};

/*
 * 0 and *out filled if name[0..len) names a message file; -1 for what is
 * not one: empty, longer than MAILDIR_NAME_MAX, hidden (leading '.',
 * which also covers "." and ".."), a '/' or NUL inside, or an empty
 * unique part.  Any other byte is allowed (the UIDL is then hashed).
 */
int maildir_parse_name(const char *name, size_t len, struct maildir_name *out);

/*
 * The POP3 unique id of a unique part: itself when it is 1..70 bytes of
 * 0x21..0x7E not starting with '~'; otherwise '~' and 32 hex digits of
 * its MD5.  Equal unique parts give equal ids, different ones different
 * ids (a verbatim id never starts with '~'; two hashed ids are equal only
 * for an MD5 collision).  out gets a NUL-terminated string.
 */
void maildir_uidl_of(const char *base, size_t len, char out[MAILDIR_UIDL_SIZE]);

/*
 * The transmitted size the name announces, if it can be believed for a
 * file of st_size stored octets: ",W=" given, ",S=" absent or equal to
 * st_size, and st_size <= W <= 2 * st_size + 2 (every LF may gain a CR,
 * plus a final CRLF).  1 and *size set, else 0 (the caller counts).
 */
int maildir_size_hint(const struct maildir_name *n, uint64_t st_size,
		      uint64_t *size);

#endif
