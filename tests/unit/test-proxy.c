/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PROXY protocol parser (v1 text, v2 binary), the socket reader that
 * must never take a byte past the header, and --proxy-from lists.  Every
 * good header is also cut at every byte: each prefix must ask for more,
 * never succeed or fail early.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy.h"
#include "sysio.h"
#include "tap.h"

static const unsigned char sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

/* A v2 header: signature, ver/cmd, fam/proto, length, then body. */
static size_t v2(unsigned char *out, unsigned vercmd, unsigned famproto, size_t declared,
		 const void *body, size_t blen)
{
	memcpy(out, sig, 12);
	out[12] = (unsigned char)vercmd;
	out[13] = (unsigned char)famproto;
	out[14] = (unsigned char)(declared >> 8);
	out[15] = (unsigned char)declared;
	if (blen)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

static enum proxy_status parse(const void *p, size_t n, struct proxy_hdr *h, size_t *count,
			       enum proxy_error *err)
{
	return proxy_parse(p, n, h, count, err);
}

/* Every strict prefix asks for more; the whole is DONE at exactly len. */
static int prefixes_need_more(const unsigned char *p, size_t len)
{
	struct proxy_hdr h;
	size_t count;
	enum proxy_error err;

	for (size_t i = 0; i < len; i++)
		if (parse(p, i, &h, &count, &err) != PROXY_MORE || count <= i)
			return 0;
	return 1;
}

static void good_v1(const char *text, int family, const char *src, unsigned sport)
{
	struct proxy_hdr h;
	size_t count, len = strlen(text);
	enum proxy_error err;
	unsigned char a[16];
	unsigned char buf[256];

	/* with POP3 bytes behind it, which are not the header's */
	memcpy(buf, text, len);
	memcpy(buf + len, "USER x\r\n", 8);
	ok(parse(buf, len + 8, &h, &count, &err) == PROXY_DONE && count == len &&
	   h.version == 1 && h.family == family, "v1 accepted: %.*s", (int)(len - 2), text);
	if (family) {
		inet_pton(family, src, a);
		ok(memcmp(h.src, a, family == AF_INET ? 4 : 16) == 0 && h.src_port == sport,
		   "  source %s port %u", src, sport);
	}
	ok(prefixes_need_more((const unsigned char *)text, len), "  every prefix asks for more");
}

static void bad(const void *p, size_t n, enum proxy_error want, const char *what)
{
	struct proxy_hdr h;
	size_t count;
	enum proxy_error err;
	enum proxy_status st = parse(p, n, &h, &count, &err);

	ok(st == PROXY_BAD && err == want, "refused: %s (%s)", what,
	   st == PROXY_BAD ? proxy_strerror(err) : st == PROXY_DONE ? "accepted!" : "wants more!");
}

static void bad_v1(const char *text, enum proxy_error want, const char *what)
{
	bad(text, strlen(text), want, what);
}

static void test_v1(void)
{
	char longline[200];

	good_v1("PROXY TCP4 192.168.0.1 192.168.0.11 56324 110\r\n", AF_INET, "192.168.0.1", 56324);
	good_v1("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", AF_INET, "0.0.0.0", 0);
	good_v1("PROXY TCP6 2001:db8::1 ::1 4711 995\r\n", AF_INET6, "2001:db8::1", 4711);
	good_v1("PROXY TCP6 ::ffff:127.0.0.2 ::1 1 2\r\n", AF_INET6, "::ffff:127.0.0.2", 1);
	good_v1("PROXY UNKNOWN\r\n", 0, NULL, 0);
	good_v1("PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 65535 65535\r\n", 0, NULL, 0);
	/* the longest a TCP6 line gets: 104 bytes + CRLF */
	good_v1("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);

	bad_v1("PROXY TCP4 10.0.0.01 10.0.0.1 1 2\r\n", PROXY_ERR_ADDRESS, "leading zero in an octet");
	bad_v1("PROXY TCP4 10.0.0 10.0.0.1 1 2\r\n", PROXY_ERR_ADDRESS, "three octets");
	bad_v1("PROXY TCP4 10.0.0.256 10.0.0.1 1 2\r\n", PROXY_ERR_ADDRESS, "octet over 255");
	bad_v1("PROXY TCP4 ::1 10.0.0.1 1 2\r\n", PROXY_ERR_ADDRESS, "IPv6 address under TCP4");
	bad_v1("PROXY TCP6 10.0.0.1 ::1 1 2\r\n", PROXY_ERR_ADDRESS, "IPv4 address under TCP6");
	bad_v1("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", PROXY_ERR_ADDRESS, "IPv6 zone id");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 01 2\r\n", PROXY_ERR_PORT, "leading zero in a port");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 65536 2\r\n", PROXY_ERR_PORT, "port 65536");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 1 99999999999999999999\r\n", PROXY_ERR_PORT, "port overflow");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 -1 2\r\n", PROXY_ERR_PORT, "negative port");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 +1 2\r\n", PROXY_ERR_PORT, "signed port");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 1 2 \r\n", PROXY_ERR_V1_SYNTAX, "trailing space");
	bad_v1("PROXY TCP4 10.0.0.1  10.0.0.2 1 2\r\n", PROXY_ERR_V1_SYNTAX, "two spaces");
	bad_v1("PROXY  TCP4 10.0.0.1 10.0.0.2 1 2\r\n", PROXY_ERR_V1_SYNTAX, "two spaces after PROXY");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 1\r\n", PROXY_ERR_V1_SYNTAX, "a field missing");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 1 2 3\r\n", PROXY_ERR_V1_SYNTAX, "a field too many");
	bad_v1("PROXY TCP4\r\n", PROXY_ERR_V1_SYNTAX, "no fields");
	bad_v1("PROXY TCP4 10.0.0.1\t10.0.0.2 1 2\r\n", PROXY_ERR_V1_SYNTAX, "a TAB");
	bad_v1("PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n", PROXY_ERR_V1_PROTO, "UDP4");
	bad_v1("PROXY tcp4 10.0.0.1 10.0.0.2 1 2\r\n", PROXY_ERR_V1_PROTO, "lower-case tcp4");
	bad_v1("PROXY UNKNOWNX\r\n", PROXY_ERR_V1_PROTO, "UNKNOWNX");
	bad_v1("PROXY \r\n", PROXY_ERR_V1_SYNTAX, "nothing after PROXY");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\n", PROXY_ERR_V1_EOL, "LF without CR");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\rX", PROXY_ERR_V1_EOL, "CR without LF");
	bad_v1("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\r\n", PROXY_ERR_V1_EOL, "CR CR LF");
	bad_v1("PROXY UNKNOWN \x01\r\n", PROXY_ERR_V1_SYNTAX, "a control byte");
	bad_v1("PROXY UNKNOWN \xc3\xa9\r\n", PROXY_ERR_V1_SYNTAX, "an 8-bit byte");
	bad("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33, PROXY_ERR_V1_SYNTAX, "a NUL byte");
	bad_v1("PROXYTCP4 10.0.0.1 10.0.0.2 1 2\r\n", PROXY_ERR_SIGNATURE, "no space after PROXY");
	bad_v1("proxy TCP4 10.0.0.1 10.0.0.2 1 2\r\n", PROXY_ERR_SIGNATURE, "lower-case proxy");
	bad_v1("USER alice\r\n", PROXY_ERR_SIGNATURE, "a POP3 command, no header");
	bad_v1("PRX", PROXY_ERR_SIGNATURE, "a wrong prefix is refused before the line ends");
	bad_v1("\x16\x03\x01\x02\x00", PROXY_ERR_SIGNATURE, "a TLS ClientHello, no header");

	/* 105 bytes + CRLF = 107 is the limit; 108 is refused, with or
	 * without a line end in sight */
	memset(longline, 'x', sizeof longline);
	memcpy(longline, "PROXY UNKNOWN ", 14);
	memcpy(longline + 105, "\r\n", 3);
	{
		struct proxy_hdr h;
		size_t count;
		enum proxy_error err;

		ok(parse(longline, 107, &h, &count, &err) == PROXY_DONE && count == 107,
		   "v1 of exactly 107 bytes accepted");
	}
	memcpy(longline + 105, "x\r\n", 4);
	bad(longline, 108, PROXY_ERR_V1_LONG, "v1 of 108 bytes (CRLF at 106)");
	memset(longline + 14, 'x', sizeof longline - 14);
	bad(longline, 107, PROXY_ERR_V1_LONG, "107 bytes without a line end");
	bad(longline, sizeof longline, PROXY_ERR_V1_LONG, "200 bytes without a line end");
	{
		struct proxy_hdr h;
		size_t count;
		enum proxy_error err;

		ok(parse(longline, 106, &h, &count, &err) == PROXY_MORE,
		   "106 bytes without a line end still wait");
		memcpy(longline + 105, "\r", 1);
		ok(parse(longline, 106, &h, &count, &err) == PROXY_MORE,
		   "a CR as byte 106 waits for its LF");
		memcpy(longline + 105, "x\r", 2);
		bad(longline + 0, 107, PROXY_ERR_V1_LONG, "a CR as byte 107 (no room for LF)");
	}
}

/* v2 headers refused on their fixed part or their length (zero bodies). */
struct v2_case {
	unsigned vercmd, famproto;
	size_t declared, blen;
	enum proxy_error want;
	const char *what;
};

static const struct v2_case v2_bad[] = {
	{ 0x11, 0x11, 12, 12, PROXY_ERR_V2_VERSION, "v2 version 1" },
	{ 0x31, 0x11, 12, 12, PROXY_ERR_V2_VERSION, "v2 version 3" },
	{ 0x22, 0x11, 12, 12, PROXY_ERR_V2_COMMAND, "v2 command 2" },
	{ 0x2f, 0x11, 12, 12, PROXY_ERR_V2_COMMAND, "v2 command 15" },
	{ 0x21, 0x12, 12, 12, PROXY_ERR_V2_FAMILY, "v2 PROXY over UDP (DGRAM)" },
	{ 0x21, 0x10, 12, 12, PROXY_ERR_V2_FAMILY, "v2 PROXY with protocol UNSPEC" },
	{ 0x21, 0x00, 0, 0, PROXY_ERR_V2_FAMILY, "v2 PROXY with family UNSPEC" },
	{ 0x21, 0x31, 216, 216, PROXY_ERR_V2_FAMILY, "v2 PROXY over AF_UNIX" },
	{ 0x21, 0x41, 12, 12, PROXY_ERR_V2_FAMILY, "v2 family 4" },
	{ 0x20, 0x41, 0, 0, PROXY_ERR_V2_FAMILY, "v2 LOCAL with family 4" },
	{ 0x20, 0x03, 0, 0, PROXY_ERR_V2_FAMILY, "v2 LOCAL with protocol 3" },
	{ 0x21, 0x11, 11, 11, PROXY_ERR_V2_LENGTH, "v2 IPv4 length 11" },
	{ 0x21, 0x21, 35, 35, PROXY_ERR_V2_LENGTH, "v2 IPv6 length 35" },
	{ 0x21, 0x21, 12, 12, PROXY_ERR_V2_LENGTH, "v2 IPv6 with an IPv4-sized block" },
	{ 0x21, 0x11, PROXY_V2_BODY_MAX + 1, 0, PROXY_ERR_V2_LENGTH,
	  "v2 length over the cap, refused on the length alone" },
	{ 0x21, 0x11, 0xffff, 0, PROXY_ERR_V2_LENGTH, "v2 length 65535" },
};

static void test_v2(void)
{
	unsigned char buf[2048], body[1100];
	struct proxy_hdr h;
	size_t count, n;
	enum proxy_error err;
	static const unsigned char a4[12] = { 127, 0, 0, 2, 127, 0, 0, 1, 0x9c, 0x40, 0, 110 };
	unsigned char a6[36];

	n = v2(buf, 0x21, 0x11, 12, a4, 12);
	memcpy(buf + n, "+OK", 3);
	ok(parse(buf, n + 3, &h, &count, &err) == PROXY_DONE && count == 28 && h.version == 2 &&
	   h.family == AF_INET && memcmp(h.src, a4, 4) == 0 && h.src_port == 40000 &&
	   h.dst_port == 110, "v2 PROXY TCP over IPv4, trailing bytes not taken");
	ok(prefixes_need_more(buf, n), "  every prefix asks for more");

	memset(a6, 0, sizeof a6);
	a6[15] = 1;
	a6[31] = 1;
	a6[32] = 0x12;
	a6[33] = 0x34;
	n = v2(buf, 0x21, 0x21, 36, a6, 36);
	ok(parse(buf, n, &h, &count, &err) == PROXY_DONE && count == 52 &&
	   h.family == AF_INET6 && h.src[15] == 1 && h.src_port == 0x1234,
	   "v2 PROXY TCP over IPv6");
	ok(prefixes_need_more(buf, n), "  every prefix asks for more");

	/* TLVs: skipped, but they must tile the rest exactly */
	memcpy(body, a4, 12);
	memcpy(body + 12, "\x04\x00\x04" "abcd" "\x03\x00\x00", 10);
	n = v2(buf, 0x21, 0x11, 22, body, 22);
	ok(parse(buf, n, &h, &count, &err) == PROXY_DONE && count == 38 && h.family == AF_INET,
	   "v2 with two TLVs (one empty)");
	ok(prefixes_need_more(buf, n), "  every prefix asks for more");
	n = v2(buf, 0x21, 0x11, 14, body, 14);
	bad(buf, n, PROXY_ERR_V2_TLV, "v2 TLV with 2 of its 3 header bytes");
	memcpy(body + 12, "\x04\x00\x05" "abcd", 7);
	n = v2(buf, 0x21, 0x11, 19, body, 19);
	bad(buf, n, PROXY_ERR_V2_TLV, "v2 TLV longer than what is left");
	memcpy(body + 12, "\x04\x00\x03" "abcd", 7);
	n = v2(buf, 0x21, 0x11, 19, body, 19);
	bad(buf, n, PROXY_ERR_V2_TLV, "v2 TLV shorter, leaving one stray byte");

	/* LOCAL: a health check; the block (any family) is skipped */
	n = v2(buf, 0x20, 0x00, 0, NULL, 0);
	ok(parse(buf, n, &h, &count, &err) == PROXY_DONE && count == 16 && h.family == 0,
	   "v2 LOCAL, no address");
	ok(prefixes_need_more(buf, n), "  every prefix asks for more");
	n = v2(buf, 0x20, 0x11, 12, a4, 12);
	ok(parse(buf, n, &h, &count, &err) == PROXY_DONE && count == 28 && h.family == 0,
	   "v2 LOCAL with an IPv4 block: the block is ignored");
	n = v2(buf, 0x20, 0x31, 3, "abc", 3);
	ok(parse(buf, n, &h, &count, &err) == PROXY_DONE && h.family == 0,
	   "v2 LOCAL over AF_UNIX, short block: skipped");

	memset(body, 0, sizeof body);
	for (size_t i = 0; i < sizeof v2_bad / sizeof v2_bad[0]; i++) {
		const struct v2_case *c = &v2_bad[i];

		n = v2(buf, c->vercmd, c->famproto, c->declared, body, c->blen);
		bad(buf, n, c->want, c->what);
	}
	/* refused as soon as the offending byte is in, not at the end */
	n = v2(buf, 0x31, 0x11, 12, body, 12);
	bad(buf, 13, PROXY_ERR_V2_VERSION, "bad version seen at byte 13");
	n = v2(buf, 0x21, 0x12, 12, body, 12);
	bad(buf, 14, PROXY_ERR_V2_FAMILY, "bad family seen at byte 14");

	memset(body, 0, sizeof body);
	memcpy(body, a4, 12);
	body[12] = 0x04;
	body[13] = (unsigned char)((PROXY_V2_BODY_MAX - 15) >> 8);
	body[14] = (unsigned char)(PROXY_V2_BODY_MAX - 15);
	n = v2(buf, 0x21, 0x11, PROXY_V2_BODY_MAX, body, PROXY_V2_BODY_MAX);
	ok(parse(buf, n, &h, &count, &err) == PROXY_DONE && count == PROXY_MAX,
	   "v2 at exactly the cap (%d bytes)", PROXY_MAX);
	n = v2(buf, 0x21, 0x11, 100, a4, 12);
	ok(parse(buf, n, &h, &count, &err) == PROXY_MORE && count == 116,
	   "v2 promising 100 bytes waits for all 116");

	memcpy(buf, sig, 12);
	buf[11] = 'X';
	bad(buf, 12, PROXY_ERR_SIGNATURE, "v2 signature with a wrong last byte");
	bad("\r\n\r\n\x01", 5, PROXY_ERR_SIGNATURE, "v2 signature wrong at byte 5");
}

/* proxy_read on a socketpair: exactly the header is consumed. */
static void test_read(void)
{
	int sv[2];
	struct proxy_hdr h;
	enum proxy_error err;
	char rest[64];
	static const char v1[] = "PROXY TCP4 10.1.2.3 10.0.0.1 5555 110\r\n";
	pid_t pid;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		ok(0, "socketpair: %s", strerror(errno));
		return;
	}
	io_write_full(sv[1], v1, sizeof v1 - 1);
	io_write_full(sv[1], "CAPA\r\n", 6);
	ok(proxy_read(sv[0], io_now_ms() + 2000, &h, &err) == 0 && h.family == AF_INET &&
	   h.src[3] == 3, "read: v1 header then CAPA in one write");
	n = read(sv[0], rest, sizeof rest);
	ok(n == 6 && memcmp(rest, "CAPA\r\n", 6) == 0, "read: the POP3 bytes after it are left");

	/* a header trickling in, byte by byte, from another process */
	pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < sizeof v1 - 1; i++) {
			io_write_full(sv[1], v1 + i, 1);
			io_sleep_ms(2);
		}
		io_write_full(sv[1], "\x16", 1);
		_exit(0);
	}
	ok(proxy_read(sv[0], io_now_ms() + 10000, &h, &err) == 0 && h.src_port == 5555,
	   "read: a header in 39 pieces");
	waitpid(pid, NULL, 0);
	n = read(sv[0], rest, sizeof rest);
	ok(n == 1 && rest[0] == 0x16, "read: the TLS byte after it is left");

	io_write_full(sv[1], "PROXY TCP4 ", 11);
	ok(proxy_read(sv[0], io_now_ms() + 100, &h, &err) < 0 && err == PROXY_ERR_TIMEOUT,
	   "read: half a header, then silence: timed out");
	io_write_full(sv[1], "GET / HTTP/1.0\r\n", 16);
	ok(proxy_read(sv[0], io_now_ms() + 1000, &h, &err) < 0 && err == PROXY_ERR_SIGNATURE,
	   "read: garbage refused");
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	io_write_full(sv[1], "PROXY TCP4 1.2", 14);
	close(sv[1]);
	ok(proxy_read(sv[0], io_now_ms() + 1000, &h, &err) < 0 && err == PROXY_ERR_EOF,
	   "read: closed inside the header");
	close(sv[0]);
}

static int cidr_ok(const char *s, size_t want_n)
{
	struct proxy_cidr c[PROXY_FROM_MAX];
	size_t n;
	const char *why = NULL;

	return proxy_cidr_parse(s, c, PROXY_FROM_MAX, &n, &why) == 0 && n == want_n;
}

static int match(const char *list, const char *addr)
{
	struct proxy_cidr c[PROXY_FROM_MAX];
	struct sockaddr_storage ss;
	size_t n;
	const char *why;
	socklen_t len;

	memset(&ss, 0, sizeof ss);
	if (proxy_cidr_parse(list, c, PROXY_FROM_MAX, &n, &why) < 0)
		return -1;
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof *s4;
	}
	return proxy_cidr_match(c, n, &ss, len);
}

static void test_cidr(void)
{
	static const char *const badlists[] = {
		"", ",", "127.0.0.1,", ",127.0.0.1", "127.0.0.1,,10.0.0.0/8",
		"127.0.0.1/33", "::1/129", "127.0.0.1/", "127.0.0.1/-1", "127.0.0.1/+8",
		"127.0.0.1/08", "127.0.0.1/8x", "10.0.0.1/8", "127.0.0.1 ", " 127.0.0.1",
		"127.0.0.1, 10.0.0.1", "[::1]", "[::1]/128", "localhost", "127.1",
		"127.0.0.01", "fe80::1%lo", "2001:db8::1/32", "1.2.3.4/32/32",
		"999.0.0.0/8",
	};
	char many[PROXY_FROM_MAX * 12 + 20];
	size_t pos = 0;

	ok(cidr_ok("127.0.0.1", 1), "cidr: a bare IPv4 host");
	ok(cidr_ok("127.0.0.0/8,::1,2001:db8::/32,0.0.0.0/0,::/0", 5), "cidr: a mixed list");
	ok(cidr_ok("10.0.0.1/32", 1) && cidr_ok("::1/128", 1), "cidr: host prefixes");
	for (size_t i = 0; i < sizeof badlists / sizeof badlists[0]; i++)
		ok(!cidr_ok(badlists[i], 1) && !cidr_ok(badlists[i], 2),
		   "cidr: refused \"%s\"", badlists[i]);
	for (int i = 0; i < PROXY_FROM_MAX; i++)
		pos += (size_t)snprintf(many + pos, sizeof many - pos, "%s10.0.0.%d", i ? "," : "", i);
	ok(cidr_ok(many, PROXY_FROM_MAX), "cidr: %d entries", PROXY_FROM_MAX);
	snprintf(many + pos, sizeof many - pos, ",10.0.1.1");
	ok(!cidr_ok(many, PROXY_FROM_MAX + 1), "cidr: %d entries refused", PROXY_FROM_MAX + 1);

	ok(match("127.0.0.1", "127.0.0.1") == 1, "match: the host itself");
	ok(match("127.0.0.1", "127.0.0.2") == 0, "match: its neighbour is not");
	ok(match("127.0.0.0/8", "127.255.0.9") == 1, "match: inside /8");
	ok(match("10.0.0.0/9", "10.128.0.1") == 0, "match: just outside /9");
	ok(match("10.0.0.0/9", "10.127.255.255") == 1, "match: last of /9");
	ok(match("0.0.0.0/0", "203.0.113.5") == 1, "match: /0 is everything IPv4");
	ok(match("0.0.0.0/0", "2001:db8::1") == 0, "match: but no IPv6");
	ok(match("::/0", "1.2.3.4") == 0, "match: ::/0 is no IPv4");
	ok(match("127.0.0.1", "::ffff:127.0.0.1") == 1, "match: v4-mapped counts as IPv4");
	ok(match("2001:db8::/33", "2001:db8:8000::1") == 0, "match: IPv6 outside /33");
	ok(match("2001:db8::/33", "2001:db8:7fff::1") == 1, "match: IPv6 inside /33");
	ok(match("::1", "::1") == 1 && match("::1", "::2") == 0, "match: IPv6 host");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_v1();
	test_v2();
	test_read();
	test_cidr();
	ok(strcmp(proxy_strerror(999), "unknown error") == 0, "strerror: out of range");
	return tap_done();
}
