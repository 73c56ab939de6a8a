/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the leader (root), the pre-auth child (its entry), the session
 * (its set-up).
 * The per-connection leader.  Runs as root until a login succeeds, then
 * becomes the mail user and runs the session.
 *
 * While it is root it NEVER reads a byte from the client socket and never
 * parses POP3: the client talks to the pre-auth child (unprivileged,
 * chrooted, sandboxed), which sends credentials here as frames.  Every
 * frame is validated (authhelper_parse_request); the credentials are
 * checked by a throwaway auth helper fork (authhelper_run), so a PAM
 * module that crashes, leaks or hangs takes down only that fork.  A child
 * that dies, times out or sends anything malformed is a failed login.
 *
 * Requests the leader answers from the pre-auth child, in any state:
 *   FRAME_AUTH_REQUEST -> FRAME_AUTH_REPLY (OK, FAIL, EXPIRED, TEMPFAIL,
 *                         CLOSE).
 *   FRAME_TLS_ACTIVE   -> no reply; accepted once, and only on a
 *                         connection where TLS was possible.
 * and, with --proxy-protocol, first and only first:
 *   FRAME_PROXY_SOURCE -> FRAME_PROXY_VERDICT (GO, REFUSE), after asking
 *                         the listener (standalone) the same question.
 * Nothing else is accepted.  Standalone, the leader itself tells the
 * listener each failed attempt (FRAME_USER_NOTE FAILED) and asks it
 * before the session starts (FRAME_USER_NOTE LOGIN -> FRAME_USER_VERDICT,
 * --max-per-user; REFUSE becomes FRAME_AUTH_INUSE towards the child).
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authhelper.h"
#include "authproto.h"
#include "buf.h"
#include "frame.h"
#include "keyholder.h"
#include "leader.h"
#include "log.h"
#include "mbox.h"
#include "peer.h"
#include "proxy.h"
#include "preauth.h"
#include "sandbox.h"
#include "session.h"
#include "sysio.h"
#include "tls.h"

/* How long the pre-auth child may take to exit once told OK. */
#define LEADER_CHILD_EXIT_MS 5000

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

	frame_init(&f, FRAME_AUTH_REPLY);
	if (frame_put_byte(&f, (unsigned char)code) < 0)
		return -1;
	return frame_send(ipc, &f);
}

/* What the pre-auth child gets for TLS; fds are -1 when TLS is off. */
struct leader_tls {
	struct keyholder_conn kc;	/* a channel to the key holder, the chain */
	int relay;		/* the child's end of the session socketpair */
	int implicit;		/* the connection came in on --listen-tls */
};

static void leader_preauth_child(int in_fd, int out_fd, int ipc, const struct options *o,
				 struct leader_tls *lt)
{
	struct preauth_opts po;
	struct tls *tls = NULL;
	int keep[6] = { in_fd, out_fd, ipc, 2, lt->kc.chan, lt->relay };
	int r, maxfd = -1;

	io_close_from(0, keep, 6);
	sandbox_null_stdio(in_fd, out_fd, log_to_stderr());
	maxfd = log_fd();	/* kept by io_close_from too */
	for (int i = 0; i < 6; i++)
		if (keep[i] > maxfd)
			maxfd = keep[i];
	memset(&po, 0, sizeof po);
	po.timeout = (int)o->timeout;
	po.max_failures = (int)o->max_failures;
	po.expire = o->expire;
	po.login_delay = (int)o->login_delay;
	po.require_tls = o->require_tls;
	po.allow_plaintext_auth = o->allow_plaintext_auth;
	po.implicit_tls = lt->implicit;
	po.proxy = o->proxy_protocol;
	if (lt->kc.chan >= 0) {
		const char *why = NULL;

		/* The certificate chain and a channel: the key stays in the
		 * holder, which this process may ask for one signature. */
		tls = keyholder_tls(&lt->kc, &why);
		if (!tls) {
			log_msg(LOG_ERR, "TLS: %s", why);
			_exit(1);
		}
		po.tls = tls;
	}
	sandbox_preauth(o->user, o->empty_dir, maxfd);	/* fatal() on any failure */
	r = preauth_run(in_fd, out_fd, ipc, &po);
	if (r == 0 && tls_active(tls)) {
		/* Logged in under TLS: this process is now the session's relay. */
		close(ipc);
		tls_relay(tls, lt->relay, (int)o->timeout);
	}
	tls_free(tls);
	_exit(r == 0 ? 0 : 1);
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
 * Account policy after the backend said yes: the account must exist in
 * the passwd database, must not be root, and must be at or above
 * --min-uid (system accounts don't fetch mail).  Refusals look like a
 * wrong password to the client and are logged with their reason.
 */
static const struct passwd *leader_account(const struct options *o, const char *name,
					   const char **why)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		*why = errno ? "account lookup failed" : "no such account in passwd";
		return NULL;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		*why = "root may not log in";
		return NULL;
	}
	if ((uint64_t)pw->pw_uid < o->min_uid) {
		*why = "uid below --min-uid";
		return NULL;
	}
	return pw;
}

/*
 * --proxy-protocol: the pre-auth child's first frame says where the
 * connection comes from.  Standalone, the listener (source_fd) applies
 * --max-per-source to that source and answers with its penalty.  0 with
 * rip set to the real source; -1 to end the connection, logged once here
 * or (a limit) by the listener.
 */
static int leader_proxy(int ipc, int source_fd, const char *sid, const char *peer,
			char *rip, size_t ripsize, long long *penalty_ms)
{
	struct frame f;
	struct authproto_source src;
	const char *why = NULL;
	unsigned verdict = FRAME_PROXY_GO;
	long long penalty = 0;

	snprintf(rip, ripsize, "%s", peer);
	/* the child gives up on the header at PROXY_TIMEOUT_MS */
	if (frame_recv(ipc, &f, io_now_ms() + PROXY_TIMEOUT_MS + 5000, &why) < 0 ||
	    authproto_parse_source(&f, &src, &why) < 0) {
		log_msg(LOG_WARNING, "session=%s proxy=%s pre-auth child: %s", sid, peer, why);
		return -1;
	}
	if (src.family == FRAME_PROXY_FAILED) {
		log_msg(LOG_WARNING, "session=%s proxy=%s PROXY header refused: %s",
			sid, peer, proxy_strerror(src.error));
		return -1;
	}
	if (src.family != 0)
		peer_from_bytes(src.family, src.addr, NULL, rip, ripsize);
	if (source_fd >= 0 &&
	    (authproto_encode_source(&f, &src) < 0 || frame_send(source_fd, &f) < 0 ||
	     frame_recv(source_fd, &f, io_now_ms() + 30000, &why) < 0 ||
	     authproto_parse_verdict(&f, &verdict, &penalty, &why) < 0)) {
		log_msg(LOG_ERR, "session=%s rip=%s proxy=%s listener: %s", sid, rip, peer,
			why ? why : "cannot ask");
		return -1;
	}
	if (authproto_encode_verdict(&f, verdict, 0) < 0 || frame_send(ipc, &f) < 0)
		return -1;
	*penalty_ms = penalty;
	return verdict == FRAME_PROXY_GO ? 0 : -1;
}

int leader_run(int in_fd, int out_fd, const struct options *o, const char *rip,
	       long long penalty_ms, int implicit_tls, int source_fd)
{
	struct leader_tls lt = { { -1, NULL, 0, -1 }, -1, implicit_tls };
	char sid[16], real_rip[PEER_ADDR_MAX];
	int sv[2], rv[2] = { -1, -1 }, r;
	int want_tls = implicit_tls || o->tls_cert;
	const char *why = NULL;
	pid_t child;

	leader_session_id(sid, sizeof sid);
	/* Also without TLS: the holder's control socket leaves this process. */
	if (keyholder_connect(o, want_tls, &lt.kc, &why) < 0) {
		log_msg(LOG_ERR, "session=%s rip=%s TLS: %s", sid, rip, why);
		return LEADER_EXIT_NOLOGIN;
	}
	if (want_tls) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rv) < 0) {
			log_msg(LOG_ERR, "socketpair: %m");
			keyholder_end(&lt.kc);
			return LEADER_EXIT_NOLOGIN;
		}
		lt.relay = rv[1];
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_msg(LOG_ERR, "socketpair: %m");
		keyholder_end(&lt.kc);
		return LEADER_EXIT_NOLOGIN;
	}
	child = fork();
	if (child < 0) {
		log_msg(LOG_ERR, "fork: %m");
		keyholder_end(&lt.kc);
		return LEADER_EXIT_NOLOGIN;
	}
	if (child == 0) {
		close(sv[0]);
		if (rv[0] >= 0)
			close(rv[0]);
		leader_preauth_child(in_fd, out_fd, sv[1], o, &lt);
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
		r = leader_proxy(sv[0], source_fd, sid, rip, real_rip, sizeof real_rip,
				 &penalty_ms);
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
		rip = real_rip;
	}
	r = leader_serve_tls(in_fd, out_fd, sv[0], child, o, rip, sid, penalty_ms, rv[0],
			     source_fd);
	keyholder_end(&lt.kc);
	return r;
}

/*
 * Standalone: tell the listener about a failed attempt (its per-source
 * penalty remembers which user names failed, so that a later success
 * clears only failures it proves were typos), or ask it whether this
 * user may start one more session (--max-per-user).  Returns the
 * verdict; a listener that is gone (it stopped after SIGTERM) or never
 * was (inetd) counts nothing, so the answer is GO.
 */
static unsigned leader_tell_listener(int *listener_fd, unsigned event, const char *user,
				     const char *sid)
{
	struct frame f;
	const char *why = NULL;
	unsigned verdict = FRAME_USER_GO;

	if (*listener_fd < 0)
		return FRAME_USER_GO;
	if (authproto_encode_user_note(&f, event, user) < 0)
		return FRAME_USER_GO;	/* names are checked before; cannot happen */
	if (frame_send(*listener_fd, &f) < 0) {
		why = "gone";
	} else if (event == FRAME_USER_LOGIN &&
		   (frame_recv(*listener_fd, &f, io_now_ms() + 30000, &why) < 0 ||
		    authproto_parse_user_verdict(&f, &verdict, &why) < 0)) {
		verdict = FRAME_USER_GO;
		if (strcmp(why, "end of file") != 0)
			log_msg(LOG_ERR, "session=%s listener: %s", sid, why);
	}
	if (why || event == FRAME_USER_LOGIN) {
		/* asked once; and a session (soon the user's) keeps no line
		 * to the root listener */
		close(*listener_fd);
		*listener_fd = -1;
	}
	return verdict;
}

int leader_serve(int in_fd, int out_fd, int ipc, pid_t child, const struct options *o,
		 const char *rip, const char *sid, long long penalty_ms)
{
	return leader_serve_tls(in_fd, out_fd, ipc, child, o, rip, sid, penalty_ms, -1, -1);
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

int leader_serve_tls(int in_fd, int out_fd, int ipc, pid_t child, const struct options *o,
		     const char *rip, const char *sid, long long penalty_ms, int relay,
		     int listener_fd)
{
	unsigned failures = 0;
	int penalty_waited = 0;
	int tls_on = 0;
	int tls_possible = relay >= 0;	/* a certificate for this connection */

	for (;;) {
		struct frame f;
		struct authproto_request ar;
		struct authhelper_req rq;
		struct authhelper_res res;
		const char *why = NULL;
		char user_clean[LOG_CLEAN_SIZE(64)], typed[FRAME_USER_MAX + 1];
		const struct passwd *pw;
		enum frame_auth reply;
		const char *method;
		long long fail_at;
		/* the child enforces the client's idle timeout; allow it that
		 * plus a margin before calling it hung */
		long long deadline = io_now_ms() + (long long)o->timeout * 1000 + 5000;

		if (frame_recv(ipc, &f, deadline, &why) < 0) {
			int eof = strcmp(why, "end of file") == 0;

			if (!eof)
				log_msg(LOG_WARNING, "session=%s rip=%s pre-auth child: %s",
					sid, rip, why);
			close(ipc);
			leader_reap_child(child, eof ? 2000 : 0);
			return failures ? LEADER_EXIT_AUTHFAIL : LEADER_EXIT_NOLOGIN;
		}
		if (f.type == FRAME_TLS_ACTIVE) {
			/* Once, empty, and only where we set TLS up. */
			if (relay < 0 || tls_on || f.len != 0) {
				log_msg(LOG_WARNING, "session=%s rip=%s pre-auth child sent an unexpected TLS frame",
					sid, rip);
				close(ipc);
				leader_reap_child(child, 0);
				return LEADER_EXIT_AUTHFAIL;
			}
			tls_on = 1;
			continue;
		}
		if (authproto_parse_request(&f, &ar, &why) < 0) {
			log_msg(LOG_WARNING, "session=%s rip=%s pre-auth child sent a bad request: %s",
				sid, rip, why);
			close(ipc);
			leader_reap_child(child, 0);
			return LEADER_EXIT_AUTHFAIL;
		}
		log_clean(user_clean, sizeof user_clean, ar.user, ar.user_len);
		memcpy(typed, ar.user, ar.user_len + 1);
		method = ar.method == FRAME_METHOD_PLAIN ? "PLAIN" : "USER";
		/*
		 * --require-tls is the pre-auth child's rule too, but that
		 * child may be the attacker's: a password sent in clear is
		 * refused here as well, and the child that forwarded it is
		 * treated as hostile.
		 */
		if (o->require_tls && !tls_on) {
			authproto_request_wipe(&ar);
			log_msg(LOG_WARNING, "session=%s rip=%s pre-auth child forwarded a login "
				"without TLS under --require-tls", sid, rip);
			close(ipc);
			leader_reap_child(child, 0);
			return LEADER_EXIT_AUTHFAIL;
		}
		if (!penalty_waited && penalty_ms > 0) {
			log_msg(LOG_INFO, "session=%s rip=%s penalty=%lld ms before the first authentication",
				sid, rip, penalty_ms);
			io_sleep_ms(penalty_ms);
			penalty_waited = 1;
		}
		/* every failure of this attempt is answered at one moment */
		fail_at = io_now_ms() + (long long)o->fail_delay;
		memset(&rq, 0, sizeof rq);
		rq.user = ar.user;
		rq.secret = ar.secret;
		rq.backend = o->auth == OPT_AUTH_PAM ? AUTHHELPER_PAM : AUTHHELPER_SHADOW;
		rq.rhost = rip;
		rq.service = o->pam_service;
		rq.pam_confdir = o->pam_confdir;
		rq.shadow_file = o->shadow_file;
		rq.timeout_ms = (int)o->auth_timeout * 1000;
		authhelper_run(&rq, &res);
		authproto_request_wipe(&ar);

		pw = NULL;
		if (res.result == AUTH_RESULT_OK) {
			pw = leader_account(o, res.user, &why);
			if (!pw) {
				res.result = AUTH_RESULT_FAIL;
				res.reason = why;
			}
		}
		if (res.result == AUTH_RESULT_OK) {
			struct session_opts so;
			struct buf path;
			char final_clean[LOG_CLEAN_SIZE(64)];

			buf_init(&path, 4096);
			if (options_mailbox_path(o->mailbox, pw->pw_name, pw->pw_dir, &path) < 0) {
				log_msg(LOG_ERR, "session=%s rip=%s user=%s: mailbox template gives no safe path",
					sid, rip, user_clean);
				/* a failure like any other: at the one deadline */
				leader_fail_wait(fail_at, o, sid);
				leader_reply(ipc, FRAME_AUTH_TEMPFAIL);
				failures++;
				buf_free(&path);
				continue;
			}
			if (leader_tell_listener(&listener_fd, FRAME_USER_LOGIN, pw->pw_name, sid) !=
			    FRAME_USER_GO) {
				log_clean(final_clean, sizeof final_clean, pw->pw_name,
					  strlen(pw->pw_name));
				log_msg(LOG_NOTICE, "auth refused user=%s rip=%s method=%s tls=%s "
					"session=%s reason=\"max-per-user\"", final_clean, rip, method,
					tls_on ? "yes" : "no", sid);
				buf_free(&path);
				leader_reply(ipc, FRAME_AUTH_INUSE);
				close(ipc);
				if (relay >= 0)
					close(relay);
				leader_reap_child(child, 2000);
				return LEADER_EXIT_NOLOGIN;
			}
			if (leader_reply(ipc, FRAME_AUTH_OK) < 0) {
				buf_free(&path);
				close(ipc);
				leader_reap_child(child, 0);
				return LEADER_EXIT_NOLOGIN;
			}
			close(ipc);
			if (tls_on) {
				/* the child is the relay now: it lives as long as the session */
				leader_drop_client(in_fd, out_fd);
				in_fd = out_fd = relay;
			} else {
				if (relay >= 0)
					close(relay);
				leader_reap_child(child, LEADER_CHILD_EXIT_MS);
			}
			log_clean(final_clean, sizeof final_clean, pw->pw_name, strlen(pw->pw_name));
			log_msg(LOG_INFO, "auth ok user=%s rip=%s method=%s tls=%s session=%s",
				final_clean, rip, method, tls_on ? "yes" : "no", sid);

			/* from here on, this process is the user's */
			sandbox_null_stdio(in_fd, out_fd, log_to_stderr());
			sandbox_become_user(pw);
			memset(&so, 0, sizeof so);
			so.timeout = (int)o->timeout;
			so.user = pw->pw_name;
			so.mailbox = buf_cstr(&path);
			mbox_opts_default(&so.mbox);
			so.mbox.owner = pw->pw_uid;
			so.mbox.max_messages = o->max_messages;
			so.mbox.max_size = o->max_mailbox_size;
			so.mbox.lock_methods = o->lock_methods;
			so.mbox.lock_timeout = (int)o->lock_timeout;
			so.mbox.format = o->mailbox_format;
			so.mbox.uidl = o->uidl;
			so.session_id = sid;
			so.rip = rip;
			so.expire = o->expire;
			so.login_delay = (int)o->login_delay;
			/* RFC 2449 section 5: what AUTHORIZATION offered, TRANSACTION lists */
			so.sasl_plain = tls_on || (o->allow_plaintext_auth && !o->require_tls);
			so.stls = tls_possible && !tls_on;
			so.capa_version = o->capa_version;
			session_run(in_fd, out_fd, &so);
			buf_free(&path);
			if (tls_on) {
				int status;

				/*
				 * EOF on the socketpair ends the relay once it has
				 * passed our last reply on; it bounds its own life by
				 * the idle timeout, so this wait ends.  (As the user
				 * we could not kill it: it runs as the pre-auth user.)
				 */
				close(relay);
				while (waitpid(child, &status, 0) < 0 && errno == EINTR)
					;
			}
			return LEADER_EXIT_OK;
		}

		failures++;
		/*
		 * A refused account (expired, must change its password, root,
		 * below --min-uid) gets the wrong password's answer: the child
		 * relaying it may be the attacker's, so not even it learns that
		 * the password was right.  Only the log, which clients cannot
		 * read, keeps the reason.
		 */
		reply = res.result == AUTH_RESULT_TEMPFAIL ? FRAME_AUTH_TEMPFAIL : FRAME_AUTH_FAIL;
		log_msg(LOG_NOTICE, "auth failure user=%s rip=%s method=%s tls=%s session=%s reason=\"%s\"",
			user_clean, rip, method, tls_on ? "yes" : "no", sid,
			res.reason ? res.reason : "authentication failure");
		leader_tell_listener(&listener_fd, FRAME_USER_FAILED, typed, sid);
		leader_fail_wait(fail_at, o, sid);
		if (failures >= o->max_failures)
			reply = FRAME_AUTH_CLOSE;
		if (leader_reply(ipc, reply) < 0 || reply == FRAME_AUTH_CLOSE) {
			close(ipc);
			leader_reap_child(child, 2000);
			return LEADER_EXIT_AUTHFAIL;
		}
	}
}
