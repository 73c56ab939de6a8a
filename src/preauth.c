/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the pre-auth child.
 * The pre-auth child: AUTHORIZATION state with an unauthenticated client.
 *
 * Runs as the unprivileged pre-auth user, chrooted into an empty
 * directory, under seccomp: it may read, write, poll, recv, read the clock,
 * allocate, send on its connected syslog socket and exit, and make the few
 * other calls of sandbox.c's list (doc/DESIGN.md lists them).  After its
 * set-up (/dev/null and the chroot, as root) it never opens a file, and
 * it never decides whether a login is good:
 * it only forwards USER/PASS to the leader in a length-prefixed frame and
 * relays the verdict, and at the end says how AUTHORIZATION ended
 * (FRAME_PREAUTH_END) for the leader's one end-of-connection line.
 * AUTHORIZATION writes no log line; the child's set-up (preauth_child at
 * the end of this file: a failed TLS setup, fatal()) may, on the syslog
 * socket it inherited.  If it is subverted,
 * the attacker holds a socket to himself, the syslog socket and a pipe
 * that accepts only well-formed frames; with TLS, also the certificate
 * chain and, until its handshake ends, a channel on which the key holder
 * signs once, whatever digest it is sent: a signing oracle for one
 * handshake, never the private key.
 *
 * It never reads past the line it is working on (pop3_reader_fill_line):
 * what the client pipelined after a successful PASS is read by the session
 * process from the kernel's socket buffer, so no byte crosses from this
 * process into the session (the CVE-2011-0411 class), and PIPELINING of
 * "USER/PASS/STAT" in one packet still works.
 *
 * STLS (RFC 2595): the STLS line is the last byte read in clear.  What
 * the client sent after it is still in the kernel and becomes the input
 * of the TLS handshake, which it breaks: an injected "STLS\r\nUSER x\r\n"
 * ends the connection and is never executed (CVE-2011-0411, CVE-2021-33515).
 * Under TLS the same rule holds one layer up: lines are peeked from the
 * decrypted stream (SSL_peek) and taken one at a time, so after a login the
 * rest stays in OpenSSL's buffer for the relay to pass on, in order, as
 * the kernel would for a plain connection.
 *
 * SASL PLAIN (RFC 5034, RFC 4616) decodes here (sasl.c) and goes to the
 * leader as the same AUTH_REQUEST frame as USER/PASS.
 *
 * The PROXY protocol header (--proxy-protocol) is parsed here too, first
 * of all, by the bounded parser in src/lib/proxy.c: this is the process
 * that may be subverted by what it reads.  Only the source address goes
 * up, in a fixed frame; the leader and the listener decide.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authproto.h"
#include "connproto.h"
#include "buf.h"
#include "frame.h"
#include "pop3.h"
#include "preauth.h"
#include "proxy.h"
#include "sasl.h"
#include "sysio.h"
#include "tls.h"


struct preauth {
	const struct preauth_opts *o;
	int in_fd, out_fd;
	int ipc_fd;
	struct pop3_out out;
	struct pop3_reader *rd;
	const struct pop3_loop *loop;	/* for a SASL continuation line */
	struct pop3_io io;	/* TLS under the reader and the output */
	int tls_on;
	struct buf user;	/* from USER, until the next PASS */
	/* every failed attempt, the SASL exchanges refused here that never
	 * reach the leader included; the leader keeps its own count of the
	 * ones it judged, since this process may be the attacker's */
	int failures;
	unsigned end;		/* enum frame_end, for the leader's last log line */
	char end_detail[FRAME_DETAIL_MAX + 1];
};

/* RFC 2595 section 2.3: clear-text logins can be refused until TLS is on. */
static int preauth_cleartext_ok(const struct preauth *pa)
{
	return !pa->o->require_tls || pa->tls_on;
}

/* RFC 5034 section 6 / RFC 4616 section 5: PLAIN only under TLS, unless
 * the administrator says otherwise (and never with --require-tls). */
static int preauth_sasl_ok(const struct preauth *pa)
{
	return pa->tls_on || (pa->o->allow_plaintext_auth && !pa->o->require_tls);
}

static ssize_t preauth_tls_peek(void *ctx, void *p, size_t n, long long deadline_ms)
{
	return tls_peek(ctx, p, n, deadline_ms);
}

static int preauth_tls_take(void *ctx, void *p, size_t n)
{
	return tls_read_full(ctx, p, n);
}

static int preauth_tls_write(void *ctx, const void *p, size_t n, int timeout_ms)
{
	return tls_write(ctx, p, n, timeout_ms);
}

/* The loop's reader: never past the current line (see the top). */
static ssize_t preauth_fill(void *ctx, long long deadline_ms)
{
	struct preauth *pa = ctx;

	if (pa->tls_on)
		return pop3_reader_fill_line_io(pa->rd, &pa->io, deadline_ms);
	return pop3_reader_fill_line(pa->rd, pa->in_fd, deadline_ms);
}

/* Handshake, then tell the leader (for its log line and the relay). */
static int preauth_start_tls(struct preauth *pa)
{
	struct frame f;
	long long deadline = io_now_ms() + (long long)pa->o->timeout * 1000;

	if (tls_accept(pa->o->tls, pa->in_fd, pa->out_fd, deadline) < 0) {
		pa->end = FRAME_END_TLS;
		tls_summary(pa->o->tls, pa->end_detail, sizeof pa->end_detail);
		return -1;
	}
	pa->tls_on = 1;
	pa->io.peek = preauth_tls_peek;
	pa->io.take = preauth_tls_take;
	pa->io.write = preauth_tls_write;
	pa->io.ctx = pa->o->tls;
	pa->out.io = &pa->io;
	/* the version and cipher, for the leader's login line */
	tls_summary(pa->o->tls, pa->end_detail, sizeof pa->end_detail);
	if (connproto_encode_tls_active(&f, pa->end_detail) < 0)
		return -1;
	pa->end_detail[0] = '\0';
	return frame_send(pa->ipc_fd, &f);
}

/*
 * The balancer's header, before any other byte (and before TLS on a
 * POP3S port).  0 to greet the client; -1 to close: a bad, slow or
 * truncated header (the leader logs why, from the code we send), or the
 * listener refusing the real source.
 */
static int preauth_proxy(struct preauth *pa)
{
	struct proxy_hdr h;
	struct connproto_source src;
	enum proxy_error e;
	struct frame f;
	const char *why = NULL;
	unsigned verdict;
	long long penalty;

	memset(&src, 0, sizeof src);
	if (proxy_read(pa->in_fd, io_now_ms() + PROXY_TIMEOUT_MS, &h, &e) < 0) {
		src.family = FRAME_PROXY_FAILED;
		src.error = (unsigned char)e;
	} else if (h.family == AF_INET) {
		src.family = 4;
		memcpy(src.addr, h.src, 4);
	} else if (h.family == AF_INET6) {
		src.family = 6;
		memcpy(src.addr, h.src, 16);
	}
	pa->end = FRAME_END_PROTOCOL;
	if (connproto_encode_source(&f, &src) < 0 || frame_send(pa->ipc_fd, &f) < 0 ||
	    src.family == FRAME_PROXY_FAILED)
		return -1;
	pa->end = 0;
	/* The leader bounds our life; it answers once the listener has. */
	if (frame_recv(pa->ipc_fd, &f, -1, &why) < 0 ||
	    connproto_parse_verdict(&f, &verdict, &penalty, &why) < 0)
		return -1;
	if (verdict != FRAME_PROXY_GO) {
		/* the listener's words for every limit it applies; on a POP3S
		 * port a plaintext line would be garbage to a TLS client, so
		 * there the close alone says it */
		if (!pa->o->implicit_tls) {
			pop3_reply(&pa->out, "-ERR [SYS/TEMP] Too many connections, try again later.");
			pop3_out_flush(&pa->out);
		}
		pa->end = FRAME_END_REFUSED;
		return -1;
	}
	return 0;
}

/* A failed login (or SASL exchange): an -ERR that counts. */
static enum pop3_next preauth_failed(struct preauth *pa, const char *text)
{
	pop3_reply(&pa->out, "-ERR [AUTH] %s", text);
	pa->failures++;
	if (pa->failures < pa->o->max_failures)
		return POP3_NEXT_GO_ON;
	pa->end = FRAME_END_FAILURES;
	return POP3_NEXT_END;
}

/*
 * Hand USER/PASS to the leader and relay its verdict.  POP3_NEXT_HANDOFF
 * when the login succeeded (nothing written: the session answers this
 * PASS), POP3_NEXT_END to end the connection, POP3_NEXT_GO_ON to stay in
 * AUTHORIZATION.
 */
static enum pop3_next preauth_login(struct preauth *pa, unsigned method,
				    const unsigned char *user, size_t ulen,
				    const unsigned char *secret, size_t n)
{
	struct frame f;
	const char *why = NULL;
	unsigned verdict;
	int bad;

	/* Our earlier replies must reach the client before the session's. */
	if (pop3_out_flush(&pa->out) < 0)
		return POP3_NEXT_END;
	/*
	 * The same encoder the leader's decoder mirrors: a name or secret it
	 * would refuse (a '/' or ':' in the name, a NUL in the password) is
	 * an ordinary failed login here, not a frame the leader must treat
	 * as hostile and hang up on.  No password can be tried this way, so
	 * skipping the leader's failure delay leaks nothing.
	 */
	bad = n > FRAME_SECRET_MAX ||
	      authproto_encode_request(&f, method, user, ulen, secret, n) < 0;
	buf_reset(&pa->user);
	if (bad) {
		frame_wipe(&f);
		return preauth_failed(pa, "Authentication failed.");
	}
	if (frame_send(pa->ipc_fd, &f) < 0)
		goto internal;
	/* The leader owns our lifetime (and the failure delay): no deadline. */
	if (frame_recv(pa->ipc_fd, &f, -1, &why) < 0 ||
	    authproto_parse_reply(&f, &verdict, &why) < 0)
		goto internal;
	frame_wipe(&f);
	switch (verdict) {
	case FRAME_AUTH_OK:
		return POP3_NEXT_HANDOFF;
	case FRAME_AUTH_FAIL:
	case FRAME_AUTH_EXPIRED:
		/*
		 * One text for an unknown user, a wrong password and a refused
		 * account: a client must not learn which names exist (RFC 1939
		 * section 13); [AUTH] because we announce AUTH-RESP-CODE (RFC
		 * 3206 section 6).
		 */
		return preauth_failed(pa, "Authentication failed.");
	case FRAME_AUTH_TEMPFAIL:
		pop3_reply(&pa->out, "-ERR [SYS/TEMP] Authentication service unavailable, try again later.");
		return POP3_NEXT_GO_ON;
	case FRAME_AUTH_CLOSE:
		pop3_reply(&pa->out, "-ERR [AUTH] Too many failures.");
		pa->end = FRAME_END_FAILURES;
		return POP3_NEXT_END;
	case FRAME_AUTH_INUSE:
		/* RFC 2449 section 8.1.2: the maildrop is in use; not a failure */
		pop3_reply(&pa->out, "-ERR [IN-USE] Too many sessions of this user, try again later.");
		return POP3_NEXT_END;
	default:
		break;
	}
internal:
	frame_wipe(&f);
	pop3_reply(&pa->out, "-ERR [SYS/TEMP] Internal error.");
	return POP3_NEXT_END;
}


/*
 * AUTH (RFC 5034 section 4) with PLAIN (RFC 4616).  resp is the initial
 * response or NULL (then "+ " asks for it).  Every decoded byte is wiped
 * before return.
 */
static enum pop3_next preauth_auth_plain(struct preauth *pa, const unsigned char *resp,
					 size_t rlen)
{
	unsigned char dec[SASL_DECODED_MAX];
	struct sasl_plain pl;
	size_t dlen = 0;
	enum pop3_next r;
	int eof;

	if (!resp) {
		enum pop3_line st;

		/* An empty challenge; the response may be a long line. */
		pop3_reply(&pa->out, "+ ");
		pop3_reader_set_line_max(pa->rd, SASL_LINE_MAX + 2);
		st = pop3_loop_next_line(pa->loop, &resp, &rlen, &eof);
		pop3_reader_set_line_max(pa->rd, POP3_LINE_MAX);
		if (eof)
			return POP3_NEXT_END;
		if (st == POP3_LINE_LONG)
			return preauth_failed(pa, "Response too long.");
	}
	if (rlen == 1 && resp[0] == '*') {
		/* RFC 5034: the client cancels; not a failed attempt */
		pop3_reply(&pa->out, "-ERR [AUTH] Authentication cancelled.");
		return POP3_NEXT_GO_ON;
	}
	if (memchr(resp, '\0', rlen) || memchr(resp, '\r', rlen))
		return preauth_failed(pa, "Invalid base64.");
	if (!(rlen == 1 && resp[0] == '=') &&
	    sasl_b64_decode(resp, rlen, dec, sizeof dec, &dlen) < 0) {
		explicit_bzero(dec, sizeof dec);
		return preauth_failed(pa, "Invalid base64.");
	}
	switch (sasl_plain_split(dec, dlen, FRAME_SECRET_MAX, &pl)) {
	case SASL_OK:
		break;
	case SASL_PROXY:
		explicit_bzero(dec, sizeof dec);
		return preauth_failed(pa, "Authorization identity must be empty or the user's own.");
	default:
		explicit_bzero(dec, sizeof dec);
		return preauth_failed(pa, "Malformed PLAIN response.");
	}
	/* A name the leader would refuse is a failure here, not a hang-up. */
	if (!authproto_user_valid(pl.authcid, pl.authcid_len)) {
		explicit_bzero(dec, sizeof dec);
		return preauth_failed(pa, "Authentication failed.");
	}
	r = preauth_login(pa, FRAME_METHOD_PLAIN, pl.authcid, pl.authcid_len,
			  pl.passwd, pl.passwd_len);
	explicit_bzero(dec, sizeof dec);
	return r;
}

/* A clear-text login refused: USER/PASS under --require-tls before STLS,
 * AUTH without TLS unless --allow-plaintext-auth. */
static const char preauth_no_cleartext[] =
	"-ERR [AUTH] Plaintext authentication disallowed without TLS.";

/*
 * AUTHORIZATION's commands (RFC 1939 section 7, RFC 2449, RFC 2595, RFC
 * 5034).  Each takes the pre-auth state as the loop's context.
 */
static enum pop3_next preauth_cmd_auth(void *ctx, const struct pop3_cmd *c)
{
	struct preauth *pa = ctx;

	if (!preauth_sasl_ok(pa)) {
		if (pa->o->require_tls)
			pop3_reply(&pa->out, "-ERR [AUTH] TLS required: use STLS first.");
		else
			pop3_reply(&pa->out, "%s", preauth_no_cleartext);
		return POP3_NEXT_GO_ON;
	}
	if (c->nargs == 0) {
		/* RFC 1734-style discovery (Outlook): the mechanisms, one a line */
		pop3_reply(&pa->out, "+OK");
		pop3_reply(&pa->out, "PLAIN");
		pop3_reply(&pa->out, ".");
		return POP3_NEXT_GO_ON;
	}
	if (c->arglen != 5 || strncasecmp((const char *)c->arg, "PLAIN", 5) != 0) {
		pop3_reply(&pa->out, "-ERR Unsupported authentication mechanism.");
		return POP3_NEXT_GO_ON;
	}
	return preauth_auth_plain(pa, c->nargs == 2 ? c->arg2 : NULL, c->arg2len);
}

static enum pop3_next preauth_cmd_stls(void *ctx, const struct pop3_cmd *c)
{
	struct preauth *pa = ctx;

	(void)c;
	if (!pa->o->tls) {
		pop3_reply(&pa->out, "-ERR TLS is not available.");
		return POP3_NEXT_GO_ON;
	}
	if (pa->tls_on) {
		/* RFC 2595 section 4 allows this -ERR */
		pop3_reply(&pa->out, "-ERR Already under TLS.");
		return POP3_NEXT_GO_ON;
	}
	pop3_reply(&pa->out, "+OK Begin TLS negotiation");
	if (pop3_out_flush(&pa->out) < 0)
		return POP3_NEXT_END;
	/*
	 * Whatever was said in clear is forgotten (RFC 2595 section 4: the
	 * client must start again).  The reader holds nothing past the STLS
	 * line; should it ever, those bytes are dropped, never executed.
	 */
	buf_reset(&pa->user);
	(void)pop3_reader_discard(pa->rd);
	if (preauth_start_tls(pa) < 0)
		return POP3_NEXT_END;
	return POP3_NEXT_GO_ON;
}

static enum pop3_next preauth_cmd_quit(void *ctx, const struct pop3_cmd *c)
{
	struct preauth *pa = ctx;

	(void)c;
	pop3_reply(&pa->out, "+OK Bye.");
	pa->end = FRAME_END_QUIT;
	return POP3_NEXT_END;
}

static enum pop3_next preauth_cmd_capa(void *ctx, const struct pop3_cmd *c)
{
	struct preauth *pa = ctx;
	struct pop3_capa capa;

	(void)c;
	memset(&capa, 0, sizeof capa);
	capa.user = preauth_cleartext_ok(pa);
	capa.stls = pa->o->tls && !pa->tls_on;
	capa.sasl_plain = preauth_sasl_ok(pa);
	capa.expire = pa->o->expire;
	capa.login_delay = pa->o->login_delay;
	pop3_capa(&pa->out, &capa);
	return POP3_NEXT_GO_ON;
}

/* The guarded commands send a password in clear (USER's name with it). */
static int preauth_guard(void *ctx, const char *name, enum pop3_next *next)
{
	struct preauth *pa = ctx;

	(void)name;
	*next = POP3_NEXT_GO_ON;
	if (preauth_cleartext_ok(pa))
		return 0;
	pop3_reply(&pa->out, "%s", preauth_no_cleartext);
	return -1;
}

static enum pop3_next preauth_cmd_user(void *ctx, const struct pop3_cmd *c)
{
	struct preauth *pa = ctx;

	buf_reset(&pa->user);
	if (buf_append(&pa->user, c->arg, c->arglen) < 0) {
		pop3_reply(&pa->out, "-ERR Syntax error");
		return POP3_NEXT_GO_ON;
	}
	/* Always +OK: an -ERR here would tell which names exist. */
	pop3_reply(&pa->out, "+OK");
	return POP3_NEXT_GO_ON;
}

static enum pop3_next preauth_cmd_pass(void *ctx, const struct pop3_cmd *c)
{
	struct preauth *pa = ctx;

	if (pa->user.len == 0) {
		pop3_reply(&pa->out, "-ERR USER first.");
		return POP3_NEXT_GO_ON;
	}
	return preauth_login(pa, FRAME_METHOD_USERPASS, pa->user.data, pa->user.len,
			     c->arg, c->arglen);
}

/*
 * What AUTHORIZATION accepts; every other verb (the TRANSACTION commands)
 * gets "Not allowed before login".  APOP is not even a verb (pop3.h).
 */
static const struct pop3_command preauth_commands[] = {
	{ POP3_QUIT, "QUIT", preauth_cmd_quit, 0 },
	{ POP3_CAPA, "CAPA", preauth_cmd_capa, 0 },
	{ POP3_USER, "USER", preauth_cmd_user, POP3_CMD_GUARDED },
	{ POP3_PASS, "PASS", preauth_cmd_pass, POP3_CMD_GUARDED },
	{ POP3_STLS, "STLS", preauth_cmd_stls, 0 },
	{ POP3_AUTH, "AUTH", preauth_cmd_auth, 0 },
	{ POP3_NONE, NULL, NULL, 0 }
};

/*
 * Why AUTHORIZATION ended, in the leader's words where the loop knows
 * better than the handlers.  0 after a login (the session goes on), 1
 * otherwise.
 */
static int preauth_loop_end(struct preauth *pa, enum pop3_loop_end why)
{
	switch (why) {
	case POP3_LOOP_HANDOFF:
		return 0;
	case POP3_LOOP_TIMEOUT:
		/* RFC 1939 section 3's silent autologout */
		pa->end = FRAME_END_TIMEOUT;
		break;
	case POP3_LOOP_TOO_MANY:
		pop3_reply(&pa->out, "-ERR Too many commands.");
		pa->end = FRAME_END_PROTOCOL;
		snprintf(pa->end_detail, sizeof pa->end_detail, "too many commands");
		break;
	case POP3_LOOP_END:
	case POP3_LOOP_EOF:
	case POP3_LOOP_LOST:
	case POP3_LOOP_READ_ERROR:
	case POP3_LOOP_WRITE_ERROR:
		/* the handler said why, or the client went: FRAME_END_CLOSED */
		break;
	}
	return 1;
}

/* Tell the leader how this connection ended, for its last log line
 * (best effort: the leader may be gone already). */
static void preauth_end(struct preauth *pa)
{
	struct frame f;

	if (connproto_encode_end(&f, pa->end ? pa->end : FRAME_END_CLOSED, pa->end_detail) == 0)
		(void)frame_send(pa->ipc_fd, &f);
}

int preauth_run(int in_fd, int out_fd, int ipc_fd, const struct preauth_opts *o)
{
	struct preauth pa;
	struct pop3_reader rd;
	struct pop3_loop loop = {
		.rd = &rd, .out = &pa.out, .max_commands = PREAUTH_MAX_COMMANDS,
		.table = preauth_commands, .refused = "-ERR Not allowed before login.",
		.fill = preauth_fill, .guard = preauth_guard, .ctx = &pa,
		.timeout = o->timeout,
	};
	int r;

	/*
	 * Non-blocking writes, so a client that advertises a tiny window
	 * cannot hold a write() past the idle timeout (io_write_timeout
	 * polls first).  If this fails we carry on: the leader still bounds
	 * our life.
	 */
	(void)io_set_nonblock(out_fd, 1);
	memset(&pa, 0, sizeof pa);
	pa.o = o;
	pa.in_fd = in_fd;
	pa.out_fd = out_fd;
	pa.ipc_fd = ipc_fd;
	pa.failures = 0;
	pa.rd = &rd;
	pa.loop = &loop;
	buf_init(&pa.user, FRAME_USER_MAX);
	pop3_out_init(&pa.out, out_fd, o->timeout);
	/* Secret: the reader holds PASS lines and SASL responses (up to
	 * 8 KiB, RFC 5034); consumed bytes are wiped. */
	pop3_reader_init(&rd, SASL_LINE_MAX + 2, 1);

	/* RFC 8314: on a POP3S port TLS comes first, the greeting inside it;
	 * a balancer's PROXY header comes before both. */
	if ((o->proxy && preauth_proxy(&pa) < 0) ||
	    (o->implicit_tls && (!o->tls || preauth_start_tls(&pa) < 0))) {
		preauth_end(&pa);
		pop3_reader_free(&rd);
		pop3_out_free(&pa.out);
		buf_free(&pa.user);
		return 1;
	}
	/* No APOP, so no timestamp in the banner, and no version either. */
	pop3_reply(&pa.out, "+OK POP3 server ready.");
	r = preauth_loop_end(&pa, pop3_loop_run(&loop));
	if (r != 0) {
		pop3_out_flush(&pa.out);
		preauth_end(&pa);
	}
	pop3_reader_free(&rd);
	pop3_out_free(&pa.out);
	buf_free(&pa.user);
	return r == 0 ? 0 : 1;
}

/*
 * The pre-auth child's entry, right after the leader's fork (here, so
 * that this file holds all of the child): it closes
 * what it must not keep, sets up TLS from the key holder's channel,
 * enters the sandbox, runs AUTHORIZATION and, after a login under TLS,
 * lives on as the session's relay.
 */
#include <stdlib.h>
#include <unistd.h>

#include "keyholder.h"
#include "log.h"
#include "sandbox.h"

void preauth_child(int in_fd, int out_fd, int ipc, const struct options *o,
		   struct preauth_tls *lt)
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
