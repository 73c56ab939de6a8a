/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener (root).
 * The standalone listener.  Runs as root for the life of the daemon.
 *
 * It NEVER reads a byte from a client: it accepts, counts, and forks a
 * leader per connection (leader.c).  The only thing it ever writes to a
 * client is a fixed "-ERR [SYS/TEMP]" line when a limit refuses it (on a
 * POP3S listener not even that); what a refused client had sent is
 * dropped in the kernel (recv with MSG_TRUNC copies nothing).
 *
 * Flood resistance lives here because only this process sees every
 * connection.  Two budgets: --max-preauth connections not logged in and
 * --max-sessions mail sessions; --max-per-source per address (IPv6
 * grouped per /64, since one host usually owns a whole /64).  When
 * --max-preauth is full a new connection is still served: the oldest
 * unauthenticated connection of the source holding the most is evicted
 * (FRAME_EVICT to its leader).  A growing per-source penalty after failed
 * logins (2 s doubling to --penalty-max) is told to the leader, which
 * waits it out before the next authentication; the per-source table that
 * holds it, the rule for failed user names and the per-source counts
 * are in sources.c.  Refusals are logged at
 * most once per source per LOG_INTERVAL_MS with a count of what was
 * suppressed, so that a flood cannot fill the disk; out of descriptors,
 * memory or processes, the listener pauses accepting (listener_pressure)
 * instead of spinning.
 *
 * Each leader has a channel (socketpair) to the listener until its
 * session starts.  What the listener answers on it, and when
 * (listener_channel):
 *   FRAME_PROXY_SOURCE  -> FRAME_PROXY_VERDICT, once, first, with
 *                          --proxy-protocol: --max-per-source and the
 *                          penalty for the real source;
 *   FRAME_USER_NOTE FAILED -> nothing: the user name of a failed attempt,
 *                          so that a later success clears the penalty only
 *                          when every failure was for the account that
 *                          succeeded (listener_user);
 *   FRAME_USER_NOTE LOGIN  -> FRAME_USER_VERDICT, from a connection not yet
 *                          logged in: GO, REFUSE_USER (--max-per-user) or
 *                          REFUSE_SESSIONS (--max-sessions).
 * and what it sends unasked: FRAME_EVICT, to a connection not logged in.
 * The rules are boundary.c's table, with each leader's phase as the state
 * (listener_leader_frame); a frame outside it, or one that does not
 * decode, is a hostile leader: killed, its connection counted as a
 * failed login (listener_hostile).  After GO the channel is closed: no
 * process that runs as a mail user holds a line to this one.
 *
 * Nor does a leader inherit what this process knows about other
 * connections (their addresses, the user names that failed from them):
 * the leaders' table and sources.c's tables are in wipe-on-fork pages
 * (listener_room, io_map_wipeonfork), a handled frame is wiped off the
 * stack (listener_channel), and the new leader zeroes the stack below it
 * (listener_scrub_stack).  tests/e2e/test-noinherit.py checks it.
 *
 * Signals only write a byte into a self-pipe; all work happens in the poll
 * loop, so SIGCHLD reaping has no races and no zombie outlives one loop.
 * SIGHUP reopens syslog and reads the command line and config file again:
 * the new options apply to connections accepted from then on (sessions
 * under way keep theirs); a configuration that does not check out
 * (confcheck, as at start and in popa3d -t) is logged, one line per
 * problem, and the old one kept; listening sockets stay as they are.
 * The reload and the start (the listening sockets, the detach, the pid
 * file) are in listener-setup.c; this file is the poll loop, the
 * leaders' table and what the listener answers on their channels.
 *
 * PROXY protocol (--proxy-protocol): every connection comes from a
 * balancer, so the TCP peer says nothing about the client.  The listener
 * still never reads the client: it refuses a peer outside --proxy-from at
 * once (no fork).  The pre-auth child parses the header, the leader passes
 * the source up as a FRAME_PROXY_SOURCE, and the listener applies
 * --max-per-source and the penalty to that source.  Until then the
 * connection counts towards --max-preauth only.
 *
 * TLS: the listener never loads the private key.  It checks certificate
 * and key in a throwaway fork (tls_check_files) at start-up and SIGHUP,
 * then starts the key holder for them (keyholder_start: the holder reads
 * the key, the listener only the public chain); leaders inherit the
 * control socket to the holder and ask it for a channel each.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boundary.h"
#include "connproto.h"
#include "confcheck.h"
#include "frame.h"
#include "keyholder.h"
#include "leader.h"
#include "listener-int.h"
#include "listener.h"
#include "log.h"
#include "num.h"
#include "peer.h"
#include "proxy.h"
#include "sandbox.h"
#include "sources.h"
#include "sysio.h"
#include "tls.h"

#define LOG_INTERVAL_MS SOURCES_LOG_INTERVAL_MS
/* connections taken from one socket per wake, so the queue drains */
#define ACCEPT_BATCH 16
/* evicted leaders still lingering, beyond --max-preauth */
#define EVICTED_SLACK 64

/* What a leader's connection is, as far as the budgets go. */
enum child_state {
	CHILD_PREAUTH,		/* not logged in: --max-preauth, may be evicted */
	CHILD_SESSION,		/* logged in: --max-sessions, never evicted */
	CHILD_EVICTED		/* told to close; counts towards nothing */
};

struct child {
	pid_t pid;
	struct peer_key key;
	char addr[PEER_ADDR_MAX];
	int counted;		/* counts towards --max-per-source under key */
	int state;		/* enum child_state */
	int chan;		/* our end of the leader's channel; -1 once closed */
	struct boundary_state path;	/* what the leader has sent: its phase */
	uint64_t seq;		/* accept order: lower is older */
	int penalise;		/* logged in after failing for other user names */
	struct source_fails fails;	/* this connection's failed user names */
	char user[FRAME_USER_MAX + 1];	/* in session as this account; "" before */
};

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_term, got_hup;

static void listener_on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	/* the pipe is non-blocking: if it is full, a wake-up is pending anyway */
	if (write(sig_pipe[1], &c, 1) < 0) {
	}
	errno = saved;
}

static void listener_signals(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe: %m");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = listener_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGCHLD, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGHUP, &sa, NULL) < 0)
		fatal("sigaction: %m");
	signal(SIGPIPE, SIG_IGN);
}


/* One line per source per LOG_INTERVAL_MS, with what was suppressed. */
static void listener_log_refusal(const struct peer_key *k, const char *addr, const char *lip,
				 const char *why, long long now)
{
	unsigned long suppressed;

	if (!sources_log_due(k, now, &suppressed))
		return;
	if (suppressed)
		log_msg(LOG_WARNING, "refused rip=%s reason=\"%s\" lip=%s suppressed=%lu", addr,
			why, lip, suppressed);
	else
		log_msg(LOG_WARNING, "refused rip=%s reason=\"%s\" lip=%s", addr, why, lip);
}

/*
 * Close a connection we will not serve, cleanly: on a plain listener
 * with the fixed -ERR line; on a POP3S listener with nothing at all, since
 * a plaintext line there is garbage to a TLS client.  FIN goes out before
 * what the client already sent is discarded (MSG_TRUNC drops it in the
 * kernel: no client byte enters this process), so the close is not a
 * reset.
 */
static void listener_close_clean(int fd, int tls)
{
	static const char msg[] = "-ERR [SYS/TEMP] Too many connections, try again later.\r\n";

	/* Best effort, never blocking. */
	if (!tls && send(fd, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
	}
	if (shutdown(fd, SHUT_WR) == 0)
		while (recv(fd, NULL, 65536, MSG_TRUNC | MSG_DONTWAIT) > 0)
			;
	close(fd);
}

static void listener_refuse(int fd, int tls, const struct peer_key *k, const char *addr,
			    const char *why, long long now)
{
	char lip[PEER_LOCAL_MAX];

	peer_local_text(fd, lip, sizeof lip);
	listener_close_clean(fd, tls);
	listener_log_refusal(k, addr, lip, why, now);
}

/*
 * Out of descriptors, memory, buffers or processes: say so at most once
 * per LOG_INTERVAL_MS (a full descriptor table once produced a line per
 * retry, hundreds of thousands a second) and stop polling the listening
 * sockets for a while, doubling the pause up to a second while the
 * trouble lasts.  Sessions under way are served meanwhile; the first
 * connection that is forked normally ends the back-off.
 */
static void listener_pressure(struct listener *l, const char *what, int err, long long now)
{
	if (l->pressure_log_ms == 0 || now - l->pressure_log_ms >= LOG_INTERVAL_MS) {
		if (l->pressure_suppressed)
			log_msg(LOG_ERR, "%s: %s; pausing new connections (suppressed=%lu)",
				what, strerror(err), l->pressure_suppressed);
		else
			log_msg(LOG_ERR, "%s: %s; pausing new connections", what, strerror(err));
		l->pressure_log_ms = now;
		l->pressure_suppressed = 0;
	} else {
		l->pressure_suppressed++;
	}
	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : 50;
	if (l->backoff_ms > 1000)
		l->backoff_ms = 1000;
	l->paused_until = now + l->backoff_ms;
}

static void listener_chan_close(struct listener *l, struct child *kid)
{
	if (kid->chan >= 0)
		close(kid->chan);
	kid->chan = -1;
	l->chans[kid - l->kids] = -1;
}

/*
 * A leader that broke the boundary (a frame outside the table, or one
 * that does not decode) is treated as the leader treats such a pre-auth
 * child: it is killed, and its connection counts as a failed login for
 * its source's penalty.  It is root, so it may not carry on half-trusted.
 */
static void listener_hostile(struct listener *l, struct child *kid, const char *why)
{
	if (why)
		log_msg(LOG_ERR, "leader %ld: hostile: %s", (long)kid->pid, why);
	listener_chan_close(l, kid);
	kid->penalise = 1;
	if (kill(kid->pid, SIGKILL) < 0 && errno != ESRCH)
		log_msg(LOG_ERR, "leader %ld: kill: %m", (long)kid->pid);
}

static void listener_reap(struct listener *l)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		long long now;

		if (pid <= 0)
			return;
		now = io_now_ms();
		for (uint64_t i = 0; i < l->nkids; i++) {
			struct child *kid = &l->kids[i];
			int failed = WIFEXITED(status) && WEXITSTATUS(status) == LEADER_EXIT_AUTHFAIL;

			if (kid->pid != pid)
				continue;
			listener_chan_close(l, kid);
			sources_ended(&kid->key, failed || kid->penalise, now);
			/* the leader could not fork its pre-auth child */
			if (WIFEXITED(status) && WEXITSTATUS(status) == LEADER_EXIT_TEMPFAIL)
				listener_pressure(l, "a leader's fork", EAGAIN, now);
			l->chans[i] = l->chans[l->nkids - 1];
			*kid = l->kids[--l->nkids];
			break;
		}
	}
}

/*
 * The per-source counts of the connections that hold a slot (evicted
 * ones hold none), or with evictable set of those that may be evicted
 * (not logged in, channel open); except is left out.
 */
static void listener_census(struct listener *l, int evictable, const struct child *except)
{
	if (census_start(&l->census, l->nkids) < 0)
		fatal("listener: census smaller than the connection table");
	for (uint64_t k = 0; k < l->nkids; k++) {
		const struct child *c = &l->kids[k];
		int in = evictable ? c->state == CHILD_PREAUTH && c->chan >= 0
				   : c->counted && c->state != CHILD_EVICTED;

		if (in && c != except)
			census_add(&l->census, &c->key, c->seq, k);
	}
}

/* Connections from key that hold a slot. */
static uint64_t listener_same_source(struct listener *l, const struct peer_key *key,
				     const struct child *except)
{
	listener_census(l, 0, except);
	return census_count(&l->census, key);
}

static uint64_t listener_count(const struct listener *l, int state)
{
	uint64_t n = 0;

	for (uint64_t k = 0; k < l->nkids; k++)
		n += l->kids[k].state == state;
	return n;
}

/*
 * A leader says where its connection really comes from (the PROXY
 * header its pre-auth child parsed).  Apply --max-per-source to that
 * source and answer with its penalty.
 */
static void listener_source(struct listener *l, struct child *kid, struct frame *f, long long now)
{
	struct connproto_source src;
	const char *why = NULL;
	char addr[PEER_ADDR_MAX] = "the balancer";
	unsigned verdict = FRAME_PROXY_GO;
	long long penalty = 0;

	if (connproto_parse_source(f, &src, &why) < 0) {
		listener_hostile(l, kid, why);
		return;
	}
	if (src.family == FRAME_PROXY_FAILED) {
		listener_chan_close(l, kid);
		return;
	}
	/* family 0 (LOCAL, UNKNOWN): the balancer itself, e.g. a health check */
	if (src.family != 0) {
		peer_from_bytes(src.family, src.addr, &kid->key, addr, sizeof addr);
		snprintf(kid->addr, sizeof kid->addr, "%s", addr);
	}
	if (listener_same_source(l, &kid->key, kid) >= l->o->max_per_source) {
		verdict = FRAME_PROXY_REFUSE;
		listener_log_refusal(&kid->key, addr, "via-proxy", "max-per-source", now);
	} else {
		kid->counted = 1;
		penalty = sources_penalty(&kid->key, (long long)l->o->penalty_max, now);
	}
	if (connproto_encode_verdict(f, verdict, penalty) < 0 || frame_send(kid->chan, f) < 0) {
		log_msg(LOG_ERR, "leader %ld: cannot answer: %m", (long)kid->pid);
		listener_chan_close(l, kid);
	}
	/* see listener_channel */
	explicit_bzero(addr, sizeof addr);
	explicit_bzero(&src, sizeof src);
}

/*
 * A leader's note about a user name.  FAILED: remember whose failures the
 * source's penalty holds; not answered.  LOGIN: the success proves only
 * that the source knows this one account's password, so it clears the
 * penalty only when every failure it holds was for this account (a
 * typo), never failures on other names; a connection that failed for
 * other names before logging in is penalised as a failed one (one known
 * account must not buy guesses on others).  Then the one answer to
 * whether the session may start: REFUSE_USER when the account already
 * has --max-per-user sessions, REFUSE_SESSIONS when the logged-in
 * sessions' own budget (--max-sessions) is full, so that no number of
 * unauthenticated connections can take their slots; else GO, and the
 * connection is a session from now on: never evicted, and the channel is
 * closed (nothing more to say to a process about to become the user).
 * After REFUSE_SESSIONS the client may try again: the channel stays.
 */
static void listener_user(struct listener *l, struct child *kid, struct frame *f, long long now)
{
	char name[FRAME_USER_MAX + 1];
	const char *why = NULL;
	unsigned event, verdict = FRAME_USER_GO;
	uint64_t same = 0;

	if (connproto_parse_user_note(f, &event, name, sizeof name, &why) < 0) {
		listener_hostile(l, kid, why);
		return;
	}
	if (event == FRAME_USER_FAILED) {
		sources_user_failed(&kid->key, name, now);
		source_fails_note(&kid->fails, name);
		explicit_bzero(name, sizeof name);	/* see listener_channel */
		return;
	}
	if (sources_user_login(&kid->key, &kid->fails, name, now))
		kid->penalise = 1;
	for (uint64_t k = 0; k < l->nkids; k++)
		if (&l->kids[k] != kid && strcmp(l->kids[k].user, name) == 0)
			same++;
	if (l->o->max_per_user && same >= l->o->max_per_user) {
		verdict = FRAME_USER_REFUSE_USER;
	} else if (listener_count(l, CHILD_SESSION) >= l->o->max_sessions) {
		verdict = FRAME_USER_REFUSE_SESSIONS;
		listener_log_refusal(&kid->key, kid->addr, "after-login", "max-sessions", now);
	}
	if (connproto_encode_user_verdict(f, verdict) < 0 || frame_send(kid->chan, f) < 0) {
		log_msg(LOG_ERR, "leader %ld: cannot answer: %m", (long)kid->pid);
		listener_chan_close(l, kid);
		explicit_bzero(name, sizeof name);
		return;
	}
	if (verdict == FRAME_USER_GO) {
		kid->state = CHILD_SESSION;
		kid->path.authed = 1;
		snprintf(kid->user, sizeof kid->user, "%s", name);
	}
	if (verdict != FRAME_USER_REFUSE_SESSIONS)
		listener_chan_close(l, kid);	/* asked once: the session keeps no channel */
	explicit_bzero(name, sizeof name);
}

void listener_leader_path(struct boundary_state *st, int proxy)
{
	boundary_init(st, BOUNDARY_LEADER, BOUNDARY_LISTENER);
	st->standalone = 1;
	st->proxy = proxy != 0;
}

int listener_leader_frame(struct boundary_state *st, int chan, long pid, struct frame *f,
			  long long now)
{
	const char *why = NULL;
	/* The leader is our own root process and writes a frame in one
	 * write, so it is read at once; the short deadline only guards
	 * against one that died half-way. */
	int r = boundary_recv(st, chan, f, now + 1000, &why);

	if (r == BOUNDARY_HOSTILE) {
		const char *name = boundary_type_name(f->type);

		log_msg(LOG_ERR, "leader %ld: hostile: frame %s: %s", pid, name ? name : "?", why);
	} else if (r < 0 && r != FRAME_RECV_EOF) {
		log_msg(LOG_ERR, "leader %ld: %s", pid, why);
	}
	return r;
}

/*
 * A frame on a leader's channel, as boundary.c's table allows it for the
 * leader's phase (kid->path): PROXY_SOURCE once, first, under
 * --proxy-protocol; USER_NOTE before the login (after GO or REFUSE_USER
 * the channel is closed).  A frame outside the table is a hostile
 * leader; EOF or a broken frame closes the channel (the leader is
 * ending, or died).
 */
static void listener_channel(struct listener *l, struct child *kid, long long now)
{
	struct frame f;
	int r = listener_leader_frame(&kid->path, kid->chan, (long)kid->pid, &f, now);

	if (r == BOUNDARY_HOSTILE) {
		listener_hostile(l, kid, NULL);
		return;
	}
	if (r < 0) {
		listener_chan_close(l, kid);
		return;
	}
	switch (f.type) {
	case FRAME_PROXY_SOURCE:
		listener_source(l, kid, &f, now);
		break;
	case FRAME_USER_NOTE:
		listener_user(l, kid, &f, now);
		break;
	default:	/* a row added to the table without a handler here */
		listener_hostile(l, kid, "a frame the listener has no handler for");
	}
	/* a source address or a failed user name: not to be left on the
	 * stack that the next leader is forked with */
	frame_wipe(&f);
}

/*
 * The connection to close when --max-preauth is full: among the sources
 * holding unauthenticated connections, the one that holds the most
 * (ties: the one whose oldest connection is older), and its oldest.  A
 * flood from many addresses thus loses its own connections first, and a
 * client that holds one connection is closed only when every source
 * holds one.  NULL if nothing can be evicted.
 */
static struct child *listener_victim(struct listener *l)
{
	const struct source_count *best;

	listener_census(l, 1, NULL);
	best = census_busiest(&l->census);
	return best ? &l->kids[best->oldest] : NULL;
}

/*
 * Make room for one unauthenticated connection.  The evicted leader
 * kills its pre-auth child, closes the client cleanly and logs the
 * connection's end with reason=evicted; it no longer counts towards any
 * limit.  An evicted leader lingers a moment for the client's FIN (one
 * process: its child is gone); those still alive are bounded too, so
 * eviction cannot be turned into unbounded processes.  0, or -1 when
 * nothing could be evicted.
 */
static int listener_evict(struct listener *l)
{
	struct child *v;
	struct frame f;

	if (listener_count(l, CHILD_EVICTED) >= l->o->max_preauth + EVICTED_SLACK)
		return -1;
	v = listener_victim(l);
	if (!v)
		return -1;
	frame_init(&f, FRAME_EVICT);
	if (frame_send(v->chan, &f) < 0)
		log_msg(LOG_ERR, "leader %ld: cannot evict: %m", (long)v->pid);
	/* on failure the leader is going anyway: its slot is free either way */
	listener_chan_close(l, v);
	v->state = CHILD_EVICTED;
	return 0;
}

/* Room in kids for one more: at most all three budgets' worth.  kids
 * holds other clients' addresses and failed user names: it lives in
 * wipe-on-fork pages, so that no leader (soon a mail user's session)
 * carries it; chans, the descriptors a leader must close, does not. */
static int listener_room(struct listener *l)
{
	uint64_t cap, limit = l->o->max_sessions + 2 * l->o->max_preauth + EVICTED_SLACK;
	struct child *k;
	int *ch;

	if (l->nkids < l->kids_cap)
		return 0;
	if (l->nkids >= limit)
		return -1;
	cap = l->kids_cap ? l->kids_cap * 2 : 64;
	if (cap > limit)
		cap = limit;
	/* the census first: without it the table must not grow */
	if (census_reserve(&l->census, (size_t)cap) < 0)
		return -1;
	ch = realloc(l->chans, (size_t)cap * sizeof *ch);
	if (!ch)
		return -1;
	l->chans = ch;
	k = io_map_wipeonfork((size_t)cap * sizeof *k);
	if (!k)
		return -1;
	if (l->nkids)
		memcpy(k, l->kids, (size_t)l->nkids * sizeof *k);
	io_unmap_wiped(l->kids, (size_t)l->kids_cap * sizeof *k);
	l->kids = k;
	l->kids_cap = cap;
	return 0;
}

/* Reserve a descriptor to give back when the table is full (see below). */
static void listener_spare(struct listener *l)
{
	if (l->spare_fd < 0)
		l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * accept() failed for want of resources.  With EMFILE or ENFILE the
 * connection stays in the backlog, and poll says so at once forever: the
 * spare descriptor is given up for a moment so that the waiting client
 * can be accepted and closed cleanly instead of being left hanging.
 */
static void listener_accept_failed(struct listener *l, int i, int err, long long now)
{
	if ((err == EMFILE || err == ENFILE) && l->spare_fd >= 0) {
		int c;

		close(l->spare_fd);
		l->spare_fd = -1;
		c = accept4(l->fds[i], NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			listener_close_clean(c, l->tls[i]);
		listener_spare(l);
	}
	listener_pressure(l, "accept", err, now);
}

/*
 * What the listener's deeper calls left on the stack below the new
 * leader's frames (frames and log lines about other clients) is zeroed
 * before the leader runs: it is not the leader's to read.  Not inlined,
 * so that pad lies below the caller.  Its whole pages are dropped
 * rather than written: they then read as zeroes, and a page the leader
 * never reaches costs no copy-on-write fault.
 */
static __attribute__((noinline)) void listener_scrub_stack(void)
{
	unsigned char pad[64 * 1024];
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)pad, end = start + sizeof pad;
	uintptr_t lo = (start + page - 1) & ~(page - 1), hi = end & ~(page - 1);

	if (madvise(pad + (lo - start), hi - lo, MADV_DONTNEED) < 0) {
		explicit_bzero(pad, sizeof pad);
		return;
	}
	explicit_bzero(pad, lo - start);
	explicit_bzero(pad + (hi - start), end - hi);
}

static void listener_child(struct listener *l, int c, int i, const char *addr, long long penalty,
			   int chan)
{
	listener_scrub_stack();
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* The listening sockets and the signal pipe are the listener's
	 * alone: a session (soon the mail user) holding them could accept
	 * other users' logins and would keep the port busy after SIGTERM. */
	for (int j = 0; j < l->nfds; j++)
		close(l->fds[j]);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	if (l->spare_fd >= 0)
		close(l->spare_fd);
	/* nor the other leaders' channels (l->kids reads as zeroes here:
	 * wiped at the fork) */
	for (uint64_t k = 0; k < l->nkids; k++)
		if (l->chans[k] >= 0)
			close(l->chans[k]);
	if (io_set_cloexec(c, 0) < 0)
		fatal("fcntl: %m");
	_exit(leader_run(c, c, l->o, addr, penalty, l->tls[i], chan));
}

/*
 * Whether the connection c from key may be served: refused (closed and
 * logged, 1) outside --proxy-from, over --max-per-source, or over
 * --max-preauth with nothing to evict; else 0, with room for its leader.
 */
static int listener_admit(struct listener *l, int i, int c, const struct sockaddr_storage *ss,
			  socklen_t sslen, const struct peer_key *key, const char *addr,
			  long long now)
{
	const struct options *o = l->o;

	if (o->proxy_protocol && !proxy_cidr_match(o->proxy_cidr, o->nproxy_cidr, ss, sslen)) {
		char lip[PEER_LOCAL_MAX];

		/* not a balancer: it gets no word, and no fork */
		peer_local_text(c, lip, sizeof lip);
		close(c);
		listener_log_refusal(key, addr, lip, "not in --proxy-from", now);
		return 1;
	}
	/* behind a balancer the real source is known only later */
	if (!o->proxy_protocol && listener_same_source(l, key, NULL) >= o->max_per_source) {
		listener_refuse(c, l->tls[i], key, addr, "max-per-source", now);
		return 1;
	}
	if (listener_count(l, CHILD_PREAUTH) >= o->max_preauth && listener_evict(l) < 0) {
		listener_refuse(c, l->tls[i], key, addr, "max-preauth", now);
		return 1;
	}
	if (listener_room(l) < 0) {
		listener_refuse(c, l->tls[i], key, addr, "max-sessions", now);
		return 1;
	}
	return 0;
}

/* Fork a leader for the admitted connection c, with a channel to it.
 * -1 (c closed cleanly) if resources ran out: the listener pauses. */
static int listener_fork(struct listener *l, int i, int c, const struct peer_key *key,
			 const char *addr, long long now)
{
	const struct options *o = l->o;
	long long penalty = 0;
	pid_t pid;
	int chan[2];

	if (!o->proxy_protocol)
		penalty = sources_penalty(key, (long long)o->penalty_max, now);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0) {
		int err = errno;

		listener_close_clean(c, l->tls[i]);
		listener_pressure(l, "socketpair", err, now);
		return -1;
	}
	log_refresh();	/* the leader inherits the attempt */
	pid = fork();
	if (pid < 0) {
		int err = errno;

		listener_close_clean(c, l->tls[i]);
		close(chan[0]);
		close(chan[1]);
		listener_pressure(l, "fork", err, now);
		return -1;
	}
	if (pid == 0) {
		close(chan[0]);
		listener_child(l, c, i, addr, penalty, chan[1]);
	}
	close(c);
	close(chan[1]);
	l->backoff_ms = 0;
	l->kids[l->nkids] = (struct child){
		.pid = pid, .key = *key, .counted = !o->proxy_protocol, .state = CHILD_PREAUTH,
		.chan = chan[0], .seq = ++l->accepted,
	};
	l->chans[l->nkids] = chan[0];
	listener_leader_path(&l->kids[l->nkids].path, o->proxy_protocol);
	snprintf(l->kids[l->nkids].addr, sizeof l->kids[l->nkids].addr, "%s", addr);
	l->nkids++;
	return 0;
}

/* One connection on listening socket i: 0 if one was taken (served or
 * refused), -1 if none was waiting or the listener must pause. */
static int listener_accept(struct listener *l, int i)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	struct peer_key key;
	char addr[PEER_ADDR_MAX];
	long long now;
	int c;

	c = accept4(l->fds[i], (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
	now = io_now_ms();
	if (c < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			listener_accept_failed(l, i, errno, now);
		return -1;
	}
	peer_from_sockaddr(&ss, sslen, &key, addr, sizeof addr);
	if (listener_admit(l, i, c, &ss, sslen, &key, addr, now))
		return 0;
	return listener_fork(l, i, c, &key, addr, now);
}

/* Detach, write the pid file, start the key holder: ready to serve. */
static void listener_start(struct listener *l)
{
	const struct options *o = l->o;
	struct buf err;

	if (!o->foreground)
		listener_detach();
	if (o->pid_file)
		listener_write_pidfile(o->pid_file);
	listener_signals();
	/* after the detach, so that the key holder is our child */
	buf_init(&err, 1024);
	if (keyholder_start(o, &err) < 0)
		fatal("%s", buf_cstr(&err));
	buf_free(&err);
	listener_nofile(o);
	listener_spare(l);
	/* the first wipe-on-fork pages now: a kernel without them is fatal
	 * at start, not at the first connection */
	if (listener_room(l) < 0)
		fatal("listener: no memory for the connection table: %m");
	listener_started(l);
}

/* Wait for a connection, a signal or a leader's frame.  -1 when
 * interrupted (nothing to do). */
static int listener_wait(struct listener *l)
{
	long long now = io_now_ms();
	int paused = now < l->paused_until;

	l->npfd = (nfds_t)l->nfds + 1;
	/* room for the listeners, the signal pipe and every leader */
	if (l->pfd_cap < l->nkids + OPT_LISTEN_MAX + 1) {
		free(l->pfd);
		l->pfd_cap = l->kids_cap + OPT_LISTEN_MAX + 1;
		l->pfd = xcalloc((size_t)l->pfd_cap, sizeof *l->pfd);
	}
	for (int i = 0; i < l->nfds; i++) {
		/* Keep accepting at the ceiling: a refused client is told so
		 * at once instead of waiting in the backlog.  Only resource
		 * trouble pauses (negative fds are skipped). */
		l->pfd[i] = (struct pollfd){ .fd = paused ? -1 : l->fds[i], .events = POLLIN };
	}
	l->pfd[l->nfds] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
	for (uint64_t k = 0; k < l->nkids; k++)
		if (l->kids[k].chan >= 0)
			l->pfd[l->npfd++] = (struct pollfd){ .fd = l->kids[k].chan, .events = POLLIN };
	if (poll(l->pfd, l->npfd, paused ? (int)(l->paused_until - now) + 1 : -1) < 0) {
		if (errno == EINTR)
			return -1;
		fatal("poll: %m");
	}
	return 0;
}

/* The self-pipe woke us: reap leaders, and on SIGHUP reload. */
static void listener_signalled(struct listener *l, int argc, const char *const *argv)
{
	unsigned char drain[64];

	while (read(sig_pipe[0], drain, sizeof drain) > 0)
		;
	/* before reaping: a reaped leader's channel is closed */
	for (nfds_t j = (nfds_t)l->nfds + 1; j < l->npfd; j++)
		l->pfd[j].revents = 0;
	listener_reap(l);
	if (got_hup) {
		int tls_listening = 0;

		got_hup = 0;
		log_reopen();
		for (int i = 0; i < l->nfds; i++)
			tls_listening |= l->tls[i];
		listener_reload(l->o, argc, argv, tls_listening);
	}
}

/* Frames from the leaders whose channels are readable. */
static void listener_channels(struct listener *l)
{
	for (nfds_t j = (nfds_t)l->nfds + 1; j < l->npfd; j++) {
		if (!l->pfd[j].revents)
			continue;
		for (uint64_t k = 0; k < l->nkids; k++)
			if (l->kids[k].chan == l->pfd[j].fd) {
				listener_channel(l, &l->kids[k], io_now_ms());
				break;
			}
	}
}

/* New connections, up to ACCEPT_BATCH per listening socket. */
static void listener_accept_all(struct listener *l)
{
	for (int i = 0; i < l->nfds && !got_term; i++)
		for (int n = 0; n < ACCEPT_BATCH && (l->pfd[i].revents & POLLIN) && !got_term; n++)
			if (listener_accept(l, i) < 0)
				break;
}

/* SIGTERM: stop listening; sessions under way finish on their own. */
static void listener_stop(struct listener *l)
{
	const struct options *o = l->o;

	log_msg(LOG_INFO, "SIGTERM: no longer accepting; %llu session%s left to finish",
		(unsigned long long)l->nkids, l->nkids == 1 ? "" : "s");
	for (int i = 0; i < l->nfds; i++)
		close(l->fds[i]);
	for (uint64_t k = 0; k < l->nkids; k++)
		listener_chan_close(l, &l->kids[k]);
	if (l->spare_fd >= 0)
		close(l->spare_fd);
	free(l->pfd);
	if (o->pid_file && unlink(o->pid_file) < 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "--pid-file %s: %m", o->pid_file);
	io_unmap_wiped(l->kids, (size_t)l->kids_cap * sizeof *l->kids);
	free(l->chans);
	census_free(&l->census);
}

/* The process tree of DESIGN, as a loop: accept and admit a connection
 * (refuse, evict, fork a leader), reap leaders, answer their frames,
 * handle signals. */
int listener_run(struct options *o, int argc, const char *const *argv)
{
	struct listener l;

	if (listener_open(&l, o) < 0)
		return 1;
	listener_start(&l);
	while (!got_term) {
		if (listener_wait(&l) < 0)
			continue;
		if (l.pfd[l.nfds].revents & POLLIN)
			listener_signalled(&l, argc, argv);
		listener_channels(&l);
		listener_accept_all(&l);
	}
	listener_stop(&l);
	return 0;
}
