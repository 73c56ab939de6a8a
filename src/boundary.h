/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The process boundary as data: which frame each process may send to
 * which, and when.  One table (boundary.c), one check (boundary_check);
 * a frame the table does not allow is a hostile peer.  doc/DESIGN.md's
 * frame table lists the same rules (tests/unit/test-boundary checks).
 */
#ifndef POPA3D_BOUNDARY_H
#define POPA3D_BOUNDARY_H

#include <stddef.h>
#include <stdint.h>

enum boundary_proc {
	BOUNDARY_LISTENER = 1,
	BOUNDARY_LEADER,
	BOUNDARY_PREAUTH,	/* the pre-auth child */
	BOUNDARY_AUTHHELPER,
	BOUNDARY_KEYHOLDER,
	BOUNDARY_TLS_ENDPOINT	/* whichever process runs a handshake */
};

enum boundary_flag {
	BOUNDARY_ONCE = 1 << 0,		/* at most once per connection */
	BOUNDARY_FIRST = 1 << 1,	/* before any other frame on that path */
	BOUNDARY_BEFORE_AUTH = 1 << 2,	/* only before a login succeeded */
	BOUNDARY_TLS_ONLY = 1 << 3,	/* only where TLS was possible */
	BOUNDARY_PROXY_ONLY = 1 << 4,	/* only under --proxy-protocol */
	BOUNDARY_STANDALONE_ONLY = 1 << 5,	/* only with a listener */
	BOUNDARY_ANSWER = 1 << 6	/* only as the answer to a question */
};

struct boundary_rule {
	uint32_t type;		/* enum frame_type */
	enum boundary_proc from, to;
	unsigned flags;		/* enum boundary_flag */
};

/* What the receiver knows about one path (from -> to) of one connection. */
struct boundary_state {
	enum boundary_proc from, to;
	unsigned tls:1;		/* TLS was possible on this connection */
	unsigned proxy:1;	/* --proxy-protocol */
	unsigned standalone:1;	/* there is a listener */
	unsigned authed:1;	/* a login succeeded */
	uint32_t seen;		/* bit per frame type received */
};

extern const struct boundary_rule boundary_rules[];
extern const size_t boundary_nrules;

void boundary_init(struct boundary_state *st, enum boundary_proc from, enum boundary_proc to);
/* 0 if the table lets st->from send this type to st->to now (and record
 * it); -1 with *why set otherwise: the sender is hostile. */
int boundary_check(struct boundary_state *st, uint32_t type, const char **why);
/* boundary_recv's answer for a frame outside the table. */
#define BOUNDARY_HOSTILE (-3)
/*
 * The one way a process takes a frame from a peer whose path the table
 * rules: frame_recv, then boundary_check.  FRAME_RECV_OK when the table
 * allows the frame now, FRAME_RECV_EOF, FRAME_RECV_ERROR, or
 * BOUNDARY_HOSTILE (*why: the rule it broke; f wiped).
 */
struct frame;
int boundary_recv(struct boundary_state *st, int fd, struct frame *f, long long deadline_ms,
		  const char **why);
/* The rule for a path, or NULL. */
const struct boundary_rule *boundary_rule(uint32_t type, enum boundary_proc from,
					  enum boundary_proc to);
/* Names as doc/DESIGN.md writes them. */
const char *boundary_proc_name(enum boundary_proc p);
const char *boundary_type_name(uint32_t type);

#endif
