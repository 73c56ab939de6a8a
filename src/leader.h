/* SPDX-License-Identifier: BSD-2-Clause */
/* The per-connection leader; see leader.c. */
#ifndef POPA3D_LEADER_H
#define POPA3D_LEADER_H

#include <sys/types.h>

#include "options.h"

/* Exit statuses the listener reads back. */
#define LEADER_EXIT_OK 0	/* a user logged in */
#define LEADER_EXIT_NOLOGIN 1	/* no login, no failed attempt */
#define LEADER_EXIT_AUTHFAIL 2	/* failed logins and no success: penalise */
#define LEADER_EXIT_TEMPFAIL 3	/* out of processes or descriptors: back off */

/*
 * Serve one connection (in_fd/out_fd: the same socket in standalone
 * mode, 0/1 under inetd).  rip is the client's address for logs and
 * PAM; penalty_ms is waited out before the first authentication (the
 * listener's per-source penalty); implicit_tls: the connection came in
 * on a --listen-tls socket (RFC 8314).  With --proxy-protocol the real
 * source comes from the pre-auth child (the PROXY header) and replaces
 * rip.  source_fd, when >= 0 (standalone), is a socketpair to the
 * listener: asked for the limits and the penalty of that source (PROXY),
 * told about failed attempts, asked before a session starts; closed
 * before the session.
 * Returns a LEADER_EXIT_* status.
 */
int leader_run(int in_fd, int out_fd, const struct options *o, const char *rip,
	       long long penalty_ms, int implicit_tls, int source_fd);

/*
 * The leader's side after the pre-auth child exists: serve its frames on
 * ipc until a login succeeds (then become the user and run the session),
 * the child ends, or it misbehaves.  Split out of leader_run so that tests
 * can play a hostile child: no TLS relay, no channel to a listener.
 */
int leader_serve(int in_fd, int out_fd, int ipc, pid_t child, const struct options *o,
		 const char *rip, const char *sid, long long penalty_ms);

#endif
