/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The connection frames' codec (src/connproto.c): each encoder's frame
 * decodes to what went in, each encoder refuses what its decoder would,
 * and each decoder refuses the wrong type, a field too many or too few,
 * and values out of range, with a reason.  The frames go through a real
 * socketpair (frame_send, frame_recv) as between the processes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connproto.h"
#include "frame.h"
#include "tap.h"

static int sv[2];

/* f, as the peer receives it. */
static int travel(struct frame *f)
{
	const char *why = NULL;

	if (frame_send(sv[0], f) < 0 || frame_recv(sv[1], f, -1, &why) != FRAME_RECV_OK)
		return -1;
	return 0;
}

/* A frame of type with the given raw payload fields (n_fields of them). */
static void fields(struct frame *f, uint32_t type, int n_fields, const void *a, size_t alen,
		   const void *b, size_t blen, const void *c, size_t clen)
{
	frame_init(f, type);
	if ((n_fields > 0 && frame_put(f, a, alen) < 0) ||
	    (n_fields > 1 && frame_put(f, b, blen) < 0) ||
	    (n_fields > 2 && frame_put(f, c, clen) < 0))
		abort();
}

static void test_tls_active(void)
{
	struct frame f;
	const unsigned char *p;
	const char *why = NULL;
	char longtext[FRAME_DETAIL_MAX + 50];
	size_t n;

	ok(connproto_encode_tls_active(&f, "TLSv1.3 TLS_AES_128_GCM_SHA256") == 0 && travel(&f) == 0 &&
	   connproto_parse_tls_active(&f, &p, &n, &why) == 0 &&
	   n == strlen("TLSv1.3 TLS_AES_128_GCM_SHA256") &&
	   memcmp(p, "TLSv1.3 TLS_AES_128_GCM_SHA256", n) == 0, "TLS_ACTIVE round trip");
	memset(longtext, 'x', sizeof longtext - 1);
	longtext[sizeof longtext - 1] = '\0';
	ok(connproto_encode_tls_active(&f, longtext) == 0 && travel(&f) == 0 &&
	   connproto_parse_tls_active(&f, &p, &n, &why) == 0 && n == FRAME_DETAIL_MAX,
	   "TLS_ACTIVE: a long summary is cut to FRAME_DETAIL_MAX");
	fields(&f, FRAME_TLS_ACTIVE, 2, "a", 1, "b", 1, NULL, 0);
	ok(connproto_parse_tls_active(&f, &p, &n, &why) < 0, "TLS_ACTIVE: a second field (%s)", why);
	fields(&f, FRAME_TLS_ACTIVE, 0, NULL, 0, NULL, 0, NULL, 0);
	ok(connproto_parse_tls_active(&f, &p, &n, &why) < 0, "TLS_ACTIVE: no field");
	fields(&f, FRAME_PREAUTH_END, 1, "a", 1, NULL, 0, NULL, 0);
	ok(connproto_parse_tls_active(&f, &p, &n, &why) < 0, "TLS_ACTIVE: the wrong type (%s)", why);
}

static void test_source(void)
{
	struct connproto_source in = { .family = 6, .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
	struct connproto_source out;
	struct frame f;
	const char *why = NULL;
	unsigned char four[4] = { 192, 0, 2, 1 }, one = 7;

	ok(connproto_encode_source(&f, &in) == 0 && travel(&f) == 0 &&
	   connproto_parse_source(&f, &out, &why) == 0 && out.family == 6 &&
	   memcmp(out.addr, in.addr, 16) == 0, "PROXY_SOURCE: IPv6 round trip");
	in = (struct connproto_source){ .family = FRAME_PROXY_FAILED, .error = 3 };
	ok(connproto_encode_source(&f, &in) == 0 && travel(&f) == 0 &&
	   connproto_parse_source(&f, &out, &why) == 0 && out.family == FRAME_PROXY_FAILED &&
	   out.error == 3, "PROXY_SOURCE: a refused header and its reason");
	in = (struct connproto_source){ .family = 0 };
	ok(connproto_encode_source(&f, &in) == 0 && connproto_parse_source(&f, &out, &why) == 0 &&
	   out.family == 0, "PROXY_SOURCE: LOCAL (the balancer itself)");
	in.family = 5;
	ok(connproto_encode_source(&f, &in) < 0, "PROXY_SOURCE: the encoder refuses family 5");
	fields(&f, FRAME_PROXY_SOURCE, 2, "\x06", 1, four, 4, NULL, 0);
	ok(connproto_parse_source(&f, &out, &why) < 0 && out.family == 0,
	   "PROXY_SOURCE: family 6 with 4 address bytes (%s)", why);
	fields(&f, FRAME_PROXY_SOURCE, 2, "\x04", 1, &one, 1, NULL, 0);
	ok(connproto_parse_source(&f, &out, &why) < 0, "PROXY_SOURCE: family 4 with 1 byte");
	fields(&f, FRAME_PROXY_SOURCE, 3, "\x04", 1, four, 4, "", 0);
	ok(connproto_parse_source(&f, &out, &why) < 0, "PROXY_SOURCE: a field too many (%s)", why);
	fields(&f, FRAME_USER_NOTE, 2, "\x04", 1, four, 4, NULL, 0);
	ok(connproto_parse_source(&f, &out, &why) < 0, "PROXY_SOURCE: the wrong type");
}

static void test_verdict(void)
{
	struct frame f;
	const char *why = NULL;
	unsigned v;
	long long pen;
	unsigned char big[8] = { 0, 0, 0, 0, 0xff, 0, 0, 0 };

	ok(connproto_encode_verdict(&f, FRAME_PROXY_GO, 15000) == 0 && travel(&f) == 0 &&
	   connproto_parse_verdict(&f, &v, &pen, &why) == 0 && v == FRAME_PROXY_GO && pen == 15000,
	   "PROXY_VERDICT: GO with a penalty, round trip");
	ok(connproto_encode_verdict(&f, FRAME_PROXY_REFUSE, CONNPROTO_PENALTY_MAX) == 0 &&
	   connproto_parse_verdict(&f, &v, &pen, &why) == 0 && v == FRAME_PROXY_REFUSE &&
	   pen == CONNPROTO_PENALTY_MAX, "PROXY_VERDICT: REFUSE at the longest penalty");
	ok(connproto_encode_verdict(&f, FRAME_PROXY_GO, CONNPROTO_PENALTY_MAX + 1) < 0 &&
	   connproto_encode_verdict(&f, FRAME_PROXY_GO, -1) < 0 &&
	   connproto_encode_verdict(&f, 7, 0) < 0, "PROXY_VERDICT: the encoder refuses what is out of range");
	fields(&f, FRAME_PROXY_VERDICT, 2, "\x00", 1, big, 8, NULL, 0);
	ok(connproto_parse_verdict(&f, &v, &pen, &why) < 0, "PROXY_VERDICT: a penalty too long (%s)",
	   why);
	fields(&f, FRAME_PROXY_VERDICT, 2, "\x00", 1, big, 7, NULL, 0);
	ok(connproto_parse_verdict(&f, &v, &pen, &why) < 0, "PROXY_VERDICT: a short penalty field");
	big[4] = 0;
	fields(&f, FRAME_PROXY_VERDICT, 2, "\x09", 1, big, 8, NULL, 0);
	ok(connproto_parse_verdict(&f, &v, &pen, &why) < 0, "PROXY_VERDICT: an unknown verdict");
}

static void test_user(void)
{
	struct frame f;
	const char *why = NULL;
	char name[FRAME_USER_MAX + 1];
	unsigned ev, v;

	ok(connproto_encode_user_note(&f, FRAME_USER_LOGIN, "alice") == 0 && travel(&f) == 0 &&
	   connproto_parse_user_note(&f, &ev, name, sizeof name, &why) == 0 &&
	   ev == FRAME_USER_LOGIN && strcmp(name, "alice") == 0, "USER_NOTE: LOGIN round trip");
	ok(connproto_encode_user_note(&f, FRAME_USER_FAILED, "../etc") < 0 &&
	   connproto_encode_user_note(&f, FRAME_USER_FAILED, "") < 0 &&
	   connproto_encode_user_note(&f, 9, "alice") < 0,
	   "USER_NOTE: the encoder refuses a bad name or event");
	fields(&f, FRAME_USER_NOTE, 2, "\x00", 1, "a/b", 3, NULL, 0);
	ok(connproto_parse_user_note(&f, &ev, name, sizeof name, &why) < 0,
	   "USER_NOTE: a name with '/' (%s)", why);
	fields(&f, FRAME_USER_NOTE, 2, "\x00", 1, "alice", 5, NULL, 0);
	ok(connproto_parse_user_note(&f, &ev, name, 5, &why) < 0,
	   "USER_NOTE: a name longer than the caller's buffer");
	fields(&f, FRAME_USER_NOTE, 1, "\x00", 1, NULL, 0, NULL, 0);
	ok(connproto_parse_user_note(&f, &ev, name, sizeof name, &why) < 0,
	   "USER_NOTE: no name field");

	ok(connproto_encode_user_verdict(&f, FRAME_USER_REFUSE_SESSIONS) == 0 && travel(&f) == 0 &&
	   connproto_parse_user_verdict(&f, &v, &why) == 0 && v == FRAME_USER_REFUSE_SESSIONS,
	   "USER_VERDICT: round trip");
	ok(connproto_encode_user_verdict(&f, FRAME_USER_REFUSE_SESSIONS + 1) < 0,
	   "USER_VERDICT: the encoder refuses an unknown verdict");
	fields(&f, FRAME_USER_VERDICT, 2, "\x00", 1, "", 0, NULL, 0);
	ok(connproto_parse_user_verdict(&f, &v, &why) < 0, "USER_VERDICT: a field too many (%s)",
	   why);
}

static void test_end(void)
{
	struct frame f;
	const char *why = NULL;
	char detail[FRAME_DETAIL_MAX + 1];
	unsigned reason;

	ok(connproto_encode_end(&f, FRAME_END_TLS, "wrong version number") == 0 && travel(&f) == 0 &&
	   connproto_parse_end(&f, &reason, detail, sizeof detail, &why) == 0 &&
	   reason == FRAME_END_TLS && strcmp(detail, "wrong version number") == 0,
	   "PREAUTH_END: round trip with a detail");
	ok(connproto_encode_end(&f, 0, NULL) < 0 && connproto_encode_end(&f, FRAME_END_MAX + 1, NULL) < 0,
	   "PREAUTH_END: the encoder refuses reason 0 and beyond the last");
	fields(&f, FRAME_PREAUTH_END, 2, "\x01", 1, "x", 1, NULL, 0);
	ok(connproto_parse_end(&f, &reason, detail, 1, &why) < 0,
	   "PREAUTH_END: a detail longer than the caller's buffer (%s)", why);
	fields(&f, FRAME_PREAUTH_END, 2, "\x00", 1, "", 0, NULL, 0);
	ok(connproto_parse_end(&f, &reason, detail, sizeof detail, &why) < 0,
	   "PREAUTH_END: reason 0");
}

int main(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	test_tls_active();
	test_source();
	test_verdict();
	test_user();
	test_end();
	close(sv[0]);
	close(sv[1]);
	return tap_done();
}
