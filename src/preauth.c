/*
 * The pre-auth child: AUTHORIZATION state with an unauthenticated client.
 *
 * Runs as the unprivileged pre-auth user, chrooted into an empty
 * directory, under seccomp: it may read, write, poll, recv, read the clock,
 * allocate and exit, and nothing else.  It never opens a file, never logs
 * (no syslog socket in the sandbox), never decides whether a login is
 * good: it only forwards USER/PASS to the leader in a length-prefixed
 * frame and relays the verdict.  If it is subverted, the attacker holds a
 * socket to himself and a pipe that accepts only well-formed frames.
 *
 * It never reads past the line it is working on (pop3_reader_fill_line):
 * what the client pipelined after a successful PASS is read by the session
 * process from the kernel's socket buffer, so no byte crosses from this
 * process into the session (the CVE-2011-0411 class), and PIPELINING of
 * "USER/PASS/STAT" in one packet still works.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "pop3.h"
#include "preauth.h"
#include "sysio.h"

#define PREAUTH_DEFAULT_FAILURES 3

struct preauth {
	const struct preauth_opts *o;
	int ipc_fd;
	struct pop3_out out;
	struct buf user;	/* from USER, until the next PASS */
	int failures;
};

/* RFC 2595 section 2.3: clear-text logins can be refused until TLS is on. */
static int preauth_cleartext_ok(const struct preauth *pa)
{
	return !pa->o->require_tls;
}

/*
 * Hand USER/PASS to the leader and relay its verdict.  Returns 0 when the
 * login succeeded (nothing written: the session answers this PASS), 1 to
 * end the session, 2 to stay in AUTHORIZATION.
 */
static int preauth_login(struct preauth *pa, const unsigned char *secret, size_t n)
{
	struct frame f;
	const unsigned char *p;
	size_t plen;
	const char *why = NULL;
	unsigned char verdict;
	int bad;

	/* Our earlier replies must reach the client before the session's. */
	if (pop3_out_flush(&pa->out) < 0)
		return 1;
	frame_init(&f, FRAME_AUTH_REQUEST);
	bad = frame_put_byte(&f, FRAME_METHOD_USERPASS) < 0 ||
	      frame_put(&f, pa->user.data, pa->user.len) < 0 ||
	      n > FRAME_SECRET_MAX || frame_put(&f, secret, n) < 0;
	buf_reset(&pa->user);
	if (bad) {
		frame_wipe(&f);
		pop3_reply(&pa->out, "-ERR [AUTH] Authentication failed.");
		pa->failures++;
		return pa->failures >= pa->o->max_failures ? 1 : 2;
	}
	if (frame_send(pa->ipc_fd, &f) < 0)
		goto internal;
	/* The leader owns our lifetime (and the failure delay): no deadline. */
	if (frame_recv(pa->ipc_fd, &f, -1, &why) < 0 ||
	    f.type != FRAME_AUTH_REPLY ||
	    frame_get(&f, &p, &plen, 1) < 0 || plen != 1 || frame_end(&f) < 0)
		goto internal;
	verdict = p[0];
	frame_wipe(&f);
	switch (verdict) {
	case FRAME_AUTH_OK:
		return 0;
	case FRAME_AUTH_FAIL:
	case FRAME_AUTH_EXPIRED:
		/*
		 * One text for an unknown user, a wrong password and a refused
		 * account: a client must not learn which names exist (RFC 1939
		 * section 13); [AUTH] because we announce AUTH-RESP-CODE (RFC
		 * 3206 section 6).
		 */
		pop3_reply(&pa->out, "-ERR [AUTH] Authentication failed.");
		pa->failures++;
		return pa->failures >= pa->o->max_failures ? 1 : 2;
	case FRAME_AUTH_TEMPFAIL:
		pop3_reply(&pa->out, "-ERR [SYS/TEMP] Authentication service unavailable, try again later.");
		return 2;
	case FRAME_AUTH_CLOSE:
		pop3_reply(&pa->out, "-ERR [AUTH] Too many failures.");
		return 1;
	default:
		break;
	}
internal:
	frame_wipe(&f);
	pop3_reply(&pa->out, "-ERR [SYS/TEMP] Internal error.");
	return 1;
}

/* One command; 1 ends the session, 0 on a successful login, 2 goes on. */
static int preauth_command(struct preauth *pa, const unsigned char *line, size_t n)
{
	struct pop3_cmd c;
	struct pop3_capa capa;
	const char *err;

	if (pop3_parse(line, n, &c, &err) < 0) {
		pop3_reply(&pa->out, "-ERR %s", err);
		return 2;
	}
	switch (c.verb) {
	case POP3_QUIT:
		pop3_reply(&pa->out, "+OK Bye.");
		return 1;
	case POP3_CAPA:
		memset(&capa, 0, sizeof capa);
		capa.user = preauth_cleartext_ok(pa);
		capa.expire = pa->o->expire;
		capa.login_delay = pa->o->login_delay;
		pop3_capa(&pa->out, &capa);
		return 2;
	case POP3_USER:
		if (!preauth_cleartext_ok(pa)) {
			pop3_reply(&pa->out, "-ERR [AUTH] Plaintext authentication disallowed without TLS.");
			return 2;
		}
		buf_reset(&pa->user);
		if (buf_append(&pa->user, c.arg, c.arglen) < 0) {
			pop3_reply(&pa->out, "-ERR Syntax error");
			return 2;
		}
		/* Always +OK: an -ERR here would tell which names exist. */
		pop3_reply(&pa->out, "+OK");
		return 2;
	case POP3_PASS:
		if (!preauth_cleartext_ok(pa)) {
			pop3_reply(&pa->out, "-ERR [AUTH] Plaintext authentication disallowed without TLS.");
			return 2;
		}
		if (pa->user.len == 0) {
			pop3_reply(&pa->out, "-ERR USER first.");
			return 2;
		}
		return preauth_login(pa, c.arg, c.arglen);
	/*
	 * STLS (RFC 2595) and AUTH PLAIN (RFC 5034) belong here.  STLS is
	 * safe against the CVE-2011-0411 injection by construction: we never
	 * read past the STLS line, so nothing sent in clear after it can be
	 * taken for a command under TLS.
	 */
	default:
		pop3_reply(&pa->out, "-ERR Not allowed before login.");
		return 2;
	}
}

int preauth_run(int in_fd, int out_fd, int ipc_fd, const struct preauth_opts *o)
{
	struct preauth_opts opts = *o;
	struct preauth pa;
	struct pop3_reader rd;
	const unsigned char *line;
	size_t n;
	int commands = 0, r = 1;
	long long deadline;

	if (opts.max_failures <= 0)
		opts.max_failures = PREAUTH_DEFAULT_FAILURES;
	if (opts.timeout <= 0)
		opts.timeout = 600;
	/*
	 * Non-blocking writes, so a client that advertises a tiny window
	 * cannot hold a write() past the idle timeout (io_write_timeout
	 * polls first).  If this fails we carry on: the leader still bounds
	 * our life.
	 */
	(void)io_set_nonblock(out_fd, 1);
	pa.o = &opts;
	pa.ipc_fd = ipc_fd;
	pa.failures = 0;
	buf_init(&pa.user, FRAME_USER_MAX);
	pop3_out_init(&pa.out, out_fd, opts.timeout);
	/* Secret: the reader holds PASS lines; consumed bytes are wiped. */
	pop3_reader_init(&rd, POP3_LINE_MAX, 1);

	/* No APOP, so no timestamp in the banner, and no version either. */
	pop3_reply(&pa.out, "+OK POP3 server ready.");
	/* The idle timer runs per command, so a slow drip can't reset it. */
	deadline = io_now_ms() + (long long)opts.timeout * 1000;
	for (;;) {
		enum pop3_line st = pop3_reader_line(&rd, &line, &n);
		ssize_t got;

		if (st == POP3_LINE_MORE) {
			/*
			 * Flush only when the client has nothing more queued, so a
			 * pipelined burst is answered in one write (RFC 2449 6.6).
			 */
			if (pa.out.buf.len > 0) {
				got = pop3_reader_fill_line(&rd, in_fd, POP3_NOWAIT);
				if (got > 0)
					continue;
				if (got == 0) {
					/* A half-closed client still gets its answers. */
					pop3_out_flush(&pa.out);
					break;
				}
				if (errno != ETIMEDOUT && errno != EAGAIN)
					break;
				if (pop3_out_flush(&pa.out) < 0)
					break;
			}
			got = pop3_reader_fill_line(&rd, in_fd, deadline);
			if (got <= 0)
				break;	/* EOF, error, or RFC 1939 section 3's silent autologout */
			continue;
		}
		if (++commands > PREAUTH_MAX_COMMANDS) {
			pop3_reply(&pa.out, "-ERR Too many commands.");
			break;
		}
		if (st == POP3_LINE_LONG)
			pop3_reply(&pa.out, "-ERR Line too long.");
		else {
			r = preauth_command(&pa, line, n);
			if (r != 2)
				break;
			r = 1;
		}
		deadline = io_now_ms() + (long long)opts.timeout * 1000;
	}
	if (r != 0)
		pop3_out_flush(&pa.out);
	pop3_reader_free(&rd);
	pop3_out_free(&pa.out);
	buf_free(&pa.user);
	return r == 0 ? 0 : 1;
}
