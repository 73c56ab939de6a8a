/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IPC frames (src/lib/frame.c) and the authentication frames built on
 * them (src/authproto.c; the connection frames are test-connproto's):
 * round trips, every malformed case we can name,
 * and a fake pre-auth child -- a forked process writing raw bytes -- whose
 * malformed, oversized and truncated frames the leader-side decoder must
 * each refuse with a reason while the parent carries on.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authproto.h"
#include "frame.h"
#include "sysio.h"
#include "tap.h"

/* Raw frame bytes: header (type, len in host order) + payload. */
static size_t raw(unsigned char *out, uint32_t type, uint32_t len,
		  const void *payload, size_t plen)
{
	memcpy(out, &type, 4);
	memcpy(out + 4, &len, 4);
	if (plen)
		memcpy(out + 8, payload, plen);
	return 8 + plen;
}

/* Payload of fields: each argument pair (pointer, length); ends at NULL. */
static size_t fields(unsigned char *out, size_t size, ...)
{
	va_list ap;
	size_t o = 0;
	const char *p;

	va_start(ap, size);
	while ((p = va_arg(ap, const char *)) != NULL) {
		size_t n = va_arg(ap, size_t);

		if (o + 2 + n > size)
			abort();
		out[o] = (unsigned char)(n >> 8);
		out[o + 1] = (unsigned char)n;
		memcpy(out + o + 2, p, n);
		o += 2 + n;
	}
	va_end(ap);
	return o;
}

static void test_round_trip(void)
{
	struct frame f, g;
	const unsigned char *p;
	const char *why = NULL;
	size_t n;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	frame_init(&f, FRAME_AUTH_REQUEST);
	ok(frame_put_byte(&f, FRAME_METHOD_USERPASS) == 0 && frame_put(&f, "alice", 5) == 0 &&
	   frame_put(&f, "pw\twith tab", 11) == 0, "encode three fields");
	ok(frame_send(sv[0], &f) == 0, "send");
	ok(f.len == 0, "frame_send wipes the frame it sent");
	ok(frame_recv(sv[1], &g, io_now_ms() + 2000, &why) == 0 && g.type == FRAME_AUTH_REQUEST,
	   "receive");
	ok(frame_get(&g, &p, &n, 1) == 0 && n == 1 && p[0] == FRAME_METHOD_USERPASS, "field 1");
	ok(frame_get(&g, &p, &n, 255) == 0 && n == 5 && !memcmp(p, "alice", 5), "field 2");
	ok(frame_end(&g) < 0, "frame_end refuses while a field is left");
	ok(frame_get(&g, &p, &n, 1024) == 0 && n == 11 && !memcmp(p, "pw\twith tab", 11),
	   "field 3 keeps its TAB (no delimiters between processes)");
	ok(frame_end(&g) == 0, "frame_end after the last field");
	ok(frame_get(&g, &p, &n, 1024) < 0, "no field past the end");
	frame_wipe(&g);
	ok(g.len == 0 && g.data[2] == 0, "frame_wipe clears the payload");

	frame_init(&f, FRAME_AUTH_REPLY);
	ok(frame_put(&f, "", 0) == 0 && frame_send(sv[0], &f) == 0 &&
	   frame_recv(sv[1], &g, -1, &why) == 0 && frame_get(&g, &p, &n, 0) == 0 && n == 0 &&
	   frame_end(&g) == 0, "an empty field round-trips");
	close(sv[0]);
	close(sv[1]);
}

static void test_parse_malformed(void)
{
	unsigned char buf[8 + FRAME_PAYLOAD_MAX + 16], pl[64];
	struct frame f;
	const unsigned char *p;
	const char *why = "";
	size_t n, len;

	len = raw(buf, 0, 0, NULL, 0);
	ok(frame_parse(&f, buf, len, &why) < 0, "type 0 refused (%s)", why);
	len = raw(buf, FRAME_TYPE_MAX + 1, 0, NULL, 0);
	ok(frame_parse(&f, buf, len, &why) < 0, "unknown type refused (%s)", why);
	len = raw(buf, 0xffffffffu, 0, NULL, 0);
	ok(frame_parse(&f, buf, len, &why) < 0, "type 0xffffffff refused");
	len = raw(buf, FRAME_AUTH_REPLY, 4, "\0\1\0\0", 4);
	ok(frame_parse(&f, buf, len, &why) < 0, "length over the type's maximum refused (%s)",
	   why);
	len = raw(buf, FRAME_AUTH_REQUEST, 0xffffffffu, NULL, 0);
	ok(frame_parse(&f, buf, len, &why) < 0, "length 0xffffffff refused");
	ok(frame_parse(&f, buf, 7, &why) < 0, "truncated header refused (%s)", why);
	ok(frame_parse(&f, buf, 0, &why) < 0, "empty input refused");
	len = raw(buf, FRAME_AUTH_REPLY, 3, "\0\1", 2);
	ok(frame_parse(&f, buf, len, &why) < 0 && strstr(why, "truncated"),
	   "truncated payload refused (%s)", why);
	len = raw(buf, FRAME_AUTH_REPLY, 3, "\0\1\0x", 4);
	ok(frame_parse(&f, buf, len, &why) < 0 && strstr(why, "trailing"),
	   "trailing bytes refused (%s)", why);

	n = fields(pl, sizeof pl, "abcdef", (size_t)6, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_RESULT, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0, "well-formed result frame parses");
	ok(frame_get(&f, &p, &n, 5) < 0, "field longer than the caller's max refused");
	pl[0] = 0;
	pl[1] = 9;	/* claims 9 bytes, 6 follow */
	len = raw(buf, FRAME_AUTH_RESULT, 8, pl, 8);
	ok(frame_parse(&f, buf, len, &why) == 0 && frame_get(&f, &p, &n, 255) < 0,
	   "field length past the end of the payload refused");
	len = raw(buf, FRAME_AUTH_RESULT, 1, "\0", 1);
	ok(frame_parse(&f, buf, len, &why) == 0 && frame_get(&f, &p, &n, 255) < 0 &&
	   frame_end(&f) < 0, "half a field-length prefix: no field, frame_end refuses");
	memcpy(pl, "\0\1x\0\0z", 6);
	len = raw(buf, FRAME_AUTH_RESULT, 6, pl, 6);
	ok(frame_parse(&f, buf, len, &why) == 0 && frame_get(&f, &p, &n, 1) == 0 &&
	   frame_get(&f, &p, &n, 255) == 0 && frame_end(&f) < 0,
	   "frame_end refuses leftover bytes");

	frame_init(&f, FRAME_AUTH_REQUEST);
	memset(buf, 'a', sizeof buf);
	ok(frame_put(&f, buf, FRAME_PAYLOAD_MAX) < 0, "encoder refuses a field that cannot fit");
	ok(frame_put(&f, buf, 70000) < 0, "encoder refuses a field over 65535 bytes");
	frame_init(&f, FRAME_AUTH_REPLY);
	ok(frame_put(&f, buf, 10) == 0, "encoder accepts bytes for a small type...");
	ok(frame_send(-1, &f) < 0 && errno == EINVAL, "...but frame_send refuses them (over "
	   "the type's maximum)");
}

static void test_recv_errors(void)
{
	unsigned char buf[64];
	struct frame f;
	const char *why = "";
	size_t len;
	int p[2];

	if (pipe(p) < 0)
		abort();
	len = raw(buf, FRAME_AUTH_REPLY, 3, "\0\1", 2);
	ok(write(p[1], buf, len) == (ssize_t)len, "write a truncated frame");
	close(p[1]);
	ok(frame_recv(p[0], &f, io_now_ms() + 2000, &why) < 0 && !strcmp(why, "truncated frame"),
	   "truncated payload then EOF: %s", why);
	close(p[0]);

	if (pipe(p) < 0)
		abort();
	ok(write(p[1], buf, 5) == 5, "write half a header");
	close(p[1]);
	ok(frame_recv(p[0], &f, io_now_ms() + 2000, &why) < 0, "half a header then EOF: %s",
	   why);
	close(p[0]);

	if (pipe(p) < 0)
		abort();
	close(p[1]);
	ok(frame_recv(p[0], &f, io_now_ms() + 2000, &why) == FRAME_RECV_EOF,
	   "EOF before a frame: %s", why);
	close(p[0]);

	if (pipe(p) < 0)
		abort();
	ok(frame_recv(p[0], &f, io_now_ms() + 100, &why) < 0 && !strcmp(why, "timed out"),
	   "silent writer: the deadline ends the wait (%s)", why);
	len = raw(buf, FRAME_AUTH_REQUEST, 100, NULL, 0);
	ok(write(p[1], buf, len + 10) == (ssize_t)len + 10, "write a header and part of a payload");
	ok(frame_recv(p[0], &f, io_now_ms() + 100, &why) < 0 && !strcmp(why, "timed out"),
	   "stalled payload: the deadline ends the wait");
	close(p[0]);
	close(p[1]);

	if (pipe(p) < 0)
		abort();
	len = raw(buf, 77, 0, NULL, 0);
	ok(write(p[1], buf, len) == (ssize_t)len, "write an unknown type");
	ok(frame_recv(p[0], &f, io_now_ms() + 2000, &why) < 0 && !strcmp(why, "unknown frame type"),
	   "unknown type refused before any payload is read");
	len = raw(buf, FRAME_AUTH_REPLY, 1000000, NULL, 0);
	ok(write(p[1], buf, len) == (ssize_t)len, "write an oversized length");
	ok(frame_recv(p[0], &f, io_now_ms() + 2000, &why) < 0 &&
	   !strcmp(why, "frame longer than its type allows"), "oversized frame refused (%s)", why);
	close(p[0]);
	close(p[1]);
}

static void test_user_rule(void)
{
	static const struct {
		const char *name;
		size_t len;
		int valid;
	} cases[] = {
		{ "alice", 5, 1 }, { "a.b-c_d@example.org", 19, 1 }, { "DOMAIN\\user", 11, 1 },
		{ "j\xc3\xb6rg", 5, 1 }, { "\xe2\x82\xac", 3, 1 }, { "\xf0\x9f\x98\x80", 4, 1 },
		{ "", 0, 0 }, { "-rf", 3, 0 }, { ".", 1, 0 }, { "..", 2, 0 }, { ".hidden", 7, 0 },
		{ "a/b", 3, 0 }, { "../etc", 6, 0 }, { "a:b", 3, 0 }, { "a b", 3, 0 },
		{ "a\tb", 3, 0 }, { "a\r\nb", 4, 0 }, { "a\0b", 3, 0 }, { "a\x7f", 2, 0 },
		{ "\xc2\x85", 2, 0 },		/* NEL, a C1 control */
		{ "\xc0\xaf", 2, 0 },		/* overlong '/' */
		{ "\xe0\x80\xaf", 3, 0 },	/* overlong '/' */
		{ "\xed\xa0\x80", 3, 0 },	/* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },	/* over U+10FFFF */
		{ "\xc3", 1, 0 },		/* truncated sequence */
		{ "\xff", 1, 0 }, { "a%nb", 4, 1 },
	};
	char longname[FRAME_USER_MAX + 2];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ok(authproto_user_valid(cases[i].name, cases[i].len) == cases[i].valid,
		   "user name case %zu is %s", i, cases[i].valid ? "accepted" : "refused");
	memset(longname, 'u', sizeof longname);
	ok(authproto_user_valid(longname, FRAME_USER_MAX), "255-byte user name accepted");
	ok(!authproto_user_valid(longname, FRAME_USER_MAX + 1), "256-byte user name refused");
}

static void test_auth_request(void)
{
	struct authproto_request rq;
	struct frame f;
	const char *why = "";
	char secret[FRAME_SECRET_MAX + 1];

	ok(authproto_encode_request(&f, FRAME_METHOD_PLAIN, "bob", 3, "p w\t:", 5) == 0,
	   "encode a request");
	ok(authproto_parse_request(&f, &rq, &why) == 0 && rq.method == FRAME_METHOD_PLAIN &&
	   !strcmp(rq.user, "bob") && rq.user_len == 3 && rq.secret_len == 5 &&
	   !memcmp(rq.secret, "p w\t:", 6), "parse it back, secret intact");
	ok(f.len == 0, "the request frame is wiped after parsing");
	authproto_request_wipe(&rq);
	ok(rq.secret[0] == 0 && rq.user[0] == 0, "authproto_request_wipe clears the secret");
	memset(secret, 's', sizeof secret);
	ok(authproto_encode_request(&f, FRAME_METHOD_USERPASS, "bob", 3, secret,
				    FRAME_SECRET_MAX) == 0 &&
	   authproto_parse_request(&f, &rq, &why) == 0 && rq.secret_len == FRAME_SECRET_MAX,
	   "a secret of FRAME_SECRET_MAX bytes round-trips");
	ok(authproto_encode_request(&f, FRAME_METHOD_USERPASS, "", 0, "x", 1) < 0,
	   "encoder refuses an empty user");
	ok(authproto_encode_request(&f, 9, "bob", 3, "x", 1) < 0, "encoder refuses method 9");
	ok(authproto_encode_request(&f, FRAME_METHOD_USERPASS, "bob", 3, "a\0b", 3) < 0,
	   "encoder refuses NUL in the secret");
	ok(authproto_encode_request(&f, FRAME_METHOD_USERPASS, "bob", 3, secret,
				    FRAME_SECRET_MAX + 1) < 0, "encoder refuses an over-long secret");
	ok(authproto_encode_result(&f, FRAME_AUTH_OK, NULL) < 0,
	   "result encoder: OK needs a user");
	ok(authproto_encode_result(&f, FRAME_AUTH_FAIL, "bob") < 0,
	   "result encoder: FAIL carries no user");
	ok(authproto_encode_result(&f, FRAME_AUTH_CLOSE, NULL) < 0,
	   "result encoder: CLOSE is not a helper answer");
}

/* One malformed request as a fake pre-auth child would send it. */
struct bad_frame {
	const char *name;
	unsigned char bytes[8 + FRAME_PAYLOAD_MAX];
	size_t len;
	int recv_fails;		/* refused by frame_recv already */
};

static struct bad_frame bad[40];
static size_t nbad;

static void add_bad(const char *name, uint32_t type, const unsigned char *pl, size_t n,
		    int recv_fails)
{
	struct bad_frame *b = &bad[nbad++];

	b->name = name;
	b->len = raw(b->bytes, type, (uint32_t)n, pl, n);
	b->recv_fails = recv_fails;
}

static void build_bad_frames(void)
{
	unsigned char pl[FRAME_PAYLOAD_MAX];
	char big[2048];
	size_t n;
	struct bad_frame *b;

	memset(big, 'a', sizeof big);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("wrong type (AUTH_RESULT)", FRAME_AUTH_RESULT, pl, 11, 0);
	n = fields(pl, sizeof pl, "\3", (size_t)1, "bob", (size_t)3, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("unknown method 3", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\0", (size_t)1, "bob", (size_t)3, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("method 0", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1\1", (size_t)2, "bob", (size_t)3, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("two-byte method", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, (const char *)NULL);
	add_bad("missing secret", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, (const char *)NULL);
	add_bad("missing user", FRAME_AUTH_REQUEST, pl, n, 0);
	add_bad("empty payload", FRAME_AUTH_REQUEST, pl, 0, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, "pw", (size_t)2,
		   "extra", (size_t)5, (const char *)NULL);
	add_bad("extra field", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, "pw", (size_t)2,
		   (const char *)NULL);
	pl[n++] = 0;
	add_bad("trailing byte after the fields", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bo\0b", (size_t)4, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("NUL in user", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob\r\nforged", (size_t)11, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("CR LF in user", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "../../etc", (size_t)9, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("path in user", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "", (size_t)0, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("empty user", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, big, (size_t)256, "pw", (size_t)2,
		   (const char *)NULL);
	add_bad("256-byte user", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, big, (size_t)1025,
		   (const char *)NULL);
	add_bad("1025-byte secret", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, "p\0w", (size_t)3,
		   (const char *)NULL);
	add_bad("NUL in secret", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, "pw", (size_t)2,
		   (const char *)NULL);
	pl[8] = 0xff;	/* secret's length prefix claims 0xff02 bytes */
	add_bad("field length past the payload", FRAME_AUTH_REQUEST, pl, n, 0);
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, big, (size_t)1500,
		   (const char *)NULL);
	add_bad("payload over the type's maximum", FRAME_AUTH_REQUEST, pl, n, 1);
	add_bad("unknown frame type", 42, pl, 3, 1);
	b = &bad[nbad];
	add_bad("length 0xffffffff", FRAME_AUTH_REQUEST, pl, 0, 1);
	memset(b->bytes + 4, 0xff, 4);
}

/*
 * A fake pre-auth child writes len bytes (stay: then keeps the socket
 * open until the leader hangs up, like a hostile child; else it dies at
 * once), and the leader side reads and decodes.  Returns the reason the
 * bytes were refused, or NULL if they were accepted.
 */
static const char *fake_child(const void *bytes, size_t len, int stay,
			      struct authproto_request *rq)
{
	struct frame f;
	const char *why = NULL;
	int sv[2], st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		close(sv[0]);
		if (io_write_full(sv[1], bytes, len) < 0)
			_exit(1);
		if (stay)
			(void)io_read(sv[1], &st, 1);
		_exit(0);
	}
	close(sv[1]);
	if (frame_recv(sv[0], &f, io_now_ms() + 2000, &why) == 0 &&
	    authproto_parse_request(&f, rq, &why) == 0)
		why = NULL;
	close(sv[0]);
	waitpid(pid, &st, 0);
	return why;
}

static void test_fake_child(void)
{
	unsigned char out[8 + FRAME_PAYLOAD_MAX];
	struct authproto_request rq;
	struct frame f;
	size_t len;

	build_bad_frames();
	for (size_t i = 0; i < nbad; i++) {
		const char *why;

		memset(&rq, 'X', sizeof rq);
		why = fake_child(bad[i].bytes, bad[i].len, 1, &rq);
		ok(why != NULL, "fake child, %s: refused (%s)", bad[i].name, why ? why : "ACCEPTED");
		ok(bad[i].recv_fails || (rq.secret[0] == '\0' && rq.user[0] == '\0'),
		   "fake child, %s: %s", bad[i].name,
		   bad[i].recv_fails ? "refused by frame_recv" : "decoder kept nothing");
	}

	if (authproto_encode_request(&f, FRAME_METHOD_USERPASS, "bob", 3, "pw", 2) < 0)
		abort();
	len = raw(out, f.type, f.len, f.data, f.len);
	ok(fake_child(out, len - 3, 0, &rq) != NULL, "fake child dies mid-frame: refused");
	/* and a good one, to show the decoder is not refusing everything */
	ok(fake_child(out, len, 0, &rq) == NULL && !strcmp(rq.user, "bob") &&
	   !strcmp(rq.secret, "pw"), "fake child, well-formed request: accepted");
	authproto_request_wipe(&rq);
	ok(1, "the leader side survived %zu hostile frames", nbad + 1);
}

static void test_result_frames(void)
{
	unsigned char pl[512], buf[600];
	struct frame f;
	const char *why = "";
	char user[FRAME_USER_MAX + 1];
	unsigned code;
	size_t n, len;

	ok(authproto_encode_result(&f, FRAME_AUTH_OK, "carol") == 0 &&
	   authproto_parse_result(&f, &code, user, sizeof user, &why) == 0 &&
	   code == FRAME_AUTH_OK && !strcmp(user, "carol"), "result OK round-trips");
	ok(authproto_encode_result(&f, FRAME_AUTH_EXPIRED, "") == 0 &&
	   authproto_parse_result(&f, &code, user, sizeof user, &why) == 0 &&
	   code == FRAME_AUTH_EXPIRED && user[0] == '\0', "result EXPIRED round-trips");
	n = fields(pl, sizeof pl, "\4", (size_t)1, "", (size_t)0, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_RESULT, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0 &&
	   authproto_parse_result(&f, &code, user, sizeof user, &why) < 0,
	   "result code 4 refused (%s)", why);
	n = fields(pl, sizeof pl, "\0", (size_t)1, "../x", (size_t)4, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_RESULT, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0 &&
	   authproto_parse_result(&f, &code, user, sizeof user, &why) < 0 && user[0] == '\0',
	   "OK with a path as final user refused (%s)", why);
	n = fields(pl, sizeof pl, "\0", (size_t)1, "", (size_t)0, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_RESULT, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0 &&
	   authproto_parse_result(&f, &code, user, sizeof user, &why) < 0,
	   "OK without a final user refused");
	n = fields(pl, sizeof pl, "\1", (size_t)1, "bob", (size_t)3, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_RESULT, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0 &&
	   authproto_parse_result(&f, &code, user, sizeof user, &why) < 0,
	   "FAIL with a user name refused");
	n = fields(pl, sizeof pl, "\0", (size_t)1, "bob", (size_t)3, "x", (size_t)1,
		   (const char *)NULL);
	len = raw(buf, FRAME_AUTH_RESULT, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0 &&
	   authproto_parse_result(&f, &code, user, sizeof user, &why) < 0,
	   "extra field in a result refused (%s)", why);
	n = fields(pl, sizeof pl, "\0", (size_t)1, "bob", (size_t)3, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_REPLY, 3, pl, 3);
	ok(frame_parse(&f, buf, len, &why) == 0 &&
	   authproto_parse_result(&f, &code, user, sizeof user, &why) < 0,
	   "a reply frame is not a result");
}

static void test_reply_frames(void)
{
	unsigned char pl[64], buf[96];
	struct frame f;
	const char *why = "";
	unsigned code;
	size_t n, len;

	ok(authproto_encode_reply(&f, FRAME_AUTH_INUSE) == 0 &&
	   authproto_parse_reply(&f, &code, &why) == 0 && code == FRAME_AUTH_INUSE,
	   "reply INUSE round-trips");
	ok(authproto_encode_reply(&f, FRAME_AUTH_INUSE + 1) < 0, "encoder refuses reply code 6");
	n = fields(pl, sizeof pl, "\6", (size_t)1, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_REPLY, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0 && authproto_parse_reply(&f, &code, &why) < 0,
	   "reply code 6 refused (%s)", why);
	n = fields(pl, sizeof pl, "\0", (size_t)1, "", (size_t)0, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_REPLY, (uint32_t)n, pl, n);
	/* over the type's maximum: frame_parse already refuses it */
	ok(frame_parse(&f, buf, len, &why) < 0 || authproto_parse_reply(&f, &code, &why) < 0,
	   "extra field in a reply refused (%s)", why);
	n = fields(pl, sizeof pl, "", (size_t)0, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_REPLY, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0 && authproto_parse_reply(&f, &code, &why) < 0,
	   "empty reply code field refused (%s)", why);
	n = fields(pl, sizeof pl, "\0", (size_t)1, "", (size_t)0, (const char *)NULL);
	len = raw(buf, FRAME_AUTH_RESULT, (uint32_t)n, pl, n);
	ok(frame_parse(&f, buf, len, &why) == 0 && authproto_parse_reply(&f, &code, &why) < 0,
	   "a result frame is not a reply");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_round_trip();
	test_parse_malformed();
	test_recv_errors();
	test_user_rule();
	test_auth_request();
	test_fake_child();
	test_result_frames();
	test_reply_frames();
	return tap_done();
}
