/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TRANSACTION and UPDATE (RFC 1939 sections 5 and 6), run by the session
 * process after the leader has become the mail user: it answers the PASS
 * the pre-auth child left open, then serves the mailbox through the mbox
 * engine until QUIT (UPDATE) or any other end (no UPDATE, nothing removed).
 */
#ifndef POPA3D_SESSION_H
#define POPA3D_SESSION_H

#include <stdint.h>

#include "mbox.h"

struct session_opts {
	int timeout;			/* idle seconds: --timeout, > 0 */
	const char *user;		/* for the log */
	const char *mailbox;		/* mbox path */
	struct mbox_opts mbox;
	const char *session_id;		/* for the log */
	const char *rip;		/* client address, for the log */
	const char *expire;		/* CAPA EXPIRE argument, NULL: "NEVER" */
	int login_delay;		/* CAPA LOGIN-DELAY, 0: not advertised */
	int sasl_plain;			/* CAPA: SASL PLAIN was on offer before login */
	int stls;			/* CAPA: STLS was on offer before login */
	int capa_version;		/* CAPA IMPLEMENTATION with the version */
	struct session_result *result;	/* filled at the end, if not NULL */
};

/* How a session ended, for the leader's end-of-connection line. */
struct session_result {
	const char *end;		/* quit, eof, timeout, open-failed, ... */
	uint64_t sent;			/* octets written to out_fd */
};

/* Process exit status: 0 after a clean QUIT (UPDATE done), 1 otherwise. */
int session_run(int in_fd, int out_fd, const struct session_opts *o);

#endif
