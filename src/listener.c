/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener (root).
 * The standalone listener.  Runs as root for the life of the daemon.
 *
 * It NEVER reads a byte from a client: it accepts, counts, and forks a
 * leader per connection (leader.c).  The only thing it ever writes to a
 * client is a fixed "-ERR [SYS/TEMP]" line when a limit refuses it.
 *
 * Flood resistance lives here because only this process sees every
 * connection: --max-sessions in all, --max-per-source per address (IPv6
 * grouped per /64, since one host usually owns a whole /64), a growing
 * per-source penalty after failed logins (2 s doubling to --penalty-max,
 * told to the leader, which waits it out before the next authentication),
 * and refusals logged at most once per source per LOG_INTERVAL with a count
 * of what was suppressed, so that a flood cannot fill the disk.
 *
 * Each leader keeps a socketpair to the listener until its session starts
 * (listener_channel): it tells of every failed attempt's user name, so a
 * later success clears the penalty only when every failure was for the
 * account that succeeded, and asks before the session starts whether the
 * account is under --max-per-user.  The channel is closed then: no
 * process that runs as a mail user holds a line to this one.
 *
 * Signals only write a byte into a self-pipe; all work happens in the poll
 * loop, so SIGCHLD reaping has no races and no zombie outlives one loop.
 * SIGHUP reopens syslog and reads the command line and config file again:
 * the new options apply to connections accepted from then on (sessions
 * under way keep theirs); a configuration that does not check out
 * (confcheck, as at start and in popa3d -t) is logged, one line per
 * problem, and the old one kept; listening sockets stay as they are.
 *
 * PROXY protocol (--proxy-protocol): every connection comes from a
 * balancer, so the TCP peer says nothing about the client.  The listener
 * still never reads the client: it refuses a peer outside --proxy-from at
 * once (no fork), and keeps a socketpair to each leader it forks.  The
 * pre-auth child parses the header, the leader passes the source up as a
 * FRAME_PROXY_SOURCE, and the listener applies --max-per-source and the
 * penalty to that source, answering with a FRAME_PROXY_VERDICT.  Until
 * then the connection counts towards --max-sessions only.
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
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "authproto.h"
#include "confcheck.h"
#include "frame.h"
#include "keyholder.h"
#include "leader.h"
#include "listener.h"
#include "log.h"
#include "num.h"
#include "peer.h"
#include "proxy.h"
#include "sandbox.h"
#include "sysio.h"
#include "tls.h"

#define LOG_INTERVAL_MS 60000
#define PENALTY_START_MS 2000
#define PENALTY_FORGET_MS (3600 * 1000LL)
#define PENALTY_STORE_MAX 600000LL	/* --penalty-max's own ceiling */
#define TRACK_SLOTS 1024

struct child {
	pid_t pid;
	struct peer_key key;
	int counted;		/* counts towards --max-per-source under key */
	int source_fd;		/* the channel to the leader until its session starts; or -1 */
	int asked_source;	/* PROXY: the source question is answered */
	int penalise;		/* logged in after failing for other user names */
	int fail_mixed;		/* failed attempts for more than one user name */
	char fail_user[FRAME_USER_MAX + 1];	/* the user name that failed */
	char user[FRAME_USER_MAX + 1];	/* in session as this account; "" before */
};

/* Recently seen sources: refusal log rate and failed-login penalty. */
struct track {
	struct peer_key key;
	int used;
	long long last_log_ms;	/* last refusal logged */
	unsigned long suppressed;	/* refusals not logged since */
	long long penalty_ms;	/* delay before the next authentication */
	long long last_fail_ms;
	/* whose failures the penalty holds: one user name, or many */
	char fail_user[FRAME_USER_MAX + 1];
	int fail_mixed;
	long long touched_ms;	/* for replacement */
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

int listener_inherited_count(void)
{
	const char *pid_s = getenv("LISTEN_PID"), *n_s = getenv("LISTEN_FDS");
	uint64_t pid, n;

	if (!pid_s || !n_s)
		return 0;
	if (num_parse_str(pid_s, UINT32_MAX, &pid) < 0 || (pid_t)pid != getpid())
		return 0;
	if (num_parse_str(n_s, OPT_LISTEN_MAX, &n) < 0 || n == 0) {
		fprintf(stderr, "popa3d: LISTEN_FDS: bad value (1 to %d sockets)\n", OPT_LISTEN_MAX);
		exit(1);
	}
	return (int)n;
}

/*
 * LISTEN_FDNAMES (colon-separated, systemd's FileDescriptorName=): a
 * socket named "pop3s" is an implicit-TLS listener, any other plain.
 */
static int listener_fdname_is_tls(const char *names, int index)
{
	const char *p = names;

	for (int i = 0; p && i < index; i++) {
		p = strchr(p, ':');
		if (p)
			p++;
	}
	return p && strncmp(p, "pop3s", 5) == 0 && (p[5] == ':' || p[5] == '\0');
}

/* Sockets from systemd (sd_listen_fds convention, without libsystemd). */
static int listener_inherited(int *fds, int *tls)
{
	int n = listener_inherited_count(), count = 0;
	const char *names = getenv("LISTEN_FDNAMES");

	for (int fd = 3; fd < 3 + (int)n; fd++) {
		int acc = 0;
		socklen_t len = sizeof acc;

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc) {
			fprintf(stderr, "popa3d: LISTEN_FDS: fd %d is not a listening socket\n", fd);
			exit(1);
		}
		if (io_set_cloexec(fd, 1) < 0 || io_set_nonblock(fd, 1) < 0) {
			fprintf(stderr, "popa3d: LISTEN_FDS: fd %d: %s\n", fd, strerror(errno));
			exit(1);
		}
		tls[count] = names ? listener_fdname_is_tls(names, count) : 0;
		fds[count++] = fd;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return count;
}

static int listener_bind(const struct opt_listen *l)
{
	int one = 1;
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		goto fail;
	/* [::] and 0.0.0.0 may both be given: keep IPv6 sockets IPv6-only. */
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0)
		goto fail;
	if (listen(fd, 128) < 0)
		goto fail;
	return fd;
fail:
	{
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return -1;
}

static void listener_detach(void)
{
	pid_t pid = xfork();
	int fd;

	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fatal("setsid: %m");
	pid = xfork();
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		fatal("chdir /: %m");
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		fatal("/dev/null: %m");
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		fatal("dup2: %m");
	if (fd > 2)
		close(fd);
}

static struct track tracks[TRACK_SLOTS];

static struct track *track_find(const struct peer_key *k, int create, long long now)
{
	struct track *oldest = NULL;

	for (int i = 0; i < TRACK_SLOTS; i++) {
		struct track *t = &tracks[i];

		if (t->used && peer_key_eq(&t->key, k)) {
			t->touched_ms = now;
			return t;
		}
		if (!oldest || !t->used || (oldest->used && t->touched_ms < oldest->touched_ms))
			oldest = t;
	}
	if (!create)
		return NULL;
	/* Replacing the least recently touched entry bounds memory; an
	 * attacker cycling addresses only erases its own penalties. */
	memset(oldest, 0, sizeof *oldest);
	oldest->used = 1;
	oldest->key = *k;
	oldest->touched_ms = now;
	return oldest;
}

/* One line per source per LOG_INTERVAL_MS, with what was suppressed. */
static void listener_log_refusal(const struct peer_key *k, const char *addr, const char *why,
				 long long now)
{
	struct track *t = track_find(k, 1, now);

	if (t->last_log_ms == 0 || now - t->last_log_ms >= LOG_INTERVAL_MS) {
		if (t->suppressed)
			log_msg(LOG_WARNING, "refused rip=%s reason=\"%s\" suppressed=%lu",
				addr, why, t->suppressed);
		else
			log_msg(LOG_WARNING, "refused rip=%s reason=\"%s\"", addr, why);
		t->last_log_ms = now;
		t->suppressed = 0;
	} else {
		t->suppressed++;
	}
}

static void listener_refuse(int fd, const struct peer_key *k, const char *addr,
			    const char *why, long long now)
{
	static const char msg[] = "-ERR [SYS/TEMP] Too many connections, try again later.\r\n";

	/* Best effort, never blocking: the socket is non-blocking. */
	if (send(fd, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
	}
	close(fd);
	listener_log_refusal(k, addr, why, now);
}

static void listener_reap(struct child *kids, uint64_t *nkids)
{
	for (;;) {
		int status, failed;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		long long now;

		if (pid <= 0)
			return;
		now = io_now_ms();
		for (uint64_t i = 0; i < *nkids; i++) {
			struct track *t;

			if (kids[i].pid != pid)
				continue;
			if (kids[i].source_fd >= 0)
				close(kids[i].source_fd);
			failed = kids[i].penalise ||
				 (WIFEXITED(status) && WEXITSTATUS(status) == LEADER_EXIT_AUTHFAIL);
			t = track_find(&kids[i].key, failed, now);
			if (failed) {
				/* Dovecot-style: 2 s, doubling, up to the ceiling */
				if (t->penalty_ms == 0 || now - t->last_fail_ms > PENALTY_FORGET_MS)
					t->penalty_ms = PENALTY_START_MS;
				else if (t->penalty_ms < PENALTY_STORE_MAX)
					t->penalty_ms *= 2;
				/* clamp what is stored, not only what is used: a source
				 * failing forever must not double it into overflow */
				if (t->penalty_ms > PENALTY_STORE_MAX)
					t->penalty_ms = PENALTY_STORE_MAX;
				t->last_fail_ms = now;
			}
			kids[i] = kids[--*nkids];
			break;
		}
	}
}

static long long listener_penalty(const struct options *o, const struct peer_key *k,
				  long long now)
{
	struct track *t = track_find(k, 0, now);

	if (!t || t->penalty_ms == 0 || now - t->last_fail_ms > PENALTY_FORGET_MS)
		return 0;
	return t->penalty_ms > (long long)o->penalty_max ? (long long)o->penalty_max : t->penalty_ms;
}

/*
 * A leader says where its connection really comes from (the PROXY
 * header its pre-auth child parsed).  Apply --max-per-source to that
 * source and answer with its penalty.  0, or -1 if the channel is done.
 */
static int listener_source(const struct options *o, struct child *kids, uint64_t nkids,
			   struct child *kid, struct frame *f, long long now)
{
	struct authproto_source src;
	const char *why = NULL;
	char addr[PEER_ADDR_MAX] = "the balancer";
	unsigned verdict = FRAME_PROXY_GO;
	long long penalty = 0;
	uint64_t same = 0;

	if (authproto_parse_source(f, &src, &why) < 0 || src.family == FRAME_PROXY_FAILED) {
		log_msg(LOG_ERR, "leader %ld: %s", (long)kid->pid, why ? why : "a failed source");
		return -1;
	}
	kid->asked_source = 1;
	/* family 0 (LOCAL, UNKNOWN): the balancer itself, e.g. a health check */
	if (src.family != 0)
		peer_from_bytes(src.family, src.addr, &kid->key, addr, sizeof addr);
	for (uint64_t k = 0; k < nkids; k++)
		if (kids[k].counted && &kids[k] != kid && peer_key_eq(&kids[k].key, &kid->key))
			same++;
	if (same >= o->max_per_source) {
		verdict = FRAME_PROXY_REFUSE;
		listener_log_refusal(&kid->key, addr, "max-per-source", now);
	} else {
		kid->counted = 1;
		penalty = listener_penalty(o, &kid->key, now);
	}
	if (authproto_encode_verdict(f, verdict, penalty) < 0 || frame_send(kid->source_fd, f) < 0) {
		log_msg(LOG_ERR, "leader %ld: cannot answer: %m", (long)kid->pid);
		return -1;
	}
	return verdict == FRAME_PROXY_GO ? 0 : -1;
}

/* Remember that name failed (in a track or a connection). */
static void listener_note_failure(char *fail_user, int *fail_mixed, const char *name)
{
	if (!fail_user[0])
		snprintf(fail_user, FRAME_USER_MAX + 1, "%s", name);
	else if (strcmp(fail_user, name) != 0)
		*fail_mixed = 1;
}

/*
 * A leader's note about a user name.  FAILED: remember whose failures the
 * source's penalty holds.  LOGIN: the success proves only that the source
 * knows this one account's password, so it clears the penalty only when
 * every failure it holds was for this account (a typo), never failures on
 * other names; a connection that failed for other names before logging
 * in is penalised as a failed one (one known account must not buy
 * guesses on others).  Then --max-per-user: the session may start unless
 * the account already has that many.  0, or -1 if the channel is done.
 */
static int listener_user(const struct options *o, struct child *kids, uint64_t nkids,
			 struct child *kid, struct frame *f, long long now)
{
	char name[FRAME_USER_MAX + 1];
	const char *why = NULL;
	unsigned event, verdict = FRAME_USER_GO;
	struct track *t;
	uint64_t same = 0;

	if (authproto_parse_user_note(f, &event, name, sizeof name, &why) < 0) {
		log_msg(LOG_ERR, "leader %ld: %s", (long)kid->pid, why);
		return -1;
	}
	if (event == FRAME_USER_FAILED) {
		t = track_find(&kid->key, 1, now);
		if (t->last_fail_ms && now - t->last_fail_ms > PENALTY_FORGET_MS) {
			t->fail_user[0] = '\0';
			t->fail_mixed = 0;
		}
		listener_note_failure(t->fail_user, &t->fail_mixed, name);
		listener_note_failure(kid->fail_user, &kid->fail_mixed, name);
		return 0;
	}
	if (kid->fail_mixed || (kid->fail_user[0] && strcmp(kid->fail_user, name) != 0)) {
		kid->penalise = 1;
	} else {
		t = track_find(&kid->key, 0, now);
		if (t && !t->fail_mixed && (!t->fail_user[0] || strcmp(t->fail_user, name) == 0)) {
			t->penalty_ms = 0;
			t->fail_user[0] = '\0';
		}
	}
	for (uint64_t k = 0; k < nkids; k++)
		if (&kids[k] != kid && strcmp(kids[k].user, name) == 0)
			same++;
	if (o->max_per_user && same >= o->max_per_user)
		verdict = FRAME_USER_REFUSE;
	else
		snprintf(kid->user, sizeof kid->user, "%s", name);
	if (authproto_encode_user_verdict(f, verdict) < 0 || frame_send(kid->source_fd, f) < 0)
		log_msg(LOG_ERR, "leader %ld: cannot answer: %m", (long)kid->pid);
	return -1;	/* asked once: the session keeps no channel */
}

/*
 * One frame from a leader on its channel.  The leader is our own root
 * process and writes each frame in one write, so it is read at once; the
 * short deadline only guards against a leader that died half-way.  What
 * a leader may send, in order: with --proxy-protocol first and once
 * FRAME_PROXY_SOURCE; then any number of FRAME_USER_NOTE FAILED and at
 * most one LOGIN, after which the channel is closed.
 */
static void listener_channel(const struct options *o, struct child *kids, uint64_t nkids,
			     struct child *kid, long long now)
{
	struct frame f;
	const char *why = NULL;
	int r;

	r = frame_recv(kid->source_fd, &f, now + 1000, &why);
	if (r < 0) {
		/* EOF: the leader ended (a bad header is logged there) */
		if (strcmp(why, "end of file") != 0)
			log_msg(LOG_ERR, "leader %ld: %s", (long)kid->pid, why);
	} else if (o->proxy_protocol && !kid->asked_source) {
		r = f.type == FRAME_PROXY_SOURCE ? listener_source(o, kids, nkids, kid, &f, now) : -1;
	} else if (f.type == FRAME_USER_NOTE) {
		r = listener_user(o, kids, nkids, kid, &f, now);
	} else {
		log_msg(LOG_ERR, "leader %ld: unexpected frame type %u", (long)kid->pid,
			(unsigned)f.type);
		r = -1;
	}
	if (r < 0) {
		close(kid->source_fd);
		kid->source_fd = -1;
	}
}

static void listener_write_pidfile(const char *path)
{
	char line[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		fatal("--pid-file %s: %m", path);
	n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (n < 0 || (size_t)n >= sizeof line || io_write_full(fd, line, (size_t)n) < 0 ||
	    close(fd) < 0)
		fatal("--pid-file %s: %m", path);
}

/*
 * SIGHUP: re-read the configuration.  All or nothing: any error keeps
 * the running configuration.  Listening addresses are not rebound (that
 * would need root-only ports after the fact and could drop the service);
 * a change to them is logged as needing a restart.
 */
static void listener_reload(struct options *o, int argc, const char *const *argv,
			    struct child **kids, uint64_t *kids_cap, int tls_listening)
{
	struct options n;
	struct buf err;
	int same_listeners;

	options_defaults(&n);
	buf_init(&err, 64 * 1024);
	/* The check of a start and of popa3d -t, with the same lines.  TLS
	 * files are re-read by every new connection anyway; checking them
	 * here (in a throwaway fork) makes a bad one loud at once. */
	if (options_parse(&n, argc, argv, &err) < 0 || (options_finish(&n), 0) ||
	    confcheck(&n, CONFCHECK_DEEP, &err) < 0) {
		const char *s = buf_cstr(&err);

		while (s && *s) {
			size_t len = strcspn(s, "\n");

			log_msg(LOG_ERR, "SIGHUP: configuration not reloaded: %.*s", (int)len, s);
			s += len + (s[len] == '\n');
		}
		options_free(&n);
		buf_free(&err);
		return;
	}
	buf_free(&err);
	/* The POP3S sockets stay open: they cannot lose their certificate. */
	if (tls_listening && !n.tls_cert) {
		log_msg(LOG_ERR, "SIGHUP: configuration not reloaded: the implicit-TLS listeners "
			"need --tls-cert and --tls-key (restart popa3d to drop them)");
		options_free(&n);
		return;
	}
	/* A new key holder for the files as they are now; the old one ends
	 * with the handshakes it is serving. */
	buf_init(&err, 1024);
	if (keyholder_start(&n, &err) < 0) {
		log_msg(LOG_ERR, "SIGHUP: configuration not reloaded: %s", buf_cstr(&err));
		options_free(&n);
		buf_free(&err);
		return;
	}
	buf_free(&err);
	same_listeners = n.nlisten == o->nlisten;
	for (int i = 0; same_listeners && i < n.nlisten; i++)
		same_listeners = strcmp(n.listen[i].text, o->listen[i].text) == 0;
	if (!same_listeners)
		log_msg(LOG_WARNING, "SIGHUP: listen addresses changed; restart popa3d to apply");
	if (n.max_sessions > *kids_cap) {
		struct child *k = realloc(*kids, (size_t)n.max_sessions * sizeof **kids);

		if (!k) {
			log_msg(LOG_ERR, "SIGHUP: configuration not reloaded: out of memory");
			options_free(&n);
			return;
		}
		*kids = k;
		*kids_cap = n.max_sessions;
	}
	memcpy(n.listen, o->listen, sizeof n.listen);
	n.nlisten = o->nlisten;
	/* the process keeps its mode and its log sink */
	n.daemon = o->daemon;
	n.foreground = o->foreground;
	n.log_stderr = o->log_stderr;
	options_free(o);
	*o = n;
	log_msg(LOG_INFO, "SIGHUP: configuration reloaded, max-sessions=%llu max-per-source=%llu",
		(unsigned long long)o->max_sessions, (unsigned long long)o->max_per_source);
}

int listener_run(struct options *o, int argc, const char *const *argv)
{
	struct pollfd *pfd = NULL;
	uint64_t pfd_cap = 0;
	int fds[OPT_LISTEN_MAX], tls[OPT_LISTEN_MAX];
	int nfds;
	struct child *kids;
	uint64_t nkids = 0, kids_cap;

	nfds = listener_inherited(fds, tls);
	for (int i = 0; i < nfds; i++)
		if (tls[i] && !o->tls_cert) {
			fprintf(stderr, "popa3d: LISTEN_FDNAMES: a pop3s socket needs --tls-cert and --tls-key\n");
			return 1;
		}
	if (nfds == 0) {
		for (int i = 0; i < o->nlisten; i++) {
			tls[i] = o->listen[i].tls;
			fds[i] = listener_bind(&o->listen[i]);
			if (fds[i] < 0) {
				fprintf(stderr, "popa3d: cannot listen on %s: %s\n",
					o->listen[i].text, strerror(errno));
				return 1;
			}
		}
		nfds = o->nlisten;
	}
	if (!o->foreground)
		listener_detach();
	if (o->pid_file)
		listener_write_pidfile(o->pid_file);
	listener_signals();
	{
		struct buf err;

		/* after the detach, so that the key holder is our child */
		buf_init(&err, 1024);
		if (keyholder_start(o, &err) < 0)
			fatal("%s", buf_cstr(&err));
		buf_free(&err);
	}
	kids_cap = o->max_sessions;
	kids = xcalloc((size_t)kids_cap, sizeof *kids);
	log_msg(LOG_INFO, "listening on %d socket%s, max-sessions=%llu max-per-source=%llu",
		nfds, nfds == 1 ? "" : "s", (unsigned long long)o->max_sessions,
		(unsigned long long)o->max_per_source);

	while (!got_term) {
		nfds_t npfd = (nfds_t)nfds + 1;
		int r;

		/* room for the listeners, the signal pipe and every leader */
		if (pfd_cap < kids_cap) {
			free(pfd);
			pfd = xcalloc((size_t)kids_cap + OPT_LISTEN_MAX + 1, sizeof *pfd);
			pfd_cap = kids_cap;
		}
		for (int i = 0; i < nfds; i++) {
			pfd[i].fd = fds[i];
			/* Keep accepting at the ceiling: a refused client is told
			 * so at once instead of waiting in the backlog. */
			pfd[i].events = POLLIN;
		}
		pfd[nfds].fd = sig_pipe[0];
		pfd[nfds].events = POLLIN;
		for (uint64_t k = 0; k < nkids; k++)
			if (kids[k].source_fd >= 0) {
				pfd[npfd].fd = kids[k].source_fd;
				pfd[npfd].events = POLLIN;
				pfd[npfd].revents = 0;
				npfd++;
			}
		r = poll(pfd, npfd, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll: %m");
		}
		if (pfd[nfds].revents & POLLIN) {
			unsigned char drain[64];

			while (read(sig_pipe[0], drain, sizeof drain) > 0)
				;
			/* before reaping: a reaped leader's channel is closed */
			for (nfds_t j = (nfds_t)nfds + 1; j < npfd; j++)
				pfd[j].revents = 0;
			listener_reap(kids, &nkids);
			if (got_hup) {
				int tls_listening = 0;

				got_hup = 0;
				log_reopen();
				for (int i = 0; i < nfds; i++)
					tls_listening |= tls[i];
				listener_reload(o, argc, argv, &kids, &kids_cap, tls_listening);
			}
		}
		for (nfds_t j = (nfds_t)nfds + 1; j < npfd; j++) {
			if (!pfd[j].revents)
				continue;
			for (uint64_t k = 0; k < nkids; k++)
				if (kids[k].source_fd == pfd[j].fd) {
					listener_channel(o, kids, nkids, &kids[k], io_now_ms());
					break;
				}
		}
		for (int i = 0; i < nfds && !got_term; i++) {
			struct sockaddr_storage ss;
			socklen_t sslen = sizeof ss;
			struct peer_key key;
			char addr[PEER_ADDR_MAX];
			uint64_t same = 0;
			long long now, penalty;
			pid_t pid;
			int c, chan[2] = { -1, -1 };

			if (!(pfd[i].revents & POLLIN))
				continue;
			c = accept4(fds[i], (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
			if (c < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				    errno != ECONNABORTED)
					log_msg(LOG_ERR, "accept: %m");
				continue;
			}
			now = io_now_ms();
			peer_from_sockaddr(&ss, sslen, &key, addr, sizeof addr);
			if (o->proxy_protocol &&
			    !proxy_cidr_match(o->proxy_cidr, o->nproxy_cidr, &ss, sslen)) {
				/* not a balancer: it gets no word, and no fork */
				close(c);
				listener_log_refusal(&key, addr, "not in --proxy-from", now);
				continue;
			}
			if (nkids >= o->max_sessions) {
				listener_refuse(c, &key, addr, "max-sessions", now);
				continue;
			}
			/* behind a balancer the real source is known only later */
			for (uint64_t k = 0; !o->proxy_protocol && k < nkids; k++)
				if (kids[k].counted && peer_key_eq(&kids[k].key, &key))
					same++;
			if (same >= o->max_per_source) {
				listener_refuse(c, &key, addr, "max-per-source", now);
				continue;
			}
			penalty = o->proxy_protocol ? 0 : listener_penalty(o, &key, now);
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0) {
				log_msg(LOG_ERR, "socketpair: %m");
				close(c);
				continue;
			}
			log_refresh();	/* the leader inherits the attempt */
			pid = fork();
			if (pid < 0) {
				log_msg(LOG_ERR, "fork: %m");
				close(c);
				if (chan[0] >= 0) {
					close(chan[0]);
					close(chan[1]);
				}
				continue;
			}
			if (pid == 0) {
				signal(SIGCHLD, SIG_DFL);
				signal(SIGTERM, SIG_DFL);
				signal(SIGINT, SIG_DFL);
				signal(SIGHUP, SIG_DFL);
				/* The listening sockets and the signal pipe are the
				 * listener's alone: a session (soon the mail user)
				 * holding them could accept other users' logins and
				 * would keep the port busy after SIGTERM. */
				for (int j = 0; j < nfds; j++)
					close(fds[j]);
				close(sig_pipe[0]);
				close(sig_pipe[1]);
				/* nor the other leaders' channels */
				for (uint64_t k = 0; k < nkids; k++)
					if (kids[k].source_fd >= 0)
						close(kids[k].source_fd);
				if (chan[0] >= 0)
					close(chan[0]);
				if (io_set_cloexec(c, 0) < 0)
					fatal("fcntl: %m");
				_exit(leader_run(c, c, o, addr, penalty, tls[i], chan[1]));
			}
			close(c);
			if (chan[1] >= 0)
				close(chan[1]);
			memset(&kids[nkids], 0, sizeof kids[nkids]);
			kids[nkids].pid = pid;
			kids[nkids].key = key;
			kids[nkids].counted = !o->proxy_protocol;
			kids[nkids].source_fd = chan[0];
			nkids++;
		}
	}
	log_msg(LOG_INFO, "SIGTERM: no longer accepting; %llu session%s left to finish",
		(unsigned long long)nkids, nkids == 1 ? "" : "s");
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	for (uint64_t k = 0; k < nkids; k++)
		if (kids[k].source_fd >= 0)
			close(kids[k].source_fd);
	free(pfd);
	if (o->pid_file && unlink(o->pid_file) < 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "--pid-file %s: %m", o->pid_file);
	free(kids);
	return 0;
}
