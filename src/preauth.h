/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The AUTHORIZATION state (RFC 1939 section 4), run by the pre-auth child:
 * unprivileged, chrooted into an empty directory, seccomp-sandboxed.  It
 * is the only code that talks to a client nobody has authenticated, so it
 * holds no one else's secret: no mail, no password database, no TLS
 * private key (the key holder signs for it; see keyholder.h).  It does
 * hold the client's own credentials on their way to the leader, the
 * syslog socket and, with TLS, the certificate chain.
 * Credentials go to the leader as FRAME_AUTH_REQUEST frames on ipc_fd.
 */
#ifndef POPA3D_PREAUTH_H
#define POPA3D_PREAUTH_H

#include "keyholder.h"
#include "options.h"

struct tls;

struct preauth_opts {
	/* --timeout and --max-failures: their defaults are the option
	 * table's (options.c), so both are > 0 here */
	int timeout;		/* idle seconds */
	int max_failures;	/* failed logins before closing */
	int require_tls;	/* refuse USER/PASS/AUTH unless under TLS */
	const char *expire;	/* CAPA EXPIRE argument, NULL: "NEVER" */
	int login_delay;	/* CAPA LOGIN-DELAY seconds, 0: not advertised */
	struct tls *tls;	/* a loaded server context: STLS on offer; NULL: none */
	int implicit_tls;	/* RFC 8314: handshake before the greeting */
	int allow_plaintext_auth;	/* SASL PLAIN also without TLS */
	int proxy;		/* a PROXY protocol header comes first */
};

/* Commands accepted before login, in all (RFC 1939 sets no limit). */
#define PREAUTH_MAX_COMMANDS 50

/*
 * Greet, then speak AUTHORIZATION until a login succeeds (0: the leader
 * takes over; nothing was written in answer to the final PASS, and no
 * byte after that PASS line was read), or the session is over (1: QUIT,
 * EOF, time-out, too many failures or commands, IPC trouble, a failed
 * TLS handshake).  With o->tls, STLS (and o->implicit_tls) put TLS on the
 * connection; the leader is told by a FRAME_TLS_ACTIVE frame, and after
 * a login under TLS the caller relays (tls_relay) instead of exiting.
 * With o->proxy, the PROXY header is read first (before TLS too) and
 * its source sent up as FRAME_PROXY_SOURCE; nothing is said to the
 * client until the leader answers FRAME_PROXY_VERDICT.
 */
int preauth_run(int in_fd, int out_fd, int ipc_fd, const struct preauth_opts *o);

/* What the pre-auth child gets for TLS; fds are -1 when TLS is off. */
struct preauth_tls {
	struct keyholder_conn kc;	/* a channel to the key holder, the chain */
	int relay;		/* the child's end of the session socketpair */
	int implicit;		/* the connection came in on --listen-tls */
};

/* The child's entry after the leader's fork: never returns. */
__attribute__((noreturn))
void preauth_child(int in_fd, int out_fd, int ipc, const struct options *o,
		   struct preauth_tls *lt);

#endif
