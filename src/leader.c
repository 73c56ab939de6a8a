/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the leader (root), the session (its set-up).
 * The per-connection leader.  Runs as root until a login succeeds, then
 * becomes the mail user and runs the session.
 *
 * While it is root it NEVER reads a byte from the client socket and never
 * parses POP3 (an evicted client's unread bytes are dropped in the
 * kernel with MSG_TRUNC, never copied): the client talks to the pre-auth
 * child (unprivileged, chrooted, sandboxed), which sends credentials here
 * as frames.  Every frame is validated (boundary_check, then the
 * authproto and connproto decoders); the credentials are checked by a throwaway auth
 * helper fork (authhelper_run), so a PAM module that crashes, leaks or
 * hangs takes down only that fork.  A child that dies, times out or sends anything
 * malformed is a failed login.
 *
 * What the leader accepts from whom, and when, is the table in
 * boundary.c, checked for every frame of the pre-auth child in one place
 * (leader_child_frame).  In words, it answers from the pre-auth child:
 *   FRAME_AUTH_REQUEST -> FRAME_AUTH_REPLY (OK, FAIL, TEMPFAIL, CLOSE,
 *                         INUSE; never EXPIRED: a refused account gets
 *                         FAIL).
 *   FRAME_TLS_ACTIVE   -> no reply; accepted once, and only on a
 *                         connection where TLS was possible.
 *   FRAME_PREAUTH_END  -> no reply; once: how AUTHORIZATION ended, for
 *                         the connection's one end line.
 * and, with --proxy-protocol, first and only first:
 *   FRAME_PROXY_SOURCE -> FRAME_PROXY_VERDICT (GO, REFUSE), after asking
 *                         the listener (standalone) the same question.
 * Nothing else is accepted.  Standalone, the leader itself tells the
 * listener each failed attempt (FRAME_USER_NOTE FAILED) and asks it
 * before the session starts (FRAME_USER_NOTE LOGIN -> FRAME_USER_VERDICT,
 * --max-per-user; REFUSE becomes FRAME_AUTH_INUSE towards the child).
 *
 * Standalone, the leader keeps a channel to the listener (source_fd)
 * until the session starts: it tells the listener each failed attempt
 * (FRAME_USER_NOTE FAILED), asks it once after a good login
 * (FRAME_USER_NOTE LOGIN -> FRAME_USER_VERDICT: GO, REFUSE_USER for
 * --max-per-user, which becomes FRAME_AUTH_INUSE towards the child, or
 * REFUSE_SESSIONS for a full --max-sessions budget, FRAME_AUTH_TEMPFAIL)
 * and heeds FRAME_EVICT while it waits (kill the child, close cleanly).
 * The channel is closed before the session: no process running as the
 * mail user holds a line to the listener.  Every connection it serves
 * ends with exactly one "end" line (leader_end).
 *
 * Every failed attempt, whatever its class, is answered --fail-delay
 * after the request (leader_fail_wait), and a refused account gets the
 * wrong password's FRAME_AUTH_FAIL: no timing or reply oracle.
 *
 * TLS: the leader gets a channel to the key holder (keyholder.c: the
 * daemon's, or in inetd mode one it forks for this connection from the
 * files it opens as root, never reading the key) and hands it, with the
 * certificate chain, to the pre-auth child, whose TLS stack asks the
 * holder for its handshake's signature; the private key is in no process
 * but the holder.  After a login under TLS the child stays as the relay
 * between the TLS connection and this process, which then drops the
 * client socket and runs the session on its end of a socketpair.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include "account.h"
#include "authhelper.h"
#include "authproto.h"
#include "boundary.h"
#include "connproto.h"
#include "buf.h"
#include "frame.h"
#include "keyholder.h"
#include "leader.h"
#include "log.h"
#include "mbox.h"
#include "peer.h"
#include "proxy.h"
#include "preauth.h"
#include "session.h"
#include "sysio.h"
#include "tls.h"

/* How long the pre-auth child may take to exit once told OK. */
#define LEADER_CHILD_EXIT_MS 5000
/* How long an evicted connection is given to see our FIN. */
#define LEADER_EVICT_LINGER_MS 200

/* One connection as the leader sees it, for its one end-of-connection line. */
struct leader_conn {
	const char *sid;
	const char *rip;
	char lip[PEER_LOCAL_MAX];
	long long start_ms;
	int sock;		/* the client socket while we hold it (TCP_INFO), or -1 */
	int chan;		/* the listener's channel (standalone), or -1 */
	int implicit;		/* came in on a POP3S listener */
	int tls_on;		/* TLS is up (implicit or STLS) */
	unsigned attempts;	/* authentication requests */
	unsigned long long in, out;	/* octets, as TCP counted them */
	char tls_version[LOG_CLEAN_SIZE(32)];	/* once TLS is up, sanitised */
	char tls_cipher[LOG_CLEAN_SIZE(64)];
	struct boundary_state child;	/* what the pre-auth child has sent */
	struct boundary_state listener;	/* what the listener has sent */
};

static void leader_conn_init(struct leader_conn *c, int sock, const char *rip, const char *sid,
			     int chan, int implicit)
{
	memset(c, 0, sizeof *c);
	c->sid = sid;
	c->rip = rip;
	c->sock = sock;
	c->chan = chan;
	c->implicit = implicit;
	c->start_ms = io_now_ms();
	peer_local_text(sock, c->lip, sizeof c->lip);
	boundary_init(&c->child, BOUNDARY_PREAUTH, BOUNDARY_LEADER);
	c->child.standalone = chan >= 0;
	boundary_init(&c->listener, BOUNDARY_LISTENER, BOUNDARY_LEADER);
	c->listener.standalone = chan >= 0;
}

/*
 * The one place where the leader takes a frame from the pre-auth child:
 * boundary_recv against the child's path (BOUNDARY_HOSTILE: *why is the
 * rule it broke).
 */
static int leader_child_frame(struct leader_conn *c, int ipc, struct frame *f,
			      long long deadline, const char **why)
{
	return boundary_recv(&c->child, ipc, f, deadline, why);
}

/*
 * The listener's next frame on c->chan, checked against the same table.
 * The listener is our own root process, so a frame outside the table
 * means a bug there; each caller keeps its own safe answer to it.
 */
static int leader_listener_frame(struct leader_conn *c, struct frame *f, long long deadline,
				 const char **why)
{
	return boundary_recv(&c->listener, c->chan, f, deadline, why);
}

/* The kernel's byte counts, while we still hold the socket. */
static void leader_bytes(struct leader_conn *c)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	memset(&ti, 0, sizeof ti);
	if (c->sock >= 0 && getsockopt(c->sock, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    len >= offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received) {
		c->in = ti.tcpi_bytes_received;
		c->out = ti.tcpi_bytes_acked;
	}
}

/*
 * The one line that ends every connection the leader served: where,
 * how long, how much, how far it got (state) and why it ended (reason,
 * one of a fixed set; detail is text from elsewhere, sanitised here).
 * Documented in popa3d(8); doc/fail2ban matches it.
 */
static void leader_end(struct leader_conn *c, const char *state, const char *reason,
		       const char *detail)
{
	char d[LOG_CLEAN_SIZE(FRAME_DETAIL_MAX)] = "";
	long long ms = io_now_ms() - c->start_ms;

	leader_bytes(c);
	/* word by word: spaces are harmless inside the quotes */
	for (size_t used = 0; detail && *detail && used + 2 < sizeof d;) {
		size_t n = strcspn(detail, " ");

		if (used)
			d[used++] = ' ';
		log_clean(d + used, sizeof d - used, detail, n);
		used += strlen(d + used);
		detail += n;
		detail += strspn(detail, " ");
	}
	log_msg(LOG_INFO, "end session=%s rip=%s lip=%s state=%s reason=%s%s%s%s "
		"duration=%lld.%03lld in=%llu out=%llu attempts=%u",
		c->sid, c->rip, c->lip, state, reason, d[0] ? " detail=\"" : "", d,
		d[0] ? "\"" : "", ms / 1000, ms % 1000, c->in, c->out, c->attempts);
}

/* Classes of a pre-auth end the child reported (enum frame_end). */
static const char *leader_end_reason(const struct leader_conn *c, unsigned end)
{
	switch (end) {
	case FRAME_END_QUIT:
		return "quit";
	case FRAME_END_TIMEOUT:
		return c->attempts ? "timeout" : "no-auth";
	case FRAME_END_PROTOCOL:
		return "protocol-error";
	case FRAME_END_TLS:
		return "tls-failed";
	case FRAME_END_FAILURES:
		return "auth-failed";
	case FRAME_END_REFUSED:
		return "refused";
	default:
		return c->attempts ? "client-closed" : "no-auth";
	}
}

/*
 * Close a connection we give up before login (evicted, or no process
 * to serve it): a plain connection hears why in one fixed line; under TLS
 * (or on a POP3S port, where the handshake may be under way) a clear
 * line would be garbage, so the FIN alone says it.  What the client
 * sent is discarded in the kernel (MSG_TRUNC: no byte enters this root
 * process) after our FIN, until the client closes or linger_ms passes,
 * so the close is not a reset.
 */
static void leader_close_clean(int fd, int tls, const char *line, long long linger_ms)
{
	long long deadline = io_now_ms() + linger_ms;

	if (!tls && send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
	}
	if (shutdown(fd, SHUT_WR) < 0)
		return;
	while (io_wait(fd, POLLIN, deadline) == 1 &&
	       recv(fd, NULL, 65536, MSG_TRUNC | MSG_DONTWAIT) > 0)
		;
}

static void leader_session_id(char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[6];
	size_t i;

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		fatal("getrandom: %m");
	for (i = 0; i < sizeof r && 2 * i + 2 < size; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * i] = '\0';
}

/* Wait for the pre-auth child, killing it if it takes longer than ms. */
static void leader_reap_child(pid_t pid, long long ms)
{
	int status;

	if (io_wait_child(pid, &status, io_now_ms() + ms) == 1) {
		kill(pid, SIGKILL);
		io_wait_child(pid, &status, -1);
	}
}

static int leader_reply(int ipc, enum frame_auth code)
{
	struct frame f;

	if (authproto_encode_reply(&f, code) < 0)
		return -1;
	return frame_send(ipc, &f);
}

/*
 * No timing oracle: every failed attempt, whatever its class (unknown
 * user, wrong password, locked, expired, must change, root, below
 * --min-uid, backend error), is answered at fail_at, --fail-delay after
 * the request (the PAM backend has taken libpam's own failure delay over,
 * so nothing else sleeps).  A backend slower than --fail-delay would show
 * through, so the answer then waits for the next whole multiple of
 * --fail-delay instead, and the log says the deadline is too short.
 */
static void leader_fail_wait(long long fail_at, const struct options *o, const char *sid)
{
	long long now = io_now_ms(), step = (long long)o->fail_delay;

	if (now > fail_at && step > 0) {
		long long late = now - fail_at;

		fail_at += (late / step + 1) * step;
		log_msg(LOG_WARNING, "session=%s authentication took longer than --fail-delay "
			"(%lld ms): answered at the next multiple; raise --fail-delay", sid,
			late + step);
	}
	if (fail_at > now)
		io_sleep_ms(fail_at - now);
}

/*
 * --proxy-protocol: the pre-auth child's first frame says where the
 * connection comes from.  Standalone, the listener (c->chan) applies
 * --max-per-source to that source and answers with its penalty.  0 with
 * rip set to the real source; -1 to end the connection, with its end
 * line logged here.
 */
static int leader_proxy(int ipc, struct leader_conn *c, const char *peer, char *rip,
			size_t ripsize, long long *penalty_ms)
{
	struct frame f;
	struct connproto_source src;
	const char *why = NULL;
	unsigned verdict = FRAME_PROXY_GO;
	long long penalty = 0;

	snprintf(rip, ripsize, "%s", peer);
	/* the child gives up on the header at PROXY_TIMEOUT_MS */
	if (leader_child_frame(c, ipc, &f, io_now_ms() + PROXY_TIMEOUT_MS + 5000, &why) < 0 ||
	    connproto_parse_source(&f, &src, &why) < 0) {
		leader_end(c, "proxy", "protocol-error", why);
		return -1;
	}
	if (src.family == FRAME_PROXY_FAILED) {
		char detail[128];

		snprintf(detail, sizeof detail, "PROXY header refused: %s (proxy=%s)",
			 proxy_strerror(src.error), peer);
		leader_end(c, "proxy", "protocol-error", detail);
		return -1;
	}
	if (src.family != 0)
		peer_from_bytes(src.family, src.addr, NULL, rip, ripsize);
	c->rip = rip;
	if (c->chan >= 0 &&
	    (connproto_encode_source(&f, &src) < 0 || frame_send(c->chan, &f) < 0 ||
	     leader_listener_frame(c, &f, io_now_ms() + 30000, &why) < 0 ||
	     connproto_parse_verdict(&f, &verdict, &penalty, &why) < 0)) {
		leader_end(c, "proxy", "refused", why ? why : "the listener did not answer");
		return -1;
	}
	if (connproto_encode_verdict(&f, verdict, 0) < 0 || frame_send(ipc, &f) < 0) {
		leader_end(c, "proxy", "client-closed", "pre-auth child gone");
		return -1;
	}
	*penalty_ms = penalty;
	if (verdict != FRAME_PROXY_GO) {
		leader_end(c, "proxy", "refused", "max-per-source");
		return -1;
	}
	return 0;
}

/* No process or descriptor for this connection: refuse it cleanly. */
static int leader_cannot(struct leader_conn *c, int fd, const char *what)
{
	char detail[128];
	int err = errno;

	snprintf(detail, sizeof detail, "%s: %s", what, strerror(err));
	leader_close_clean(fd, c->implicit,
			   "-ERR [SYS/TEMP] Server busy, try again later.\r\n", 0);
	leader_end(c, "connected", "refused", detail);
	return err == EAGAIN || err == ENOMEM || err == EMFILE || err == ENFILE ?
	       LEADER_EXIT_TEMPFAIL : LEADER_EXIT_NOLOGIN;
}

static int leader_serve_conn(int in_fd, int out_fd, int ipc, pid_t child, const struct options *o,
			     struct leader_conn *c, long long penalty_ms, int relay);

int leader_run(int in_fd, int out_fd, const struct options *o, const char *rip,
	       long long penalty_ms, int implicit_tls, int source_fd)
{
	struct preauth_tls lt = { { -1, NULL, 0, -1 }, -1, implicit_tls };
	struct leader_conn c;
	char sid[16], real_rip[PEER_ADDR_MAX];
	int sv[2], rv[2] = { -1, -1 }, r;
	int want_tls = implicit_tls || o->tls_cert;
	const char *why = NULL;
	pid_t child;

	leader_session_id(sid, sizeof sid);
	leader_conn_init(&c, in_fd, rip, sid, source_fd, implicit_tls);
	/* Also without TLS: the holder's control socket leaves this process. */
	if (keyholder_connect(o, want_tls, &lt.kc, &why) < 0) {
		/* a configuration problem, not a busy server: no line, as
		 * before the greeting nothing has been promised */
		log_msg(LOG_ERR, "session=%s rip=%s TLS: %s", sid, rip, why);
		leader_end(&c, "connected", "refused", "TLS key holder unavailable");
		return LEADER_EXIT_NOLOGIN;
	}
	if (want_tls) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rv) < 0) {
			r = leader_cannot(&c, in_fd, "socketpair");
			keyholder_end(&lt.kc);
			return r;
		}
		lt.relay = rv[1];
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = leader_cannot(&c, in_fd, "socketpair");
		keyholder_end(&lt.kc);
		return r;
	}
	child = fork();
	if (child < 0) {
		r = leader_cannot(&c, in_fd, "fork");
		keyholder_end(&lt.kc);
		return r;
	}
	if (child == 0) {
		close(sv[0]);
		if (rv[0] >= 0)
			close(rv[0]);
		if (source_fd >= 0)
			close(source_fd);
		preauth_child(in_fd, out_fd, sv[1], o, &lt);
	}
	close(sv[1]);
	if (lt.kc.chan >= 0) {
		/* the channel is the child's alone */
		close(lt.kc.chan);
		lt.kc.chan = -1;
	}
	if (rv[1] >= 0)
		close(rv[1]);
	if (o->proxy_protocol) {
		c.child.proxy = c.listener.proxy = 1;
		r = leader_proxy(sv[0], &c, rip, real_rip, sizeof real_rip, &penalty_ms);
		if (r < 0) {
			if (source_fd >= 0)
				close(source_fd);
			close(sv[0]);
			if (rv[0] >= 0)
				close(rv[0]);
			/* a refused child writes its -ERR line and exits */
			leader_reap_child(child, 2000);
			keyholder_end(&lt.kc);
			return LEADER_EXIT_NOLOGIN;
		}
	}
	r = leader_serve_conn(in_fd, out_fd, sv[0], child, o, &c, penalty_ms, rv[0]);
	keyholder_end(&lt.kc);
	return r;
}

int leader_serve(int in_fd, int out_fd, int ipc, pid_t child, const struct options *o,
		 const char *rip, const char *sid, long long penalty_ms)
{
	struct leader_conn c;

	leader_conn_init(&c, in_fd, rip, sid, -1, 0);
	return leader_serve_conn(in_fd, out_fd, ipc, child, o, &c, penalty_ms, -1);
}

/*
 * A login under TLS: the client socket leaves this process (it is
 * replaced by /dev/null, so 0 and 1 stay taken in inetd mode) and the
 * session reads and writes the relay's socketpair instead.
 */
static void leader_drop_client(int in_fd, int out_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0 || dup2(null, in_fd) < 0 || dup2(null, out_fd) < 0)
		fatal("cannot drop the client socket: %m");
	if (null != in_fd && null != out_fd)
		close(null);
}

static void leader_chan_close(struct leader_conn *c)
{
	if (c->chan >= 0)
		close(c->chan);
	c->chan = -1;
}

/*
 * Wait for the pre-auth child's next frame, and meanwhile for the
 * listener: 1 when ipc is readable, 0 when the listener evicts this
 * connection, -1 at the deadline.  A listener that goes away (SIGTERM)
 * or says anything else is simply no longer listened to.
 */
static int leader_wait(struct leader_conn *c, int ipc, long long deadline)
{
	for (;;) {
		struct pollfd p[2] = { { ipc, POLLIN, 0 }, { c->chan, POLLIN, 0 } };
		long long now = io_now_ms();
		struct frame f;
		const char *why = NULL;
		int r;

		if (now >= deadline)
			return -1;
		r = poll(p, c->chan >= 0 ? 2 : 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return 1;	/* let frame_recv report it */
		if (r <= 0)
			continue;
		if (p[0].revents)
			return 1;
		/* the clock has moved on while we polled */
		if (leader_listener_frame(c, &f, io_now_ms() + 1000, &why) == 0 &&
		    f.type == FRAME_EVICT)
			return 0;
		leader_chan_close(c);
	}
}

/* The pre-auth child is told nothing: it is killed, and we close. */
static int leader_evicted(struct leader_conn *c, int ipc, pid_t child, int out_fd)
{
	int status;

	kill(child, SIGKILL);
	io_wait_child(child, &status, -1);
	close(ipc);
	leader_chan_close(c);
	/* logged first: the linger below may last until the client closes */
	leader_end(c, "pre-auth", "evicted", NULL);
	leader_close_clean(out_fd, c->implicit || c->tls_on,
			   "-ERR [SYS/TEMP] Server busy: closing connections not logged in.\r\n",
			   LEADER_EVICT_LINGER_MS);
	return LEADER_EXIT_NOLOGIN;
}

/*
 * Standalone: tell the listener about a failed attempt (its per-source
 * penalty remembers which user names failed, so that a later success
 * clears only failures it proves were typos).  Not answered; a listener
 * that is gone (it stopped after SIGTERM) is told nothing more.
 */
static void leader_note_failed(struct leader_conn *c, const char *user)
{
	struct frame f;

	if (c->chan < 0 || connproto_encode_user_note(&f, FRAME_USER_FAILED, user) < 0)
		return;
	if (frame_send(c->chan, &f) < 0)
		leader_chan_close(c);
}

/* leader_ask_login's answer when an eviction came instead of a verdict. */
#define LEADER_ASK_EVICTED 255

/*
 * After a good login, standalone: may this connection become a mail
 * session?  One question (USER_NOTE LOGIN) covers both the account's cap
 * (--max-per-user) and the sessions' budget (--max-sessions): the
 * listener's enum frame_user verdict, or LEADER_ASK_EVICTED when it
 * evicted this connection meanwhile.  Without a listener (inetd, or it
 * has gone) nothing is counted, so the answer is GO.
 */
static unsigned leader_ask_login(struct leader_conn *c, const char *user)
{
	struct frame f;
	const char *why = NULL;
	unsigned verdict;
	int r;

	if (c->chan < 0 || connproto_encode_user_note(&f, FRAME_USER_LOGIN, user) < 0)
		return FRAME_USER_GO;	/* names are checked before; cannot fail */
	/* if this fails, an eviction may still be waiting to be read */
	(void)frame_send(c->chan, &f);
	r = leader_listener_frame(c, &f, io_now_ms() + 30000, &why);
	if (r < 0) {
		if (r != FRAME_RECV_EOF)
			log_msg(LOG_ERR, "session=%s rip=%s listener: %s", c->sid, c->rip, why);
		leader_chan_close(c);
		/* a frame outside the table was refused before, as unparsable */
		return r == BOUNDARY_HOSTILE ? FRAME_USER_REFUSE_SESSIONS : FRAME_USER_GO;
	}
	if (f.type == FRAME_EVICT)
		return LEADER_ASK_EVICTED;
	if (connproto_parse_user_verdict(&f, &verdict, &why) < 0) {
		log_msg(LOG_ERR, "session=%s rip=%s listener: %s", c->sid, c->rip, why);
		leader_chan_close(c);
		return FRAME_USER_REFUSE_SESSIONS;
	}
	return verdict;
}

/* The session's reason, in the classes of the end line. */
static const char *leader_session_reason(const char *end)
{
	if (strcmp(end, "quit") == 0 || strcmp(end, "timeout") == 0)
		return end;
	if (strcmp(end, "eof") == 0 || strcmp(end, "read-error") == 0 ||
	    strcmp(end, "write-error") == 0 || strcmp(end, "client-gone") == 0)
		return "client-closed";
	return "mailbox-error";
}

/* The pre-auth child broke a rule: it is the attacker's now. */
static int leader_hostile(struct leader_conn *c, int ipc, pid_t child, const char *why)
{
	char detail[128];

	close(ipc);
	leader_reap_child(child, 0);
	snprintf(detail, sizeof detail, "pre-auth child sent a bad request: %s", why);
	leader_end(c, "pre-auth", "protocol-error", detail);
	return LEADER_EXIT_AUTHFAIL;
}

/* TLS_ACTIVE (the table allowed it): keep version and cipher for the logs. */
static int leader_tls_active(struct leader_conn *c, struct frame *f, const char **why)
{
	const unsigned char *p, *sp;
	size_t n, vn;

	if (connproto_parse_tls_active(f, &p, &n, why) < 0)
		return -1;
	sp = memchr(p, ' ', n);
	vn = sp ? (size_t)(sp - p) : n;
	log_clean(c->tls_version, sizeof c->tls_version, p, vn);
	log_clean(c->tls_cipher, sizeof c->tls_cipher, sp ? sp + 1 : p + n, sp ? n - vn - 1 : 0);
	c->tls_on = 1;
	return 0;
}

/* AUTHORIZATION as the leader sees it, between the child's frames. */
struct leader_pre {
	struct leader_conn *c;
	const struct options *o;
	int in_fd, out_fd;	/* the client (or, after a login under TLS, the relay) */
	int ipc;		/* the pre-auth child's pipe */
	int relay;		/* our end of the TLS relay socketpair, or -1 */
	pid_t child;
	/* --max-failures, enforced on the attempts judged here: the
	 * child's own count (which also has its local SASL refusals) is
	 * not trusted */
	unsigned failures;
	long long penalty_ms;	/* slept once, before the first authentication */
	unsigned end;		/* PREAUTH_END's reason (enum frame_end), 0 before */
	char end_detail[FRAME_DETAIL_MAX + 1];
};

/* leader_login's and leader_failed's "read the next frame". */
#define LEADER_CONTINUE (-1)

/* No frame: the child ended (r FRAME_RECV_EOF) or failed; one end line. */
static int leader_child_ended(struct leader_pre *p, int r, const char *why)
{
	struct leader_conn *c = p->c;
	int eof = r == FRAME_RECV_EOF;

	close(p->ipc);
	leader_reap_child(p->child, eof ? 2000 : 0);
	if (eof && p->end && !c->attempts && !p->end_detail[0] &&
	    (p->end == FRAME_END_TIMEOUT || p->end == FRAME_END_CLOSED))
		/* no-auth says little by itself: say how */
		leader_end(c, "pre-auth", "no-auth",
			   p->end == FRAME_END_TIMEOUT ? "idle timeout" : "client closed");
	else if (eof && p->end)
		leader_end(c, "pre-auth", leader_end_reason(c, p->end), p->end_detail);
	else if (eof)
		leader_end(c, "pre-auth", "protocol-error", "pre-auth child ended");
	else
		leader_end(c, "pre-auth", "protocol-error", why ? why : "pre-auth child hung");
	return p->failures ? LEADER_EXIT_AUTHFAIL : LEADER_EXIT_NOLOGIN;
}

/*
 * Ask the backend (a throwaway auth helper) and apply the account
 * policy: the passwd entry on success, NULL with res saying why.  The
 * request is wiped; *fail_at is when a failure of it is answered.
 */
static const struct passwd *leader_check_creds(struct leader_pre *p, struct authproto_request *ar,
					       struct authhelper_res *res, long long *fail_at)
{
	const struct options *o = p->o;
	struct authhelper_req rq;
	const struct passwd *pw = NULL;
	const char *why = NULL;

	if (p->penalty_ms > 0) {
		log_msg(LOG_INFO, "session=%s rip=%s penalty=%lld ms before the first authentication",
			p->c->sid, p->c->rip, p->penalty_ms);
		io_sleep_ms(p->penalty_ms);
		p->penalty_ms = 0;
	}
	/* every failure of this attempt is answered at one moment */
	*fail_at = io_now_ms() + (long long)o->fail_delay;
	memset(&rq, 0, sizeof rq);
	rq.user = ar->user;
	rq.secret = ar->secret;
	rq.backend = o->auth == OPT_AUTH_PAM ? AUTHHELPER_PAM : AUTHHELPER_SHADOW;
	rq.rhost = p->c->rip;
	rq.service = o->pam_service;
	rq.pam_confdir = o->pam_confdir;
	rq.shadow_file = o->shadow_file;
	rq.timeout_ms = (int)o->auth_timeout * 1000;
	authhelper_run(&rq, res);
	authproto_request_wipe(ar);
	if (res->result == AUTH_RESULT_OK) {
		pw = account_lookup(o, res->user, &why);
		if (!pw) {
			res->result = AUTH_RESULT_FAIL;
			res->reason = why;
		}
	}
	return pw;
}

/*
 * A failed attempt.  A refused account (expired, must change its
 * password, root, below --min-uid) gets the wrong password's answer: the
 * child relaying it may be the attacker's, so not even it learns that
 * the password was right.  Only the log, which clients cannot read,
 * keeps the reason.
 */
static int leader_failed(struct leader_pre *p, const struct authhelper_res *res,
			 const char *user_clean, const char *typed, const char *method,
			 long long fail_at)
{
	struct leader_conn *c = p->c;
	enum frame_auth reply;

	p->failures++;
	reply = res->result == AUTH_RESULT_TEMPFAIL ? FRAME_AUTH_TEMPFAIL : FRAME_AUTH_FAIL;
	log_msg(LOG_NOTICE, "auth failure user=%s rip=%s method=%s tls=%s session=%s reason=\"%s\"",
		user_clean, c->rip, method, c->tls_on ? "yes" : "no", c->sid,
		res->reason ? res->reason : "authentication failure");
	leader_note_failed(c, typed);
	leader_fail_wait(fail_at, p->o, c->sid);
	if (p->failures >= p->o->max_failures)
		reply = FRAME_AUTH_CLOSE;
	if (leader_reply(p->ipc, reply) < 0 || reply == FRAME_AUTH_CLOSE) {
		/* the reason is known here: the child's end frame is not read */
		close(p->ipc);
		leader_reap_child(p->child, 2000);
		leader_end(c, "pre-auth", reply == FRAME_AUTH_CLOSE ? "auth-failed" : "client-closed",
			   NULL);
		return LEADER_EXIT_AUTHFAIL;
	}
	return LEADER_CONTINUE;
}

/* From here on, this process is the user's: run the session, end the line. */
static int leader_session(struct leader_pre *p, const struct passwd *pw, const char *mailbox)
{
	const struct options *o = p->o;
	struct leader_conn *c = p->c;
	struct session_opts so;
	struct session_result sr;

	account_become(pw, p->in_fd, p->out_fd);
	memset(&so, 0, sizeof so);
	memset(&sr, 0, sizeof sr);
	so.timeout = (int)o->timeout;
	so.user = pw->pw_name;
	so.mailbox = mailbox;
	mbox_opts_default(&so.mbox);
	so.mbox.owner = pw->pw_uid;
	so.mbox.max_messages = o->max_messages;
	so.mbox.max_size = o->max_mailbox_size;
	so.mbox.lock_methods = o->lock_methods;
	so.mbox.lock_timeout = (int)o->lock_timeout;
	so.mbox.format = o->mailbox_format;
	so.mbox.uidl = o->uidl;
	so.session_id = c->sid;
	so.rip = c->rip;
	so.expire = o->expire;
	so.login_delay = (int)o->login_delay;
	/* RFC 2449 section 5: what AUTHORIZATION offered, TRANSACTION lists */
	so.sasl_plain = c->tls_on || (o->allow_plaintext_auth && !o->require_tls);
	so.stls = c->child.tls && !c->tls_on;
	so.capa_version = o->capa_version;
	so.result = &sr;
	session_run(p->in_fd, p->out_fd, &so);
	if (c->tls_on) {
		int status;

		/*
		 * EOF on the socketpair ends the relay once it has passed our
		 * last reply on; it bounds its own life by the idle timeout,
		 * so this wait ends.  (As the user we could not kill it: it
		 * runs as the pre-auth user.)
		 */
		close(p->relay);
		while (waitpid(p->child, &status, 0) < 0 && errno == EINTR)
			;
		/* the relay's TCP counts are not ours to read: add what the
		 * session wrote (plaintext) */
		c->out += sr.sent;
	}
	leader_end(c, "authenticated", leader_session_reason(sr.end),
		   strcmp(leader_session_reason(sr.end), sr.end) ? sr.end : NULL);
	return LEADER_EXIT_OK;
}

/* --max-per-user refused this login: say so, and end the connection. */
static int leader_inuse(struct leader_pre *p, const struct passwd *pw, const char *method)
{
	struct leader_conn *c = p->c;
	char final_clean[LOG_CLEAN_SIZE(64)];

	log_clean(final_clean, sizeof final_clean, pw->pw_name, strlen(pw->pw_name));
	log_msg(LOG_NOTICE, "auth refused user=%s rip=%s method=%s tls=%s "
		"session=%s reason=\"max-per-user\"", final_clean, c->rip, method,
		c->tls_on ? "yes" : "no", c->sid);
	leader_chan_close(c);
	leader_reply(p->ipc, FRAME_AUTH_INUSE);
	close(p->ipc);
	if (p->relay >= 0)
		close(p->relay);
	leader_reap_child(p->child, 2000);
	leader_end(c, "pre-auth", "refused", "max-per-user");
	return LEADER_EXIT_NOLOGIN;
}

/*
 * Good credentials and account: the mailbox path, the listener's
 * verdict, then the child is told OK and the session takes over.
 * LEADER_CONTINUE when the child is told to try again.
 */
static int leader_login(struct leader_pre *p, const struct passwd *pw, const char *user_clean,
			const char *method, long long fail_at)
{
	struct leader_conn *c = p->c;
	struct buf path;
	char final_clean[LOG_CLEAN_SIZE(64)];
	unsigned verdict;
	int r;

	buf_init(&path, 4096);
	if (account_mailbox_path(p->o->mailbox, pw->pw_name, pw->pw_dir, &path) < 0) {
		log_msg(LOG_ERR, "session=%s rip=%s user=%s: mailbox template gives no safe path",
			c->sid, c->rip, user_clean);
		/* a failure like any other: at the one deadline */
		leader_fail_wait(fail_at, p->o, c->sid);
		leader_reply(p->ipc, FRAME_AUTH_TEMPFAIL);
		p->failures++;
		buf_free(&path);
		return LEADER_CONTINUE;
	}
	/* One question for the account's cap and the sessions' budget. */
	verdict = leader_ask_login(c, pw->pw_name);
	if (verdict != FRAME_USER_GO) {
		buf_free(&path);
		if (verdict == LEADER_ASK_EVICTED)
			return leader_evicted(c, p->ipc, p->child, p->out_fd);
		if (verdict != FRAME_USER_REFUSE_SESSIONS)
			return leader_inuse(p, pw, method);
		/* [SYS/TEMP], not a failed login: nothing to penalise */
		leader_reply(p->ipc, FRAME_AUTH_TEMPFAIL);
		return LEADER_CONTINUE;
	}
	leader_chan_close(c);	/* the session (the user) must not hold it */
	if (leader_reply(p->ipc, FRAME_AUTH_OK) < 0) {
		buf_free(&path);
		close(p->ipc);
		leader_reap_child(p->child, 0);
		leader_end(c, "pre-auth", "client-closed", "pre-auth child gone");
		return LEADER_EXIT_NOLOGIN;
	}
	close(p->ipc);
	c->child.authed = 1;
	if (c->tls_on) {
		/* the child is the relay now: it lives as long as the session */
		leader_bytes(c);
		c->sock = -1;
		leader_drop_client(p->in_fd, p->out_fd);
		p->in_fd = p->out_fd = p->relay;
	} else {
		if (p->relay >= 0)
			close(p->relay);
		leader_reap_child(p->child, LEADER_CHILD_EXIT_MS);
	}
	log_clean(final_clean, sizeof final_clean, pw->pw_name, strlen(pw->pw_name));
	if (c->tls_on)
		log_msg(LOG_INFO, "auth ok user=%s rip=%s method=%s tls=yes session=%s "
			"tls_via=%s tls_version=%s tls_cipher=%s", final_clean, c->rip, method,
			c->sid, c->implicit ? "implicit" : "stls", c->tls_version, c->tls_cipher);
	else
		log_msg(LOG_INFO, "auth ok user=%s rip=%s method=%s tls=no session=%s",
			final_clean, c->rip, method, c->sid);
	r = leader_session(p, pw, buf_cstr(&path));
	buf_free(&path);
	return r;
}

/* One AUTH_REQUEST (boundary.c has let it through): its answer. */
static int leader_attempt(struct leader_pre *p, struct frame *f)
{
	struct leader_conn *c = p->c;
	struct authproto_request ar;
	struct authhelper_res res;
	const char *why = NULL, *method;
	char user_clean[LOG_CLEAN_SIZE(64)], typed[FRAME_USER_MAX + 1];
	const struct passwd *pw;
	long long fail_at;

	if (authproto_parse_request(f, &ar, &why) < 0)
		return leader_hostile(c, p->ipc, p->child, why);
	c->attempts++;
	log_clean(user_clean, sizeof user_clean, ar.user, ar.user_len);
	memcpy(typed, ar.user, ar.user_len + 1);
	method = ar.method == FRAME_METHOD_PLAIN ? "PLAIN" : "USER";
	/*
	 * --require-tls is the pre-auth child's rule too, but that child may
	 * be the attacker's: a password sent in clear is refused here as
	 * well, and the child that forwarded it is treated as hostile.
	 */
	if (p->o->require_tls && !c->tls_on) {
		authproto_request_wipe(&ar);
		close(p->ipc);
		leader_reap_child(p->child, 0);
		leader_end(c, "pre-auth", "protocol-error",
			   "pre-auth child forwarded a login without TLS under --require-tls");
		return LEADER_EXIT_AUTHFAIL;
	}
	pw = leader_check_creds(p, &ar, &res, &fail_at);
	if (res.result == AUTH_RESULT_OK)
		return leader_login(p, pw, user_clean, method, fail_at);
	return leader_failed(p, &res, user_clean, typed, method, fail_at);
}

static int leader_serve_conn(int in_fd, int out_fd, int ipc, pid_t child, const struct options *o,
			     struct leader_conn *c, long long penalty_ms, int relay)
{
	struct leader_pre p = {
		.c = c, .o = o, .in_fd = in_fd, .out_fd = out_fd, .ipc = ipc, .relay = relay,
		.child = child, .penalty_ms = penalty_ms,
	};

	c->child.tls = relay >= 0;	/* a certificate for this connection */
	for (;;) {
		struct frame f;
		const char *why = NULL;
		/* the child enforces the client's idle timeout; allow it that
		 * plus a margin before calling it hung */
		long long deadline = io_now_ms() + (long long)o->timeout * 1000 + 5000;
		int w = leader_wait(c, ipc, deadline), r;

		if (w == 0)
			return leader_evicted(c, ipc, child, out_fd);
		r = w < 0 ? FRAME_RECV_ERROR : leader_child_frame(c, ipc, &f, deadline, &why);
		if (r == BOUNDARY_HOSTILE)
			return leader_hostile(c, ipc, child, why);
		if (r < 0)
			return leader_child_ended(&p, r, why);
		/* boundary.c has checked type, phase and count; the
		 * payloads are checked here */
		if (f.type == FRAME_PREAUTH_END) {
			/* its reason goes into the end line at EOF */
			if (connproto_parse_end(&f, &p.end, p.end_detail, sizeof p.end_detail,
						&why) < 0)
				return leader_hostile(c, ipc, child, why);
			continue;
		}
		if (f.type == FRAME_TLS_ACTIVE) {
			if (leader_tls_active(c, &f, &why) < 0)
				return leader_hostile(c, ipc, child, why);
			continue;
		}
		r = leader_attempt(&p, &f);
		if (r != LEADER_CONTINUE)
			return r;
	}
}
