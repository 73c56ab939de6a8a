/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/pop3.c: the strict command parser (table-driven), the
 * line splitter (long lines, split reads, terminators), the no-read-ahead
 * reader over real sockets and pipes, and the buffered output.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pop3.h"
#include "sysio.h"
#include "tap.h"

struct parse_case {
	const char *line;
	size_t len;		/* 0: strlen(line) */
	int ok;
	enum pop3_verb verb;
	unsigned nargs;
	uint32_t msg;
	uint64_t lines;
	const char *arg;	/* expected USER/PASS argument */
};

static const struct parse_case parse_cases[] = {
	/* every verb, and case-insensitivity */
	{ "USER alice", 0, 1, POP3_USER, 1, 0, 0, "alice" },
	{ "user alice", 0, 1, POP3_USER, 1, 0, 0, "alice" },
	{ "uSeR a", 0, 1, POP3_USER, 1, 0, 0, "a" },
	{ "PASS secret", 0, 1, POP3_PASS, 1, 0, 0, "secret" },
	{ "pass with  two spaces ", 0, 1, POP3_PASS, 1, 0, 0, "with  two spaces " },
	{ "PASS  lead", 0, 1, POP3_PASS, 1, 0, 0, " lead" },
	{ "QUIT", 0, 1, POP3_QUIT, 0, 0, 0, NULL },
	{ "quit", 0, 1, POP3_QUIT, 0, 0, 0, NULL },
	{ "CAPA", 0, 1, POP3_CAPA, 0, 0, 0, NULL },
	{ "capa", 0, 1, POP3_CAPA, 0, 0, 0, NULL },
	{ "STAT", 0, 1, POP3_STAT, 0, 0, 0, NULL },
	{ "Stat", 0, 1, POP3_STAT, 0, 0, 0, NULL },
	{ "LIST", 0, 1, POP3_LIST, 0, 0, 0, NULL },
	{ "LIST 1", 0, 1, POP3_LIST, 1, 1, 0, NULL },
	{ "list 4294967295", 0, 1, POP3_LIST, 1, 4294967295u, 0, NULL },
	{ "RETR 1", 0, 1, POP3_RETR, 1, 1, 0, NULL },
	{ "retr 17", 0, 1, POP3_RETR, 1, 17, 0, NULL },
	{ "DELE 2", 0, 1, POP3_DELE, 1, 2, 0, NULL },
	{ "dele 10", 0, 1, POP3_DELE, 1, 10, 0, NULL },
	{ "NOOP", 0, 1, POP3_NOOP, 0, 0, 0, NULL },
	{ "noop", 0, 1, POP3_NOOP, 0, 0, 0, NULL },
	{ "RSET", 0, 1, POP3_RSET, 0, 0, 0, NULL },
	{ "rset", 0, 1, POP3_RSET, 0, 0, 0, NULL },
	{ "TOP 1 0", 0, 1, POP3_TOP, 2, 1, 0, NULL },
	{ "top 3 10", 0, 1, POP3_TOP, 2, 3, 10, NULL },
	{ "TOP 1 9223372036854775807", 0, 1, POP3_TOP, 2, 1, 9223372036854775807ULL, NULL },
	{ "UIDL", 0, 1, POP3_UIDL, 0, 0, 0, NULL },
	{ "uidl 5", 0, 1, POP3_UIDL, 1, 5, 0, NULL },
	{ "USER caf\xc3\xa9", 0, 1, POP3_USER, 1, 0, 0, "caf\xc3\xa9" },
	/* unknown and absent commands */
	{ "", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ ":", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "::::", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ " ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ " STAT", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "\tSTAT", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "STAT\t", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "APOP mrose c4c9334bac560ecc979e58001b3e22fb", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	/* STLS (RFC 2595) and AUTH (RFC 5034): mechanism, then one token */
	{ "STLS", 0, 1, POP3_STLS, 0, 0, 0, NULL },
	{ "stls", 0, 1, POP3_STLS, 0, 0, 0, NULL },
	{ "AUTH", 0, 1, POP3_AUTH, 0, 0, 0, NULL },
	{ "AUTH PLAIN", 0, 1, POP3_AUTH, 1, 0, 0, "PLAIN" },
	{ "auth plain AHRpbQB0aW0=", 0, 1, POP3_AUTH, 2, 0, 0, "plain" },
	{ "AUTH PLAIN =", 0, 1, POP3_AUTH, 2, 0, 0, "PLAIN" },
	{ "AUTH SCRAM-SHA-256", 0, 1, POP3_AUTH, 1, 0, 0, "SCRAM-SHA-256" },
	{ "AUTH ABCDEFGHIJKLMNOPQRST", 0, 1, POP3_AUTH, 1, 0, 0, "ABCDEFGHIJKLMNOPQRST" },
	{ "STLS x", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "STLS ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "AUTH ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "AUTH  PLAIN", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "AUTH PLAIN ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "AUTH PLAIN a b", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "AUTH PLAIN a ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "AUTH PL/AIN", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "AUTH PLAIN\tx", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "AUTH ABCDEFGHIJKLMNOPQRSTU", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "STATS", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "ST", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "LISTX", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "X", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "\xff\xfe\xfd\xfc", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	/* NUL and CR are errors, never terminators */
	{ "STAT\0", 5, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "ST\0AT", 5, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "PASS a\0b", 8, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "USER a\0", 7, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "STAT\r", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "STAT\rLIST", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "PASS a\rb", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	/* argument counts */
	{ "STAT 1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "STAT ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "QUIT now", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "NOOP x", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RSET 1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "CAPA x", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR 1 2", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "DELE", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "DELE 1 1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "LIST ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "LIST 1 2", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "LIST  1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "LIST 1 ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "UIDL 1 2", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 1 ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 1  2", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 1 2 3", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "USER", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "USER ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "USER a b", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "USER a ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "USER a\tb", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "USER a\x7f", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "USER a\x01", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "PASS", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "PASS ", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	/* numbers: only num_parse's digits, range-checked */
	{ "LIST 4294967296", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "LIST 4294967297", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "LIST 18446744073709551617", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR 00000000000000000001", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR 01", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR 0", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "LIST 0", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "DELE 0", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR -1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR +1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR 1x", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR x", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR 0x1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR 1.0", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "RETR \xd9\xa1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 1 -1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 0 1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 1 01", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 1 9223372036854775808", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP 1 99999999999999999999999", 0, 0, POP3_NONE, 0, 0, 0, NULL },
	{ "TOP -1 1", 0, 0, POP3_NONE, 0, 0, 0, NULL },
};

static void test_parse_table(void)
{
	size_t i;

	for (i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		const struct parse_case *t = &parse_cases[i];
		size_t len = t->len ? t->len : strlen(t->line);
		struct pop3_cmd c;
		const char *err = NULL;
		char shown[64];
		int r = pop3_parse((const unsigned char *)t->line, len, &c, &err);
		size_t k;

		for (k = 0; k < len && k < sizeof shown - 1; k++)
			shown[k] = t->line[k] >= 0x20 && t->line[k] < 0x7f ? t->line[k] : '?';
		shown[k] = '\0';
		if (!t->ok) {
			ok(r < 0 && err && *err && c.verb == POP3_NONE,
			   "parse rejects \"%s\" (%s)", shown, err ? err : "no message");
			continue;
		}
		ok(r == 0 && c.verb == t->verb && c.nargs == t->nargs &&
		   c.msg == t->msg && c.lines == t->lines,
		   "parse accepts \"%s\" (verb %d nargs %u msg %u lines %llu)", shown,
		   (int)c.verb, c.nargs, c.msg, (unsigned long long)c.lines);
		if (t->arg)
			ok(r == 0 && c.arglen == strlen(t->arg) &&
			   memcmp(c.arg, t->arg, c.arglen) == 0,
			   "argument of \"%s\" is exactly \"%s\"", shown, t->arg);
	}
}

static void test_parse_limits(void)
{
	unsigned char line[600];
	struct pop3_cmd c;
	const char *err;

	/* USER names up to 255 octets, not one more */
	memcpy(line, "USER ", 5);
	memset(line + 5, 'u', 256);
	ok(pop3_parse(line, 5 + 255, &c, &err) == 0 && c.arglen == 255,
	   "USER with a 255-octet name is accepted");
	ok(pop3_parse(line, 5 + 256, &c, &err) < 0, "USER with a 256-octet name is refused");
	/* PASS takes everything, up to the line limit */
	memcpy(line, "PASS ", 5);
	memset(line + 5, ' ', 500);
	ok(pop3_parse(line, 505, &c, &err) == 0 && c.arglen == 500,
	   "PASS of 500 spaces is a 500-octet password");
}

/* Feed everything at once, collect what the splitter says. */
static void test_reader_basic(void)
{
	static const char in[] = "STAT\r\nLIST\nNOOP\r\n\r\n\n\r\r\nRETR 1";
	struct pop3_reader r;
	const unsigned char *p;
	size_t n;

	pop3_reader_init(&r, POP3_IN_MAX, 0);
	ok(pop3_reader_ready(&r) == 0, "empty reader is not ready");
	ok(pop3_reader_feed(&r, in, sizeof in - 1) == 0, "feed a pipelined burst");
	ok(pop3_reader_ready(&r) == 1, "reader with a line is ready");
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == 4 && memcmp(p, "STAT", 4) == 0,
	   "CRLF line STAT");
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == 4 && memcmp(p, "LIST", 4) == 0,
	   "bare LF line LIST");
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == 4 && memcmp(p, "NOOP", 4) == 0,
	   "CRLF line NOOP");
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == 0, "empty CRLF line");
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == 0, "empty LF line");
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == 1 && p[0] == '\r',
	   "CR CR LF keeps one CR in the line (which the parser refuses)");
	ok(pop3_reader_ready(&r) == 0, "unterminated RETR 1 is not ready");
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE, "unterminated RETR 1 needs more");
	ok(pop3_reader_feed(&r, "\r", 1) == 0 &&
	   pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE, "CR alone does not end a line");
	ok(pop3_reader_feed(&r, "\n", 1) == 0 &&
	   pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == 6 && memcmp(p, "RETR 1", 6) == 0,
	   "command split across reads is joined");
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE, "drained");
	ok(r.in.len == 0, "nothing left in the buffer");
	pop3_reader_free(&r);
}

/* Byte-at-a-time delivery yields the same lines. */
static void test_reader_bytewise(void)
{
	static const char in[] = "USER a\r\nPASS b c\r\nSTAT\n";
	static const char *want[] = { "USER a", "PASS b c", "STAT" };
	struct pop3_reader r;
	const unsigned char *p;
	size_t n, i, got = 0, more = 0;
	int good = 1;

	pop3_reader_init(&r, POP3_LINE_MAX, 1);
	for (i = 0; i < sizeof in - 1; i++) {
		enum pop3_line st;

		pop3_reader_feed(&r, in + i, 1);
		while ((st = pop3_reader_line(&r, &p, &n)) == POP3_LINE_OK) {
			if (got >= 3 || n != strlen(want[got]) || memcmp(p, want[got], n))
				good = 0;
			got++;
		}
		if (st == POP3_LINE_MORE)
			more++;
	}
	ok(good && got == 3, "byte-at-a-time: three lines, in order, intact");
	ok(more == sizeof in - 1, "MORE after every byte (%zu)", more);
	pop3_reader_free(&r);
}

/*
 * An over-long line, delivered in chunks, then a good command: exactly one
 * LONG, no line from its tail, then the command.
 */
static void test_reader_long(size_t len, size_t chunk, const char *name)
{
	struct pop3_reader r;
	unsigned char *in;
	size_t total = len + 2 + 6, off = 0, longs = 0, oks = 0;
	const unsigned char *p;
	size_t n;
	int noop = 0;

	in = malloc(total);
	if (!in)
		abort();
	/* The tail looks like commands: none of them may run. */
	for (size_t i = 0; i < len; i++)
		in[i] = "QUIT DELE 1 "[i % 12];
	memcpy(in + len, "\r\nNOOP\r\n", 8);
	pop3_reader_init(&r, POP3_IN_MAX, 0);
	while (off < total) {
		size_t k = total - off < chunk ? total - off : chunk;
		enum pop3_line st;

		if (pop3_reader_feed(&r, in + off, k) < 0)
			break;
		off += k;
		while ((st = pop3_reader_line(&r, &p, &n)) != POP3_LINE_MORE) {
			if (st == POP3_LINE_LONG)
				longs++;
			else if (n == 4 && memcmp(p, "NOOP", 4) == 0)
				noop++;
			else
				oks++;
		}
		if (r.in.cap > POP3_IN_MAX + 1)
			break;
	}
	ok(off == total, "%s line: fed in %zu-byte chunks without overflowing", name, chunk);
	ok(longs == 1, "%s line: exactly one LONG (%zu)", name, longs);
	ok(oks == 0, "%s line: nothing of its tail came out as a line", name);
	ok(noop == 1, "%s line: the next command is intact", name);
	ok(r.in.cap <= POP3_IN_MAX + 1, "%s line: memory stayed bounded (%zu)", name, r.in.cap);
	pop3_reader_free(&r);
	free(in);
}

static void test_reader_boundary(void)
{
	unsigned char in[POP3_LINE_MAX + 8];
	struct pop3_reader r;
	const unsigned char *p;
	size_t n;

	/* 511 octets and LF: 512 in all, the most we accept */
	memset(in, 'x', sizeof in);
	in[POP3_LINE_MAX - 1] = '\n';
	pop3_reader_init(&r, POP3_IN_MAX, 0);
	pop3_reader_feed(&r, in, POP3_LINE_MAX);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == POP3_LINE_MAX - 1,
	   "a %d-octet line with LF is accepted", POP3_LINE_MAX);
	pop3_reader_free(&r);
	/* 510 octets and CRLF */
	memset(in, 'x', sizeof in);
	in[POP3_LINE_MAX - 2] = '\r';
	in[POP3_LINE_MAX - 1] = '\n';
	pop3_reader_init(&r, POP3_IN_MAX, 0);
	pop3_reader_feed(&r, in, POP3_LINE_MAX);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == POP3_LINE_MAX - 2,
	   "a %d-octet line with CRLF is accepted", POP3_LINE_MAX);
	pop3_reader_free(&r);
	/* one more octet is too long */
	memset(in, 'x', sizeof in);
	in[POP3_LINE_MAX] = '\n';
	pop3_reader_init(&r, POP3_IN_MAX, 0);
	pop3_reader_feed(&r, in, POP3_LINE_MAX + 1);
	ok(pop3_reader_ready(&r) == 1, "a %d-octet line makes the reader ready (for LONG)",
	   POP3_LINE_MAX + 1);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_LONG, "a %d-octet line is LONG",
	   POP3_LINE_MAX + 1);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE && r.in.len == 0,
	   "its LF is consumed with it");
	pop3_reader_free(&r);
	/* a long line's prefix with no LF yet: LONG as soon as it can't fit */
	pop3_reader_init(&r, POP3_IN_MAX, 0);
	pop3_reader_feed(&r, in, POP3_LINE_MAX - 1);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE, "%d octets without LF: wait",
	   POP3_LINE_MAX - 1);
	pop3_reader_feed(&r, "x", 1);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_LONG, "%d octets without LF: LONG",
	   POP3_LINE_MAX);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE, "then skipping");
	pop3_reader_feed(&r, "y\r\nSTAT\r\n", 9);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_OK && n == 4 && memcmp(p, "STAT", 4) == 0,
	   "after the tail's LF, the next command");
	pop3_reader_free(&r);
}

static size_t test_pending(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n) < 0)
		return (size_t)-1;
	return (size_t)n;
}

/* The pre-auth reader never takes a byte past the current line. */
static void test_fill_line(int sock, const char *kind)
{
	static const char burst[] = "USER a\r\nPASS b c\r\nSTAT\r\n";
	int fds[2];
	struct pop3_reader r;
	const unsigned char *p;
	size_t n;
	ssize_t got;
	long long dl = io_now_ms() + 10000;

	if (sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds)) {
		ok(0, "%s: create", kind);
		return;
	}
	pop3_reader_init(&r, POP3_LINE_MAX, 1);
	ok(write(fds[1], burst, sizeof burst - 1) == (ssize_t)sizeof burst - 1,
	   "%s: client pipelines USER/PASS/STAT in one write", kind);
	while (pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE)
		if (pop3_reader_fill_line(&r, fds[0], dl) <= 0)
			break;
	ok(r.taken == 8 && n == 6 && memcmp(p, "USER a", 6) == 0, "%s: first line USER a", kind);
	ok(test_pending(fds[0]) == sizeof burst - 1 - 8,
	   "%s: PASS and STAT still in the kernel (%zu)", kind, test_pending(fds[0]));
	while (pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE)
		if (pop3_reader_fill_line(&r, fds[0], dl) <= 0)
			break;
	ok(n == 8 && memcmp(p, "PASS b c", 8) == 0, "%s: second line PASS b c", kind);
	ok(test_pending(fds[0]) == 6, "%s: exactly STAT\\r\\n left unread", kind);
	ok(r.in.len == 10, "%s: the reader holds only the PASS line", kind);
	/* a socket gives the whole line at once, a pipe a byte per call */
	{
		size_t calls = 0, total = 0;

		while (pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE) {
			got = pop3_reader_fill_line(&r, fds[0], POP3_NOWAIT);
			if (got <= 0)
				break;
			total += (size_t)got;
			calls++;
		}
		ok(total == 6 && calls == (sock ? 1u : 6u),
		   "%s: NOWAIT takes what is there, up to the LF (%zu in %zu calls)", kind, total, calls);
		ok(n == 4 && memcmp(p, "STAT", 4) == 0, "%s: STAT", kind);
	}
	errno = 0;
	got = pop3_reader_fill_line(&r, fds[0], POP3_NOWAIT);
	ok(got < 0 && errno == ETIMEDOUT, "%s: NOWAIT on an idle peer returns at once", kind);
	got = pop3_reader_fill_line(&r, fds[0], io_now_ms() + 50);
	ok(got < 0 && errno == ETIMEDOUT, "%s: deadline passes with ETIMEDOUT", kind);
	/* an over-long line through the peeking reader */
	{
		char big[3000];

		memset(big, 'A', sizeof big);
		memcpy(big + sizeof big - 8, "\r\nNOOP\r\n", 8);
		ok(write(fds[1], big, sizeof big) == (ssize_t)sizeof big, "%s: send a 2992-octet line", kind);
	}
	{
		int longs = 0, noop = 0, other = 0;
		enum pop3_line st;

		while (!noop) {
			st = pop3_reader_line(&r, &p, &n);
			if (st == POP3_LINE_MORE) {
				if (pop3_reader_fill_line(&r, fds[0], dl) <= 0)
					break;
			} else if (st == POP3_LINE_LONG)
				longs++;
			else if (n == 4 && memcmp(p, "NOOP", 4) == 0)
				noop = 1;
			else
				other++;
		}
		ok(longs == 1 && other == 0 && noop == 1,
		   "%s: long line gives one LONG, then NOOP", kind);
		ok(r.in.cap <= POP3_LINE_MAX + 1, "%s: buffer stayed within one line", kind);
	}
	close(fds[1]);
	ok(pop3_reader_line(&r, &p, &n) == POP3_LINE_MORE &&
	   pop3_reader_fill_line(&r, fds[0], dl) == 0, "%s: EOF reads as 0", kind);
	close(fds[0]);
	pop3_reader_free(&r);
}

/* The session's reader reads ahead (pipelining) but within its ceiling. */
static void test_fill(void)
{
	int fds[2];
	struct pop3_reader r;
	const unsigned char *p;
	size_t n;
	char big[20000];
	ssize_t got;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) {
		ok(0, "socketpair");
		return;
	}
	pop3_reader_init(&r, POP3_IN_MAX, 0);
	for (size_t i = 0; i < sizeof big; i += 5)
		memcpy(big + i, "NOOP\n", 5);
	ok(write(fds[1], big, sizeof big) == (ssize_t)sizeof big, "send 4000 pipelined NOOPs");
	got = pop3_reader_fill(&r, fds[0], io_now_ms() + 10000);
	ok(got > 0 && (size_t)got <= POP3_IN_MAX, "fill reads at most its ceiling (%zd)", got);
	{
		size_t count = 0;
		enum pop3_line st;

		for (;;) {
			st = pop3_reader_line(&r, &p, &n);
			if (st == POP3_LINE_OK && n == 4 && memcmp(p, "NOOP", 4) == 0) {
				count++;
				continue;
			}
			if (st != POP3_LINE_MORE)
				break;
			if (count == 4000)
				break;
			if (pop3_reader_fill(&r, fds[0], io_now_ms() + 10000) <= 0)
				break;
		}
		ok(count == 4000, "all 4000 NOOPs came out, in whole lines (%zu)", count);
	}
	errno = 0;
	ok(pop3_reader_fill(&r, fds[0], POP3_NOWAIT) < 0 &&
	   (errno == ETIMEDOUT || errno == EAGAIN), "NOWAIT fill on an idle socket");
	close(fds[1]);
	ok(pop3_reader_fill(&r, fds[0], io_now_ms() + 10000) == 0, "EOF");
	close(fds[0]);
	pop3_reader_free(&r);
}

static size_t test_read_all(int fd, char *p, size_t max)
{
	size_t got = 0;

	for (;;) {
		ssize_t r = read(fd, p + got, max - got);

		if (r <= 0 || (got += (size_t)r) == max)
			return got;
	}
}

static void test_out(void)
{
	int fds[2];
	struct pop3_out o;
	char rd[4096];
	char longfmt[600];
	pid_t pid;
	int status;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) {
		ok(0, "socketpair");
		return;
	}
	pop3_out_init(&o, fds[0], 5);
	ok(pop3_reply(&o, "+OK %u %s", 3u, "x") == 0 && pop3_reply(&o, "-ERR no") == 0,
	   "two replies buffered");
	ok(test_pending(fds[1]) == 0, "nothing written before the flush");
	ok(pop3_out_flush(&o) == 0, "flush");
	ok(o.sent == 18, "flush wrote both (%llu)", (unsigned long long)o.sent);
	ok(read(fds[1], rd, sizeof rd) == 18 && memcmp(rd, "+OK 3 x\r\n-ERR no\r\n", 18) == 0,
	   "in one piece, CRLF-terminated, in order");
	memset(longfmt, 'a', sizeof longfmt);
	longfmt[POP3_REPLY_MAX - 2] = '\0';
	ok(pop3_reply(&o, "%s", longfmt) == 0, "a 512-octet reply (with CRLF) is allowed");
	longfmt[POP3_REPLY_MAX - 2] = 'a';
	longfmt[POP3_REPLY_MAX - 1] = '\0';
	ok(pop3_reply(&o, "%s", longfmt) < 0 && o.failed,
	   "a 513-octet reply is refused and poisons the output");
	ok(pop3_out_write(&o, "x", 1) < 0 && pop3_out_flush(&o) < 0, "failure is sticky");
	pop3_out_free(&o);
	/* CAPA before and after login */
	{
		struct pop3_capa c = { 1, NULL, 0, 0, 0, 0, 0 };
		static const char pre[] = "+OK Capability list follows\r\nUSER\r\nTOP\r\nUIDL\r\n"
			"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n.\r\n";
		char post[512];
		int len;

		pop3_out_init(&o, fds[0], 5);
		pop3_capa(&o, &c);
		pop3_out_flush(&o);
		ok(read(fds[1], rd, sizeof rd) == (ssize_t)sizeof pre - 1 &&
		   memcmp(rd, pre, sizeof pre - 1) == 0, "CAPA before login, byte-exact");
		c.user = 0;
		c.expire = "30 USER";
		c.login_delay = 900;
		c.implementation = 1;
		pop3_capa(&o, &c);
		pop3_out_flush(&o);
		len = snprintf(post, sizeof post, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
			       "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE 30 USER\r\n"
			       "LOGIN-DELAY 900\r\nIMPLEMENTATION popa3d\r\n.\r\n");
		ok(read(fds[1], rd, sizeof rd) == len && memcmp(rd, post, (size_t)len) == 0,
		   "CAPA with EXPIRE, LOGIN-DELAY, IMPLEMENTATION (no version), without USER, byte-exact");
		c.version = 1;
		pop3_capa(&o, &c);
		pop3_out_flush(&o);
		len = snprintf(post, sizeof post, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
			       "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE 30 USER\r\n"
			       "LOGIN-DELAY 900\r\nIMPLEMENTATION popa3d-%s\r\n.\r\n", PACKAGE_VERSION);
		ok(read(fds[1], rd, sizeof rd) == len && memcmp(rd, post, (size_t)len) == 0,
		   "--capa-version: IMPLEMENTATION with the version, byte-exact");
		c.version = 0;
		c.expire = "1\r\nSTLS";
		pop3_capa(&o, &c);
		pop3_out_flush(&o);
		memset(rd, 0, sizeof rd);
		ok(read(fds[1], rd, sizeof rd) > 0 && strstr(rd, "EXPIRE NEVER\r\n") &&
		   !strstr(rd, "STLS"), "a configured EXPIRE with CR LF is not sent");
		pop3_out_free(&o);
	}
	/* a large stream passes through the 64 KiB buffer with bounded memory */
	pid = fork();
	if (pid == 0) {
		char chunk[1000];
		int bad = 0;

		close(fds[1]);
		pop3_out_init(&o, fds[0], 10);
		for (int i = 0; i < 3000; i++) {
			memset(chunk, 'a' + i % 26, sizeof chunk);
			if (pop3_out_write(&o, chunk, sizeof chunk) < 0)
				bad = 1;
			if (o.buf.cap > POP3_OUT_MAX + 1)
				bad = 2;
		}
		if (pop3_out_flush(&o) < 0)
			bad = 3;
		_exit(bad);
	}
	{
		static char all[3000 * 1000 + 1];
		size_t got, i;
		int good = 1;

		close(fds[0]);
		got = test_read_all(fds[1], all, sizeof all);
		for (i = 0; i < got && good; i++)
			if (all[i] != 'a' + (int)(i / 1000) % 26)
				good = 0;
		ok(got == 3000 * 1000 && good, "3 MB streamed in order (%zu)", got);
		ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "writer never held more than the ceiling (status %d)", status);
		close(fds[1]);
	}
	/* a peer that stops reading is dropped at the timeout */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) {
		ok(0, "socketpair");
		return;
	}
	io_set_nonblock(fds[0], 1);
	pop3_out_init(&o, fds[0], 1);
	{
		static char chunk[65536];
		int r = 0;

		for (int i = 0; i < 200 && r == 0; i++)
			r = pop3_out_write(&o, chunk, sizeof chunk);
		if (r == 0)
			r = pop3_out_flush(&o);
		ok(r < 0 && errno == ETIMEDOUT, "stalled reader: write fails with ETIMEDOUT");
	}
	pop3_out_free(&o);
	close(fds[0]);
	close(fds[1]);
}

/* The shared command loop (pop3_loop_run) over a real socket pair. */
struct test_loop {
	struct pop3_reader rd;
	struct pop3_out out;
	int fd;
	int guarded;		/* guard calls seen */
};

static ssize_t test_loop_fill(void *ctx, long long deadline_ms)
{
	struct test_loop *t = ctx;

	return pop3_reader_fill(&t->rd, t->fd, deadline_ms);
}

static int test_loop_guard(void *ctx, const char *name, enum pop3_next *next)
{
	struct test_loop *t = ctx;

	t->guarded++;
	*next = POP3_NEXT_GO_ON;
	pop3_reply(&t->out, "-ERR guarded %s", name);
	return -1;
}

static enum pop3_next test_loop_noop(void *ctx, const struct pop3_cmd *c)
{
	struct test_loop *t = ctx;

	(void)c;
	pop3_reply(&t->out, "+OK");
	return POP3_NEXT_GO_ON;
}

static enum pop3_next test_loop_quit(void *ctx, const struct pop3_cmd *c)
{
	struct test_loop *t = ctx;

	(void)c;
	pop3_reply(&t->out, "+OK bye");
	return POP3_NEXT_END;
}

static enum pop3_next test_loop_user(void *ctx, const struct pop3_cmd *c)
{
	(void)ctx;
	(void)c;
	return POP3_NEXT_HANDOFF;
}

static const struct pop3_command test_loop_table[] = {
	{ POP3_NOOP, "NOOP", test_loop_noop, 0 },
	{ POP3_STAT, "STAT", test_loop_noop, POP3_CMD_GUARDED },
	{ POP3_QUIT, "QUIT", test_loop_quit, 0 },
	{ POP3_USER, "USER", test_loop_user, 0 },
	{ POP3_NONE, NULL, NULL, 0 }
};

/* Send in, close our side, run the loop; its output (flushed) in got. */
static enum pop3_loop_end test_loop_one(const char *in, unsigned max_commands,
					char *got, size_t max, struct test_loop *t)
{
	int fds[2];
	enum pop3_loop_end why;
	struct pop3_loop l = {
		.rd = &t->rd, .out = &t->out, .timeout = 60,
		.max_commands = max_commands, .table = test_loop_table,
		.refused = "-ERR refused", .fill = test_loop_fill,
		.guard = test_loop_guard, .ctx = t,
	};
	size_t n;

	memset(t, 0, sizeof *t);
	got[0] = '\0';
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) {
		ok(0, "socketpair");
		return POP3_LOOP_READ_ERROR;
	}
	t->fd = fds[0];
	pop3_reader_init(&t->rd, POP3_IN_MAX, 0);
	pop3_out_init(&t->out, fds[0], 5);
	if (write(fds[1], in, strlen(in)) != (ssize_t)strlen(in))
		ok(0, "write the input");
	shutdown(fds[1], SHUT_WR);
	why = pop3_loop_run(&l);
	pop3_out_flush(&t->out);
	close(fds[0]);
	n = test_read_all(fds[1], got, max - 1);
	got[n] = '\0';
	close(fds[1]);
	pop3_reader_free(&t->rd);
	pop3_out_free(&t->out);
	return why;
}

static void test_loop(void)
{
	struct test_loop t;
	char got[1024];

	ok(test_loop_one("NOOP\r\nRETR 1\r\nSTAT\r\nBOGUS\r\nQUIT\r\nNOOP\r\n", 0,
			 got, sizeof got, &t) == POP3_LOOP_END,
	   "loop: QUIT's END stops it");
	ok(strcmp(got, "+OK\r\n-ERR refused\r\n-ERR guarded STAT\r\n"
		  "-ERR Unknown command\r\n+OK bye\r\n") == 0,
	   "loop: table, refusal, guard, parse error in order; nothing after QUIT");
	ok(t.guarded == 1, "loop: the guard ran for the guarded command only");
	ok(test_loop_one("NOOP\r\nNOOP\r\n", 0, got, sizeof got, &t) == POP3_LOOP_EOF &&
	   strcmp(got, "+OK\r\n+OK\r\n") == 0,
	   "loop: a half-closed client gets its answers, then EOF");
	ok(test_loop_one("NOOP\r\nNOOP\r\nNOOP\r\n", 2, got, sizeof got, &t) ==
	   POP3_LOOP_TOO_MANY && strcmp(got, "+OK\r\n+OK\r\n") == 0,
	   "loop: max_commands answers that many, the next line is not run");
	ok(test_loop_one("USER a\r\nNOOP\r\n", 0, got, sizeof got, &t) ==
	   POP3_LOOP_HANDOFF && got[0] == '\0',
	   "loop: HANDOFF stops before the pipelined NOOP");
}

int main(void)
{
	alarm(300);	/* hang guard, not a timing assertion */
	signal(SIGPIPE, SIG_IGN);
	test_parse_table();
	test_parse_limits();
	test_reader_basic();
	test_reader_bytewise();
	test_reader_long(1024, 100, "1 KB");
	test_reader_long(65536, 4096, "64 KB");
	test_reader_long(10 * 1024 * 1024, 4096, "10 MB");
	test_reader_long(3000, 1, "byte-fed 3 KB");
	test_reader_boundary();
	test_fill_line(1, "socket");
	test_fill_line(0, "pipe");
	test_fill();
	test_out();
	test_loop();
	return tap_done();
}
