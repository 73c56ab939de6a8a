/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The listener's state, private to listener.c (the poll loop, the
 * leaders' table and channels) and listener-setup.c (its start-up and
 * SIGHUP reload).
 */
#ifndef POPA3D_LISTENER_INT_H
#define POPA3D_LISTENER_INT_H

#include <poll.h>
#include <stdint.h>

#include "options.h"
#include "sources.h"

struct child;

/* The listener's whole state: the poll loop's and the budgets'. */
struct listener {
	struct options *o;
	int fds[OPT_LISTEN_MAX], tls[OPT_LISTEN_MAX];
	int nfds;
	struct child *kids;	/* wipe-on-fork pages: see listener_room */
	int *chans;		/* kids[i].chan, for a new leader to close */
	uint64_t nkids, kids_cap;
	int spare_fd;		/* /dev/null held back for EMFILE (see listener_pressure) */
	long long backoff_ms;	/* current pause after resource trouble, 0: none */
	long long paused_until;	/* listening sockets not polled before this */
	uint64_t accepted;	/* connections forked so far: their order */
	long long pressure_log_ms;	/* last resource-trouble line */
	unsigned long pressure_suppressed;
	struct source_census census;	/* per-source counts, sized with kids */
	struct pollfd *pfd;	/* the listeners, the signal pipe, then channels */
	uint64_t pfd_cap;
	nfds_t npfd;
};

/* listener-setup.c, for the start and the loop in listener.c. */

/* The listening sockets: systemd's, or bound from --listen.  -1 (said on
 * stderr: not detached yet) if one cannot be had. */
int listener_open(struct listener *l, struct options *o);
/* Fork into the background, a session of its own, on /dev/null. */
void listener_detach(void);
/* The pid file, written whole (FILE.new renamed over FILE). */
void listener_write_pidfile(const char *path);
/* RLIMIT_NOFILE raised towards what --max-preauth needs. */
void listener_nofile(const struct options *o);
/* The "started" log line. */
void listener_started(const struct listener *l);
/* SIGHUP: the new configuration into o, all or nothing (logged). */
void listener_reload(struct options *o, int argc, const char *const *argv,
		     int tls_listening);

#endif
