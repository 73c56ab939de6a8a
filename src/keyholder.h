/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TLS key holder: the one kind of process that holds the private key.
 *
 * It is forked as root, reads the key (tls_key_load, in the TLS module),
 * closes the file and drops exactly as the pre-auth child does (the
 * pre-auth user, chrooted into --empty-dir, no_new_privs, not dumpable,
 * no core, no fork, no new files, the pre-auth seccomp filter plus
 * recvmsg on its control socket alone: it needs only to read and write
 * descriptors it holds, and to take channels from root leaders).  Then it answers
 * FRAME_KEY_REQUEST packets on its channels, one private-key operation
 * per request, at most one handshake's worth per channel (keyproto.h).
 *
 * Standalone, the listener starts one holder per configuration (at start
 * and at each SIGHUP) and keeps a control socket to it; each leader sends
 * the holder one end of a fresh channel over it (SCM_RIGHTS) and gives
 * the other end, with the certificate chain, to its pre-auth child.  In
 * inetd mode (and if the daemon's holder cannot be reached) the leader
 * forks a holder of its own for its one connection.  Why one holder, see
 * doc/DESIGN.md, "Where TLS lives".
 */
#ifndef POPA3D_KEYHOLDER_H
#define POPA3D_KEYHOLDER_H

#include <stddef.h>
#include <sys/types.h>

#include "options.h"

struct buf;
struct tls;

/* What a connection gets: the pre-auth child's end of a channel to a
 * holder, and the certificate chain (PEM, in memory) that goes with the
 * holder's key. */
struct keyholder_conn {
	int chan;			/* -1: none */
	const unsigned char *chain;
	size_t chain_len;
	pid_t pid;			/* a holder of this connection's own, or -1 */
};

/*
 * The listener (root), at start and at SIGHUP: read the certificate
 * chain, start a holder for it and for --tls-key, and wait until it has
 * loaded the key and dropped its privileges; then retire the previous
 * holder (it ends when its open channels do).  Without --tls-cert, only
 * the retirement.  0, or -1 with one line in err (the previous holder
 * kept).
 */
int keyholder_start(const struct options *o, struct buf *err);

/*
 * The leader (root), first thing: a channel for this connection (conn
 * set; 0) or -1 with *why for the log.  Either way the control socket
 * to the daemon's holder is closed in this process, so that neither the
 * pre-auth child nor the session (the mail user) ever holds it.  With
 * want == 0 only that.
 */
int keyholder_connect(const struct options *o, int want, struct keyholder_conn *conn,
		      const char **why);

/* The leader, at the end: reap a holder of the connection's own. */
void keyholder_end(struct keyholder_conn *conn);

/* The pre-auth child: a TLS context on conn's chain whose private-key
 * operations go to conn's channel, which is closed once the handshake
 * is over.  NULL with *why set. */
struct tls *keyholder_tls(struct keyholder_conn *conn, const char **why);

#endif
