/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * preauth_run driven over real socketpairs: the child runs the pre-auth
 * state machine, the test plays both the client and the leader, checks
 * every reply and the frames it sends byte for byte.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "connproto.h"
#include "frame.h"
#include "preauth.h"
#include "sysio.h"
#include "tap.h"

#define GREETING "+OK POP3 server ready.\r\n"
#define AUTHFAIL "-ERR [AUTH] Authentication failed.\r\n"

struct h {
	pid_t pid;
	int client;		/* the test as client */
	int server;		/* the child's end, kept to look at what it left */
	int leader;		/* the test as leader */
	int server_out;		/* pipe mode: the child's output, read by the test */
};

static const struct preauth_opts default_opts = { .timeout = 30, .max_failures = 3 };

static void h_start_fds(struct h *h, const struct preauth_opts *o, int pipes)
{
	int sv[2], ip[2], out[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, ip) < 0)
		abort();
	if (pipes) {
		/* inetd with pipes: in_fd and out_fd differ and are no sockets */
		if (pipe(sv) < 0)
			abort();
		/* pipes == 2: output on a SEQPACKET socket, which keeps the
		 * boundaries of the child's writes for the test to count */
		if (pipes == 2 ? socketpair(AF_UNIX, SOCK_SEQPACKET, 0, out) < 0 : pipe(out) < 0)
			abort();
		/* sv: test writes sv[1], child reads sv[0]; out: child writes out[1] */
		h->pid = fork();
		if (h->pid < 0)
			abort();
		if (h->pid == 0) {
			close(sv[1]);
			close(out[0]);
			close(ip[0]);
			alarm(120);	/* hang guard: a stuck child must not stall make check */
			_exit(preauth_run(sv[0], out[1], ip[1], o));
		}
		close(out[1]);
		close(ip[1]);
		h->client = sv[1];
		h->server = sv[0];
		h->server_out = out[0];
		h->leader = ip[0];
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	h->pid = fork();
	if (h->pid < 0)
		abort();
	if (h->pid == 0) {
		close(sv[0]);
		close(ip[0]);
		alarm(120);	/* hang guard: a stuck child must not stall make check */
		_exit(preauth_run(sv[1], sv[1], ip[1], o));
	}
	close(ip[1]);
	h->client = sv[0];
	h->server = sv[1];
	h->server_out = sv[0];
	h->leader = ip[0];
}

static void h_start(struct h *h, const struct preauth_opts *o)
{
	h_start_fds(h, o, 0);
}

static void h_send(struct h *h, const void *p, size_t n)
{
	if (io_write_full(h->client, p, n) < 0)
		ok(0, "client write: %s", strerror(errno));
}

#define h_say(h, s) h_send(h, s, strlen(s))

/* Read exactly n bytes the child sent, waiting at most 10 s (hang guard). */
static size_t h_read(struct h *h, char *p, size_t n)
{
	size_t got = 0;
	long long dl = io_now_ms() + 10000;

	while (got < n) {
		ssize_t r = io_read_deadline(h->server_out, p + got, n - got, dl);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static int h_expect(struct h *h, const char *want, const char *name)
{
	size_t n = strlen(want);
	char *got = malloc(n + 1);
	size_t g = h_read(h, got, n);
	int pass = g == n && memcmp(got, want, n) == 0;

	got[g] = '\0';
	ok(pass, "%s", name);
	if (!pass) {
		printf("#   want: ");
		for (size_t i = 0; i < n; i++)
			printf(want[i] >= 0x20 ? "%c" : "\\x%02x", (unsigned char)want[i]);
		printf("\n#   got:  ");
		for (size_t i = 0; i < g; i++)
			printf(got[i] >= 0x20 ? "%c" : "\\x%02x", (unsigned char)got[i]);
		printf("\n");
	}
	free(got);
	return pass;
}

/* Bytes waiting on fd right now, without waiting. */
static size_t h_pending(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n) < 0)
		return (size_t)-1;
	return (size_t)n;
}

/* Nothing from the child on the leader's side but its end frame, with
 * this reason (enum frame_end): how a connection ended is always told. */
static int h_only_end(struct h *h, unsigned want)
{
	struct frame f;
	const char *why = NULL;
	unsigned reason;
	char detail[FRAME_DETAIL_MAX + 1];

	if (frame_recv(h->leader, &f, io_now_ms() + 5000, &why) < 0 ||
	    connproto_parse_end(&f, &reason, detail, sizeof detail, &why) < 0)
		return 0;
	return reason == want && h_pending(h->leader) == 0;
}

/* The child's exit status (-1 if it did not exit normally). */
static int h_wait(struct h *h)
{
	int status;

	if (waitpid(h->pid, &status, 0) != h->pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void h_close(struct h *h)
{
	close(h->client);
	close(h->server);
	if (h->server_out != h->client)
		close(h->server_out);
	close(h->leader);
}

/* The AUTH_REQUEST frame's bytes, built by hand from frame.h's layout. */
static size_t expected_frame(unsigned char *out, const char *user, size_t ulen,
			     const char *pass, size_t plen)
{
	uint32_t type = FRAME_AUTH_REQUEST, len = (uint32_t)(3 + 2 + ulen + 2 + plen);
	size_t o = 0;

	memcpy(out, &type, 4);
	memcpy(out + 4, &len, 4);
	o = 8;
	out[o++] = 0;
	out[o++] = 1;
	out[o++] = FRAME_METHOD_USERPASS;
	out[o++] = (unsigned char)(ulen >> 8);
	out[o++] = (unsigned char)ulen;
	memcpy(out + o, user, ulen);
	o += ulen;
	out[o++] = (unsigned char)(plen >> 8);
	out[o++] = (unsigned char)plen;
	memcpy(out + o, pass, plen);
	return o + plen;
}

static int h_expect_frame(struct h *h, const char *user, const char *pass, const char *name)
{
	unsigned char want[8 + FRAME_PAYLOAD_MAX], got[8 + FRAME_PAYLOAD_MAX];
	size_t n = expected_frame(want, user, strlen(user), pass, strlen(pass)), g = 0;
	long long dl = io_now_ms() + 10000;

	while (g < n) {
		ssize_t r = io_read_deadline(h->leader, got + g, n - g, dl);

		if (r <= 0)
			break;
		g += (size_t)r;
	}
	return ok(g == n && memcmp(got, want, n) == 0, "%s: AUTH_REQUEST frame byte-exact (%zu/%zu)",
		  name, g, n);
}

/* As h_expect_frame, for the PLAIN method (SASL). */
static int h_expect_plain_frame(struct h *h, const char *user, const char *pass, const char *name)
{
	unsigned char want[8 + FRAME_PAYLOAD_MAX], got[8 + FRAME_PAYLOAD_MAX];
	size_t n = expected_frame(want, user, strlen(user), pass, strlen(pass)), g = 0;
	long long dl = io_now_ms() + 10000;

	want[10] = FRAME_METHOD_PLAIN;
	while (g < n) {
		ssize_t r = io_read_deadline(h->leader, got + g, n - g, dl);

		if (r <= 0)
			break;
		g += (size_t)r;
	}
	return ok(g == n && memcmp(got, want, n) == 0, "%s: PLAIN AUTH_REQUEST frame byte-exact (%zu/%zu)",
		  name, g, n);
}

static void h_verdict(struct h *h, int v)
{
	struct frame f;

	frame_init(&f, FRAME_AUTH_REPLY);
	frame_put_byte(&f, (unsigned char)v);
	if (frame_send(h->leader, &f) < 0)
		ok(0, "leader write");
}

static void test_login_ok(void)
{
	struct h h;
	char c;

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "USER alice\r\n");
	h_expect(&h, "+OK\r\n", "USER answered +OK");
	h_say(&h, "PASS s3cret with spaces\r\n");
	h_expect_frame(&h, "alice", "s3cret with spaces", "login");
	h_verdict(&h, FRAME_AUTH_OK);
	ok(h_wait(&h) == 0, "OK verdict: preauth_run returns 0");
	ok(recv(h.client, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
	   "nothing written in answer to the successful PASS");
	h_close(&h);
}

static void test_pipelined_login(int pipes)
{
	const char *kind = pipes ? "pipes" : "socket";
	struct h h;
	char rest[16];
	ssize_t r;

	h_start_fds(&h, &default_opts, pipes);
	h_say(&h, "USER a\r\nPASS b\r\nSTAT\r\n");
	h_expect(&h, GREETING "+OK\r\n", pipes ? "pipes: greeting and USER's +OK" :
		 "socket: greeting and USER's +OK");
	h_expect_frame(&h, "a", "b", kind);
	h_verdict(&h, FRAME_AUTH_OK);
	ok(h_wait(&h) == 0, "%s: pipelined login returns 0", kind);
	ok(h_pending(h.server) == 6, "%s: STAT\\r\\n is still in the kernel (%zu)", kind,
	   h_pending(h.server));
	io_set_nonblock(h.server, 1);
	r = read(h.server, rest, sizeof rest);
	ok(r == 6 && memcmp(rest, "STAT\r\n", 6) == 0,
	   "%s: the session will read exactly STAT\\r\\n", kind);
	ok(h_pending(h.server_out) == 0, "%s: no reply beyond USER's", kind);
	h_close(&h);
}

static void test_failures(void)
{
	struct h h;

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "PASS nouser\r\n");
	h_expect(&h, "-ERR USER first.\r\n", "PASS before USER refused without a frame");
	ok(h_pending(h.leader) == 0, "no frame for PASS without USER");
	h_say(&h, "USER bob\r\nPASS wrong\r\n");
	h_expect(&h, "+OK\r\n", "USER bob +OK");
	h_expect_frame(&h, "bob", "wrong", "fail");
	h_verdict(&h, FRAME_AUTH_FAIL);
	h_expect(&h, AUTHFAIL, "FAIL: -ERR [AUTH] Authentication failed.");
	h_say(&h, "PASS again\r\n");
	h_expect(&h, "-ERR USER first.\r\n", "a failed PASS forgets the user (RFC 1939 7)");
	h_say(&h, "USER nobody-such\r\nPASS x\r\n");
	h_expect(&h, "+OK\r\n", "USER of an unknown name is +OK too");
	h_expect_frame(&h, "nobody-such", "x", "expired");
	h_verdict(&h, FRAME_AUTH_EXPIRED);
	h_expect(&h, AUTHFAIL, "EXPIRED: the very same text as FAIL");
	h_say(&h, "USER carol\r\nPASS y\r\n");
	h_expect(&h, "+OK\r\n", "USER carol +OK");
	h_expect_frame(&h, "carol", "y", "tempfail");
	h_verdict(&h, FRAME_AUTH_TEMPFAIL);
	h_expect(&h, "-ERR [SYS/TEMP] Authentication service unavailable, try again later.\r\n",
		 "TEMPFAIL: [SYS/TEMP]");
	h_say(&h, "USER dave\r\nPASS z\r\n");
	h_expect(&h, "+OK\r\n", "USER dave +OK");
	h_expect_frame(&h, "dave", "z", "third failure");
	h_verdict(&h, FRAME_AUTH_FAIL);
	h_expect(&h, AUTHFAIL, "third FAIL answered");
	ok(h_wait(&h) == 1, "after max_failures (3) failures the session ends");
	h_close(&h);

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "USER eve\r\nPASS 1\r\n");
	h_expect(&h, "+OK\r\n", "USER eve +OK");
	h_expect_frame(&h, "eve", "1", "close");
	h_verdict(&h, FRAME_AUTH_CLOSE);
	h_expect(&h, "-ERR [AUTH] Too many failures.\r\n", "CLOSE: -ERR [AUTH] Too many failures.");
	ok(h_wait(&h) == 1, "CLOSE ends the session");
	h_close(&h);
}

static void test_max_failures(void)
{
	struct preauth_opts o = default_opts;
	struct h h;

	o.max_failures = 1;
	h_start(&h, &o);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "USER a\r\nPASS b\r\nUSER a\r\nPASS c\r\n");
	h_expect(&h, "+OK\r\n", "USER +OK");
	h_expect_frame(&h, "a", "b", "max_failures=1");
	h_verdict(&h, FRAME_AUTH_FAIL);
	h_expect(&h, AUTHFAIL, "failure answered");
	ok(h_wait(&h) == 1, "max_failures=1: one failure ends the session");
	ok(h_only_end(&h, FRAME_END_FAILURES),
	   "the second pipelined PASS never reached the leader; the end frame says failures");
	h_close(&h);
}

static void test_leader_trouble(void)
{
	struct h h;
	struct frame f;

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "USER a\r\nPASS b\r\n");
	h_expect(&h, "+OK\r\n", "USER +OK");
	h_expect_frame(&h, "a", "b", "leader gone");
	shutdown(h.leader, SHUT_WR);
	h_expect(&h, "-ERR [SYS/TEMP] Internal error.\r\n", "leader EOF: [SYS/TEMP]");
	ok(h_wait(&h) == 1, "leader EOF ends the session");
	h_close(&h);

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "USER a\r\nPASS b\r\n");
	h_expect(&h, "+OK\r\n", "USER +OK");
	h_expect_frame(&h, "a", "b", "wrong type");
	frame_init(&f, FRAME_AUTH_RESULT);
	frame_put_byte(&f, FRAME_AUTH_OK);
	frame_send(h.leader, &f);
	h_expect(&h, "-ERR [SYS/TEMP] Internal error.\r\n", "a reply of the wrong type is no login");
	ok(h_wait(&h) == 1, "wrong frame type ends the session");
	h_close(&h);

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "USER a\r\nPASS b\r\n");
	h_expect(&h, "+OK\r\n", "USER +OK");
	h_expect_frame(&h, "a", "b", "unknown verdict");
	h_verdict(&h, 77);
	h_expect(&h, "-ERR [SYS/TEMP] Internal error.\r\n", "an unknown verdict is no login");
	ok(h_wait(&h) == 1, "unknown verdict ends the session");
	h_close(&h);

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "USER a\r\nPASS b\r\n");
	h_expect(&h, "+OK\r\n", "USER +OK");
	h_expect_frame(&h, "a", "b", "empty field");
	frame_init(&f, FRAME_AUTH_REPLY);
	frame_put(&f, "", 0);
	ok(frame_send(h.leader, &f) == 0, "leader sends a reply with an empty field");
	h_expect(&h, "-ERR [SYS/TEMP] Internal error.\r\n", "a reply with an empty field is no login");
	ok(h_wait(&h) == 1, "malformed reply ends the session");
	h_close(&h);
}

static void test_commands(void)
{
	struct h h;
	static const char capa[] = "+OK Capability list follows\r\nUSER\r\nTOP\r\nUIDL\r\n"
		"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n.\r\n";

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "CAPA\r\n");
	h_expect(&h, capa, "CAPA before login: no IMPLEMENTATION, EXPIRE NEVER");
	{
		static const char odd[] = "\r\n:\r\nUS\0ER a\r\nAPOP a 0123456789abcdef0123456789abcdef\r\n";

		h_send(&h, odd, sizeof odd - 1);
	}
	h_expect(&h, "-ERR Empty command\r\n-ERR Unknown command\r\n"
		 "-ERR Invalid character in command\r\n-ERR Unknown command\r\n",
		 "empty line, ':', NUL, APOP: one -ERR each, in order");
	h_say(&h, "STAT\r\nLIST 1\r\nRETR 1\r\nNOOP\r\nuser\r\nUSER a b\r\nUSER \r\n");
	h_expect(&h, "-ERR Not allowed before login.\r\n-ERR Not allowed before login.\r\n"
		 "-ERR Not allowed before login.\r\n-ERR Not allowed before login.\r\n"
		 "-ERR Syntax error\r\n-ERR Syntax error\r\n-ERR Syntax error\r\n",
		 "TRANSACTION commands and bad USER lines refused");
	ok(h_pending(h.leader) == 0, "no frame sent for any of them");
	h_say(&h, "USER a\rb\r\nquit\r\n");
	h_expect(&h, "-ERR Invalid character in command\r\n+OK Bye.\r\n", "bare CR refused; quit");
	ok(h_wait(&h) == 1, "QUIT ends with 1");
	h_close(&h);

	/* options shape CAPA; --require-tls withdraws USER */
	{
		struct preauth_opts o = default_opts;

		o.require_tls = 1;
		o.expire = "30";
		o.login_delay = 300;
		h_start(&h, &o);
		h_expect(&h, GREETING, "greeting");
		h_say(&h, "CAPA\r\nUSER a\r\nPASS b\r\nQUIT\r\n");
		h_expect(&h, "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
			 "AUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE 30\r\nLOGIN-DELAY 300\r\n.\r\n"
			 "-ERR [AUTH] Plaintext authentication disallowed without TLS.\r\n"
			 "-ERR [AUTH] Plaintext authentication disallowed without TLS.\r\n"
			 "+OK Bye.\r\n", "require_tls: no USER in CAPA, USER/PASS refused");
		ok(h_wait(&h) == 1, "QUIT ends with 1");
		ok(h_only_end(&h, FRAME_END_QUIT), "require_tls: no frame sent but the end");
		h_close(&h);
	}
}

static void test_pipelined_burst(void)
{
	struct h h;
	char buf[4096];
	ssize_t r;
	static const char want[] = "+OK Capability list follows\r\nUSER\r\nTOP\r\nUIDL\r\n"
		"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n.\r\n"
		"-ERR Not allowed before login.\r\n+OK\r\n-ERR Unknown command\r\n";

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "CAPA\r\nNOOP\r\nUSER a\r\nXYZZY\r\n");
	h_expect(&h, want, "pipelined burst answered in order");
	h_say(&h, "QUIT\r\n");
	h_expect(&h, "+OK Bye.\r\n", "QUIT");
	ok(h_wait(&h) == 1, "exit 1");
	r = recv(h.client, buf, sizeof buf, MSG_DONTWAIT);
	ok(r < 0 && errno == EAGAIN, "nothing more");
	h_close(&h);
}

/*
 * A pipelined burst is answered with one write (output on a SEQPACKET
 * socket, where every write of the child is one record).
 */
static void test_one_write(void)
{
	struct h h;
	char buf[8192];
	ssize_t r;
	static const char want[] = "+OK Capability list follows\r\nUSER\r\nTOP\r\nUIDL\r\n"
		"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n.\r\n"
		"-ERR Not allowed before login.\r\n+OK\r\n+OK Bye.\r\n";

	h_start_fds(&h, &default_opts, 2);
	r = recv(h.server_out, buf, sizeof buf, 0);
	ok(r == (ssize_t)strlen(GREETING) && memcmp(buf, GREETING, (size_t)r) == 0,
	   "greeting in a write of its own");
	h_say(&h, "CAPA\r\nNOOP\r\nUSER a\r\nQUIT\r\n");
	ok(h_wait(&h) == 1, "burst ends with QUIT");
	r = recv(h.server_out, buf, sizeof buf, MSG_DONTWAIT);
	ok(r == (ssize_t)sizeof want - 1 && memcmp(buf, want, sizeof want - 1) == 0,
	   "four pipelined commands answered in order in ONE write (%zd octets)", r);
	r = recv(h.server_out, buf, sizeof buf, MSG_DONTWAIT);
	ok(r <= 0, "and no other write");
	h_close(&h);
}

static void test_long_lines(void)
{
	struct h h;
	size_t big = 10 * 1024 * 1024;
	char *line = malloc(big + 2);
	pid_t w;

	for (size_t i = 0; i < big; i++)
		line[i] = "PASS x\r"[i % 7] == '\r' ? 'Q' : "PASS x\r"[i % 7];
	memcpy(line + big, "\r\n", 2);
	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	/* a writer process: the child answers while we are still sending */
	w = fork();
	if (w == 0) {
		if (io_write_full(h.client, "USER a\r\n", 8) < 0 ||
		    io_write_full(h.client, line, big + 2) < 0 ||
		    io_write_full(h.client, "QUIT\r\n", 6) < 0)
			_exit(1);
		_exit(0);
	}
	h_expect(&h, "+OK\r\n-ERR Line too long.\r\n+OK Bye.\r\n",
		 "10 MB line: exactly one -ERR, its tail never runs, QUIT does");
	ok(h_wait(&h) == 1, "child exits 1 after QUIT");
	ok(h_only_end(&h, FRAME_END_QUIT), "no frame from the PASS-looking tail, only the end");
	ok(waitpid(w, NULL, 0) == w, "writer done");
	h_close(&h);
	free(line);
}

static void test_too_many(void)
{
	struct h h;
	char burst[60 * 6 + 1];
	char want[50 * 32 + 64];
	size_t o = 0;

	for (int i = 0; i < 60; i++)
		memcpy(burst + i * 6, "NOOP\r\n", 6);
	for (int i = 0; i < 50; i++) {
		memcpy(want + o, "-ERR Not allowed before login.\r\n", 32);
		o += 32;
	}
	memcpy(want + o, "-ERR Too many commands.\r\n", 26);
	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_send(&h, burst, 60 * 6);
	h_expect(&h, want, "50 commands answered, the 51st closes the session");
	ok(h_wait(&h) == 1, "too many commands: exit 1");
	h_close(&h);
}

static void test_timeout_eof(void)
{
	struct preauth_opts o = default_opts;
	struct h h;

	o.timeout = 1;
	h_start(&h, &o);
	h_expect(&h, GREETING, "greeting");
	ok(h_wait(&h) == 1, "idle client: preauth_run gives up (timeout=1) with 1");
	ok(h_pending(h.client) == 0, "RFC 1939 section 3: no response at autologout");
	h_close(&h);

	h_start(&h, &o);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "USER a");	/* a partial line, then silence */
	ok(h_wait(&h) == 1, "partial line then silence: timeout");
	ok(h_only_end(&h, FRAME_END_TIMEOUT), "no frame but the end, which says timeout");
	h_close(&h);

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "NOOP\r\n");
	shutdown(h.client, SHUT_WR);
	h_expect(&h, "-ERR Not allowed before login.\r\n", "half-closed client still answered");
	ok(h_wait(&h) == 1, "EOF ends with 1");
	h_close(&h);
}

/* A client that sends but never reads is dropped at the timeout. */
static void test_stalled_reader(void)
{
	struct preauth_opts o = default_opts;
	struct h h;
	char burst[49 * 6 + 1];
	int one = 1, st;

	o.timeout = 1;
	h_start(&h, &o);
	h_expect(&h, GREETING, "greeting");
	/* the smallest send buffer the kernel allows, on the child's end */
	ok(setsockopt(h.server, SOL_SOCKET, SO_SNDBUF, &one, sizeof one) == 0, "shrink SO_SNDBUF");
	for (int i = 0; i < 49; i++)
		memcpy(burst + i * 6, "CAPA\r\n", 6);
	h_send(&h, burst, 49 * 6);
	st = h_wait(&h);
	ok(st == 1, "49 CAPAs never read: the child gives up on its own (exit %d)", st);
	h_close(&h);
}

static void test_user_limits(void)
{
	struct h h;
	char user[256], line[300];

	memset(user, 'u', 255);
	user[255] = '\0';
	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	snprintf(line, sizeof line, "USER %s\r\nPASS p\r\n", user);
	h_say(&h, line);
	h_expect(&h, "+OK\r\n", "255-octet USER accepted");
	h_expect_frame(&h, user, "p", "255-octet user");
	h_verdict(&h, FRAME_AUTH_OK);
	ok(h_wait(&h) == 0, "login with 255-octet user");
	h_close(&h);
}

/*
 * AUTH and STLS without a TLS context: STLS is refused, SASL PLAIN only
 * with allow_plaintext_auth (RFC 5034 section 6), and then it sends the
 * same frame as USER/PASS with method PLAIN and the authcid as user.
 */
static void test_sasl(void)
{
	struct preauth_opts o = default_opts;
	struct h h;
	char c;

	h_start(&h, &default_opts);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "STLS\r\nAUTH\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN\r\nQUIT\r\n");
	h_expect(&h, "-ERR TLS is not available.\r\n"
		 "-ERR [AUTH] Plaintext authentication disallowed without TLS.\r\n"
		 "-ERR [AUTH] Plaintext authentication disallowed without TLS.\r\n"
		 "-ERR [AUTH] Plaintext authentication disallowed without TLS.\r\n+OK Bye.\r\n",
		 "no TLS: STLS -ERR, AUTH refused in clear, no challenge sent");
	ok(h_wait(&h) == 1, "QUIT ends with 1");
	ok(h_only_end(&h, FRAME_END_QUIT), "no frame sent but the end, which says quit");
	h_close(&h);

	o.allow_plaintext_auth = 1;
	h_start(&h, &o);
	h_expect(&h, GREETING, "greeting");
	h_say(&h, "CAPA\r\nAUTH\r\n");
	h_expect(&h, "+OK Capability list follows\r\nUSER\r\nSASL PLAIN\r\nTOP\r\nUIDL\r\n"
		 "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n.\r\n"
		 "+OK\r\nPLAIN\r\n.\r\n",
		 "allow_plaintext_auth: SASL PLAIN in CAPA (no STLS); bare AUTH lists PLAIN");
	/* cancel, '=' , bad base64, proxy authzid: -ERR each; cancel is no failure */
	h_say(&h, "AUTH PLAIN\r\n*\r\nAUTH PLAIN =\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA\r\n"
	      "AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA=\r\nQUIT\r\n");
	h_expect(&h, "+ \r\n-ERR [AUTH] Authentication cancelled.\r\n"
		 "-ERR [AUTH] Malformed PLAIN response.\r\n-ERR [AUTH] Invalid base64.\r\n"
		 "+ \r\n-ERR [AUTH] Invalid base64.\r\n",
		 "cancel, then '=', unpadded base64, a bad continuation: -ERR each");
	ok(h_wait(&h) == 1, "the cancel was no failure; the third failure ends the session");
	ok(h_only_end(&h, FRAME_END_FAILURES), "no frame for any of them but the end (failures)");
	ok(h_pending(h.server_out) == 0, "QUIT after the third failure was never answered");
	h_close(&h);

	h_start(&h, &o);
	h_expect(&h, GREETING, "greeting");
	/* "bob\0alice\0secret": a proxy authzid */
	h_say(&h, "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\nAUTH SCRAM-SHA-1\r\n");
	h_expect(&h, "-ERR [AUTH] Authorization identity must be empty or the user's own.\r\n"
		 "-ERR Unsupported authentication mechanism.\r\n", "proxy authzid refused; unknown mechanism");
	ok(h_pending(h.leader) == 0, "no frame for a refused authzid");
	/* "\0alice\0secret" with an initial response */
	h_say(&h, "auth plain AGFsaWNlAHNlY3JldA==\r\n");
	h_expect_plain_frame(&h, "alice", "secret", "initial response");
	h_verdict(&h, FRAME_AUTH_FAIL);
	h_expect(&h, "-ERR [AUTH] Authentication failed.\r\n", "FAIL verdict: -ERR [AUTH]");
	/* "alice\0alice\0pw with space" as a continuation */
	h_say(&h, "AUTH PLAIN\r\n");
	h_expect(&h, "+ \r\n", "empty challenge");
	h_say(&h, "YWxpY2UAYWxpY2UAcHcgd2l0aCBzcGFjZQ==\r\nSTAT\r\n");
	h_expect_plain_frame(&h, "alice", "pw with space", "continuation");
	h_verdict(&h, FRAME_AUTH_OK);
	ok(h_wait(&h) == 0, "OK verdict: preauth_run returns 0");
	ok(h_pending(h.server) == 6, "the pipelined STAT\\r\\n is still in the kernel (%zu)",
	   h_pending(h.server));
	ok(recv(h.client, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
	   "nothing written in answer to the successful AUTH");
	h_close(&h);
}

int main(void)
{
	alarm(300);	/* hang guard, not a timing assertion */
	signal(SIGPIPE, SIG_IGN);
	test_login_ok();
	test_pipelined_login(0);
	test_pipelined_login(1);
	test_failures();
	test_max_failures();
	test_leader_trouble();
	test_commands();
	test_pipelined_burst();
	test_one_write();
	test_long_lines();
	test_too_many();
	test_timeout_eof();
	test_user_limits();
	test_stalled_reader();
	test_sasl();
	return tap_done();
}
