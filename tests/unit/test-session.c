/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * session_run over a real socketpair on real mbox files written by the
 * test: every RFC 1939 TRANSACTION command's success and error paths,
 * pipelining, UPDATE only on QUIT, change detection, open failures.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "mbox.h"
#include "num.h"
#include "preauth.h"
#include "session.h"
#include "sysio.h"
#include "tap.h"

static char dir[] = "/tmp/test-session.XXXXXX";
static char path[256];

/* Two messages; the first has a line that needs dot-stuffing. */
static const char mbox2[] =
	"From alice@example.org Mon Jan  1 00:00:00 2024\n"
	"Subject: one\n"
	"Message-ID: <one@example.org>\n"
	"From: alice@example.org\n"
	"\n"
	"body one\n"
	".dotline\n"
	"\n"
	"From bob@example.org Mon Jan  1 00:00:01 2024\n"
	"Subject: two\n"
	"\n"
	"line1\n"
	"line2\n"
	"line3\n"
	"\n";

static const char appended[] =
	"From carol@example.org Mon Jan  1 00:00:02 2024\n"
	"Subject: three\n"
	"\n"
	"appended\n";

/* When >= 0, the session child logs to stderr and stderr goes here. */
static int c_logfd = -1;

struct c {
	pid_t pid;
	int fd;
	char in[1 << 16];
	size_t len;
	int eof;
};

static void write_file(const char *p, const void *data, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || io_write_full(fd, data, n) < 0 || close(fd) < 0)
		abort();
}

/* The whole file, malloc'd (the caller frees); NULL if unreadable. */
static char *read_file(const char *p, size_t *n)
{
	struct stat st;
	char *buf;
	int fd = open(p, O_RDONLY);

	*n = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1)) ||
	    io_read_full(fd, buf, (size_t)st.st_size) < 0)
		abort();
	close(fd);
	*n = (size_t)st.st_size;
	return buf;
}

static int file_is(const char *p, const char *want, size_t n)
{
	size_t got;
	char *data = read_file(p, &got);
	int same = data && got == n && memcmp(data, want, n) == 0;

	free(data);
	return same;
}

static void opts_init(struct session_opts *o)
{
	memset(o, 0, sizeof *o);
	o->timeout = 30;
	o->user = "tester";
	o->mailbox = path;
	mbox_opts_default(&o->mbox);
	o->mbox.owner = geteuid();
	o->mbox.lock_timeout = 1;
	o->session_id = "t1";
	o->rip = "192.0.2.1";
}

static void c_start(struct c *c, const struct session_opts *o)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	c->len = 0;
	c->eof = 0;
	c->pid = fork();
	if (c->pid < 0)
		abort();
	if (c->pid == 0) {
		close(sv[0]);
		alarm(120);	/* hang guard: a stuck child must not stall make check */
		if (c_logfd >= 0) {
			if (dup2(c_logfd, 2) < 0)
				_exit(99);
			close(c_logfd);
			log_open(1);
		}
		_exit(session_run(sv[1], sv[1], o));
	}
	close(sv[1]);
	c->fd = sv[0];
}

static void c_say(struct c *c, const char *s)
{
	if (io_write_full(c->fd, s, strlen(s)) < 0)
		ok(0, "client write: %s", strerror(errno));
}

/* Read more; 0 at EOF or after 10 s of silence (hang guard). */
static int c_more(struct c *c)
{
	ssize_t r;

	if (c->eof || c->len == sizeof c->in)
		return 0;
	r = io_read_deadline(c->fd, c->in + c->len, sizeof c->in - c->len, io_now_ms() + 10000);
	if (r <= 0) {
		c->eof = 1;
		return 0;
	}
	c->len += (size_t)r;
	return 1;
}

static void c_take(struct c *c, size_t n)
{
	memmove(c->in, c->in + n, c->len - n);
	c->len -= n;
}

/* One CRLF-terminated line into out (terminator dropped); -1 at EOF. */
static int c_line(struct c *c, char *out, size_t outsize)
{
	for (;;) {
		char *lf = memchr(c->in, '\n', c->len);

		if (lf && lf > c->in && lf[-1] == '\r') {
			size_t n = (size_t)(lf - c->in) - 1;

			if (n >= outsize)
				n = outsize - 1;
			memcpy(out, c->in, n);
			out[n] = '\0';
			c_take(c, (size_t)(lf - c->in) + 1);
			return 0;
		}
		if (!c_more(c))
			return -1;
	}
}

/*
 * A multi-line body up to ".\r\n", with dot-stuffing undone; returns its
 * length (-1 at EOF before the end).  stuffed counts doubled dots.
 */
static long c_multi(struct c *c, char *out, size_t outsize, size_t *stuffed)
{
	size_t o = 0;

	*stuffed = 0;
	for (;;) {
		char *lf = memchr(c->in, '\n', c->len);
		size_t n;
		const char *p = c->in;

		if (!lf) {
			if (!c_more(c))
				return -1;
			continue;
		}
		n = (size_t)(lf - c->in) + 1;
		if (n == 3 && memcmp(p, ".\r\n", 3) == 0) {
			c_take(c, n);
			return (long)o;
		}
		if (p[0] == '.') {
			p++;
			n--;
			(*stuffed)++;
		}
		if (o + n <= outsize)
			memcpy(out + o, p, n);
		o += n;
		c_take(c, (size_t)(lf - c->in) + 1);
	}
}

static int c_expect(struct c *c, const char *want, const char *name)
{
	char line[1024];
	int r = c_line(c, line, sizeof line);

	ok(r == 0 && strcmp(line, want) == 0, "%s: \"%s\"", name, r == 0 ? line : "(EOF)");
	return r == 0 && strcmp(line, want) == 0;
}

/* Everything until EOF (after QUIT or a dropped session). */
static size_t c_rest(struct c *c)
{
	while (c_more(c))
		;
	return c->len;
}

static int c_wait(struct c *c)
{
	int status;

	close(c->fd);
	if (waitpid(c->pid, &status, 0) != c->pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* line is exactly prefix, a number, suffix: the number into *v (0 or -1). */
static int reply_num(const char *line, const char *prefix, const char *suffix,
		     unsigned long long *v)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(line);
	uint64_t x;

	if (n < pl + sl || strncmp(line, prefix, pl) != 0 || strcmp(line + n - sl, suffix) != 0 ||
	    num_parse(line + pl, n - pl - sl, UINT64_MAX, &x) < 0)
		return -1;
	*v = x;
	return 0;
}

/* line is prefix then a word: copy the word into out (0 or -1). */
static int reply_word(const char *line, const char *prefix, char *out, size_t outsize)
{
	size_t pl = strlen(prefix);
	int r;

	if (strncmp(line, prefix, pl) != 0 || line[pl] == '\0' || strchr(line + pl, ' '))
		return -1;
	r = snprintf(out, outsize, "%s", line + pl);
	return r > 0 && (size_t)r < outsize ? 0 : -1;
}

static void test_commands(void)
{
	struct session_opts o;
	struct c c;
	char line[1024], body[4096], uidl1[80], uidl2[80];
	unsigned long long total = 0, s1 = 0, s2 = 0;
	size_t stuffed;
	long len;

	write_file(path, mbox2, sizeof mbox2 - 1);
	opts_init(&o);
	c_start(&c, &o);
	ok(c_line(&c, line, sizeof line) == 0 &&
	   reply_num(line, "+OK 2 messages (", " octets)", &total) == 0,
	   "PASS answered: \"%s\"", line);

	c_say(&c, "LIST\r\n");
	c_expect(&c, line, "LIST header repeats the totals");
	ok(c_line(&c, line, sizeof line) == 0 && reply_num(line, "1 ", "", &s1) == 0, "LIST line 1: %s", line);
	ok(c_line(&c, line, sizeof line) == 0 && reply_num(line, "2 ", "", &s2) == 0, "LIST line 2: %s", line);
	c_expect(&c, ".", "LIST ends with .");
	ok(s1 + s2 == total, "sizes add up to the total (%llu + %llu = %llu)", s1, s2, total);

	c_say(&c, "STAT\r\n");
	snprintf(body, sizeof body, "+OK 2 %llu", total);
	c_expect(&c, body, "STAT");

	c_say(&c, "LIST 2\r\n");
	snprintf(body, sizeof body, "+OK 2 %llu", s2);
	c_expect(&c, body, "LIST 2");
	c_say(&c, "LIST 3\r\nLIST 0\r\nLIST 4294967297\r\nLIST 1 2\r\n");
	c_expect(&c, "-ERR No such message.", "LIST 3: no such message");
	c_expect(&c, "-ERR Invalid message number or argument", "LIST 0 refused");
	c_expect(&c, "-ERR Invalid message number or argument", "LIST 4294967297 refused");
	c_expect(&c, "-ERR Invalid message number or argument", "LIST 1 2 refused");

	c_say(&c, "UIDL\r\n");
	c_expect(&c, "+OK Unique-ID listing follows.", "UIDL header");
	ok(c_line(&c, line, sizeof line) == 0 && reply_word(line, "1 ", uidl1, sizeof uidl1) == 0, "UIDL 1: %s", line);
	ok(c_line(&c, line, sizeof line) == 0 && reply_word(line, "2 ", uidl2, sizeof uidl2) == 0, "UIDL 2: %s", line);
	c_expect(&c, ".", "UIDL ends with .");
	ok(strcmp(uidl1, uidl2) != 0, "UIDLs differ");
	c_say(&c, "UIDL 2\r\n");
	snprintf(body, sizeof body, "+OK 2 %s", uidl2);
	c_expect(&c, body, "UIDL 2 matches the listing");
	c_say(&c, "UIDL 3\r\n");
	c_expect(&c, "-ERR No such message.", "UIDL 3");

	c_say(&c, "RETR 1\r\n");
	snprintf(body, sizeof body, "+OK %llu octets", s1);
	c_expect(&c, body, "RETR 1 status line carries the size");
	len = c_multi(&c, body, sizeof body, &stuffed);
	ok(len == (long)s1, "RETR 1: %ld octets after un-stuffing, LIST said %llu", len, s1);
	ok(stuffed == 1 && len > 0 && memmem(body, (size_t)len, "\r\n.dotline\r\n", 12),
	   "RETR 1: .dotline was dot-stuffed");
	ok(len > 0 && memcmp(body, "Subject: one\r\n", 14) == 0 && !memmem(body, (size_t)len, "From alice@example.org Mon", 26),
	   "RETR 1: starts with the headers, no From_ line");

	c_say(&c, "TOP 2 0\r\n");
	c_expect(&c, "+OK", "TOP 2 0");
	len = c_multi(&c, body, sizeof body, &stuffed);
	ok(len == 16 && memcmp(body, "Subject: two\r\n\r\n", 16) == 0, "TOP 2 0: headers and the blank line");
	c_say(&c, "TOP 2 2\r\n");
	c_expect(&c, "+OK", "TOP 2 2");
	len = c_multi(&c, body, sizeof body, &stuffed);
	ok(len == 30 && memcmp(body, "Subject: two\r\n\r\nline1\r\nline2\r\n", 30) == 0,
	   "TOP 2 2: two body lines");
	c_say(&c, "TOP 2 1000\r\n");
	c_expect(&c, "+OK", "TOP 2 1000");
	len = c_multi(&c, body, sizeof body, &stuffed);
	ok(len == (long)s2, "TOP with more lines than the body sends it all");
	c_say(&c, "TOP 1 -1\r\nTOP 3 0\r\nTOP 1\r\nRETR 3\r\nRETR 00000000000000000001\r\nRETR\r\n");
	c_expect(&c, "-ERR Invalid message number or argument", "TOP 1 -1");
	c_expect(&c, "-ERR No such message.", "TOP 3 0");
	c_expect(&c, "-ERR Syntax error", "TOP 1");
	c_expect(&c, "-ERR No such message.", "RETR 3");
	c_expect(&c, "-ERR Invalid message number or argument", "RETR 00000000000000000001");
	c_expect(&c, "-ERR Invalid message number or argument", "RETR without argument");

	c_say(&c, "DELE 1\r\n");
	c_expect(&c, "+OK Message 1 deleted.", "DELE 1");
	c_say(&c, "DELE 1\r\nRETR 1\r\nTOP 1 0\r\nLIST 1\r\nUIDL 1\r\n");
	c_expect(&c, "-ERR No such message.", "DELE 1 again");
	c_expect(&c, "-ERR No such message.", "RETR of a deleted message");
	c_expect(&c, "-ERR No such message.", "TOP of a deleted message");
	c_expect(&c, "-ERR No such message.", "LIST of a deleted message");
	c_expect(&c, "-ERR No such message.", "UIDL of a deleted message");
	c_say(&c, "STAT\r\n");
	snprintf(body, sizeof body, "+OK 1 %llu", s2);
	c_expect(&c, body, "STAT leaves out the deleted message");
	c_say(&c, "LIST\r\n");
	snprintf(body, sizeof body, "+OK 1 messages (%llu octets)", s2);
	c_expect(&c, body, "LIST header without it");
	snprintf(body, sizeof body, "2 %llu", s2);
	c_expect(&c, body, "LIST keeps message numbers");
	c_expect(&c, ".", "LIST end");
	c_say(&c, "UIDL\r\n");
	c_expect(&c, "+OK Unique-ID listing follows.", "UIDL header");
	snprintf(body, sizeof body, "2 %s", uidl2);
	c_expect(&c, body, "UIDL without the deleted message");
	c_expect(&c, ".", "UIDL end");
	c_say(&c, "RSET\r\n");
	snprintf(body, sizeof body, "+OK 2 messages (%llu octets)", total);
	c_expect(&c, body, "RSET restores");
	c_say(&c, "LIST 1\r\n");
	snprintf(body, sizeof body, "+OK 1 %llu", s1);
	c_expect(&c, body, "message 1 is back after RSET");

	c_say(&c, "NOOP\r\nUSER x\r\nPASS y\r\n\r\n:\r\nAPOP a b\r\nNOOP 1\r\nDELE 1 2\r\n");
	c_expect(&c, "+OK", "NOOP");
	c_expect(&c, "-ERR Already logged in.", "USER in TRANSACTION");
	c_expect(&c, "-ERR Already logged in.", "PASS in TRANSACTION");
	c_expect(&c, "-ERR Empty command", "empty line");
	c_expect(&c, "-ERR Unknown command", "':'");
	c_expect(&c, "-ERR Unknown command", "APOP is unknown");
	c_expect(&c, "-ERR Syntax error", "NOOP with an argument");
	c_expect(&c, "-ERR Invalid message number or argument", "DELE with two arguments");

	c_say(&c, "CAPA\r\n");
	c_expect(&c, "+OK Capability list follows", "CAPA");
	{
		int user = 0, impl = 0, top = 0, pipe = 0, codes = 0, authcode = 0, lines = 0;

		while (c_line(&c, line, sizeof line) == 0 && strcmp(line, ".") != 0) {
			lines++;
			user |= strcmp(line, "USER") == 0;
			top |= strcmp(line, "TOP") == 0;
			pipe |= strcmp(line, "PIPELINING") == 0;
			codes |= strcmp(line, "RESP-CODES") == 0;
			authcode |= strcmp(line, "AUTH-RESP-CODE") == 0;
			/* the version only with --capa-version */
			impl |= strcmp(line, "IMPLEMENTATION popa3d") == 0;
		}
		ok(user && top && pipe && codes && authcode && impl && lines == 8,
		   "CAPA after login: USER TOP PIPELINING RESP-CODES AUTH-RESP-CODE IMPLEMENTATION (%d lines)", lines);
	}
	c_say(&c, "QUIT\r\n");
	c_expect(&c, "+OK Bye (2 messages left).", "QUIT with nothing deleted");
	ok(c_rest(&c) == 0, "nothing after QUIT's reply");
	ok(c_wait(&c) == 0, "clean QUIT: exit status 0");
	ok(file_is(path, mbox2, sizeof mbox2 - 1), "mailbox untouched");
}

/* Pipelined: the same commands in one write give the same bytes, in order. */
static void test_pipelining(void)
{
	static const char cmds[] = "STAT\r\nLIST\r\nUIDL 1\r\nNOOP\r\nRETR 1\r\nTOP 2 1\r\n"
		"DELE 2\r\nSTAT\r\nRETR 2\r\nRSET\r\nLIST 2\r\nBOGUS\r\nQUIT\r\n";
	static char one[8192], each[8192];
	size_t n1, n2 = 0;
	struct session_opts o;
	struct c c;
	const char *p;

	write_file(path, mbox2, sizeof mbox2 - 1);
	opts_init(&o);
	c_start(&c, &o);
	c_say(&c, cmds);
	n1 = c_rest(&c);
	memcpy(one, c.in, n1);
	ok(c_wait(&c) == 0, "pipelined burst ending in QUIT: exit 0");

	/* the same commands one at a time, each answer awaited */
	c_start(&c, &o);
	for (p = cmds; *p;) {
		const char *e = strstr(p, "\r\n") + 2;
		char cmd[64];
		size_t before;

		memcpy(cmd, p, (size_t)(e - p));
		cmd[e - p] = '\0';
		if (p == cmds) {
			while (!memchr(c.in, '\n', c.len) && c_more(&c))
				;
		}
		before = c.len;
		c_say(&c, cmd);
		/* wait until this command's answer is complete: the next
		 * command's answer can't start before, and QUIT closes */
		if (strncmp(cmd, "QUIT", 4) == 0)
			c_rest(&c);
		else {
			const char *end = strncmp(cmd, "LIST\r", 5) == 0 || strncmp(cmd, "RETR", 4) == 0 ||
				strncmp(cmd, "TOP", 3) == 0 ? "\r\n.\r\n" : "\r\n";
			for (;;) {
				int done = 0;

				if (c.len > before) {
					const char *q = memmem(c.in + before, c.len - before, "\r\n", 2);

					if (q && strcmp(end, "\r\n") == 0)
						done = 1;
					if (q && strcmp(end, "\r\n") != 0 &&
					    (strncmp(c.in + before, "-ERR", 4) == 0 ||
					     memmem(c.in + before, c.len - before, end, 5)))
						done = 1;
				}
				if (done || !c_more(&c))
					break;
			}
		}
		p = e;
	}
	n2 = c.len;
	memcpy(each, c.in, n2);
	ok(c_wait(&c) == 0, "one at a time: exit 0");
	ok(n1 == n2 && n1 > 0 && memcmp(one, each, n1) == 0,
	   "13 pipelined commands answered exactly as one at a time (%zu/%zu octets)", n1, n2);
	ok(n1 > 0 && memmem(one, n1, "-ERR No such message.\r\n+OK 2 messages", 37) != NULL,
	   "in order: RETR of the deleted message failed before RSET");
	ok(file_is(path, mbox2, sizeof mbox2 - 1), "RSET then QUIT removes nothing");
}

static void test_update(void)
{
	struct session_opts o;
	struct c c;
	char line[1024], uidl2[80], want[128];
	size_t n;
	char *data;

	/* DELE then EOF: nothing removed */
	write_file(path, mbox2, sizeof mbox2 - 1);
	opts_init(&o);
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	c_say(&c, "DELE 1\r\nDELE 2\r\n");
	c_expect(&c, "+OK Message 1 deleted.", "DELE 1");
	c_expect(&c, "+OK Message 2 deleted.", "DELE 2");
	shutdown(c.fd, SHUT_WR);
	ok(c_rest(&c) == 0, "EOF: the session just ends");
	ok(c_wait(&c) == 1, "DELE then EOF: exit 1");
	ok(file_is(path, mbox2, sizeof mbox2 - 1), "DELE then EOF: nothing removed (RFC 1939 6)");

	/* DELE then idle timeout: nothing removed */
	o.timeout = 1;
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	c_say(&c, "DELE 1\r\n");
	c_expect(&c, "+OK Message 1 deleted.", "DELE 1");
	ok(c_rest(&c) == 0, "timeout: closed without a word (RFC 1939 3)");
	ok(c_wait(&c) == 1, "DELE then timeout: exit 1");
	ok(file_is(path, mbox2, sizeof mbox2 - 1), "DELE then timeout: nothing removed");
	o.timeout = 30;

	/* DELE then QUIT: removed, and UIDLs persist */
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	c_say(&c, "UIDL 2\r\n");
	ok(c_line(&c, line, sizeof line) == 0 && reply_word(line, "+OK 2 ", uidl2, sizeof uidl2) == 0, "UIDL 2 before");
	c_say(&c, "DELE 1\r\nQUIT\r\n");
	c_expect(&c, "+OK Message 1 deleted.", "DELE 1");
	c_expect(&c, "+OK Bye (1 messages left).", "QUIT");
	ok(c_wait(&c) == 0, "DELE then QUIT: exit 0");
	data = read_file(path, &n);
	ok(data && n > 0 && !memmem(data, n, "Subject: one", 12) && memmem(data, n, "Subject: two", 12),
	   "DELE then QUIT: message 1 removed, message 2 kept");
	free(data);
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	ok(strncmp(line, "+OK 1 messages", 14) == 0, "next session: %s", line);
	c_say(&c, "UIDL 1\r\nQUIT\r\n");
	snprintf(want, sizeof want, "+OK 1 %s", uidl2);
	c_expect(&c, want, "the kept message keeps its UIDL");
	c_expect(&c, "+OK Bye (1 messages left).", "QUIT");
	ok(c_wait(&c) == 0, "exit 0");
}

static void replace_mailbox(const char *data, size_t n)
{
	char tmp[300];

	snprintf(tmp, sizeof tmp, "%s.new", path);
	write_file(tmp, data, n);
	if (rename(tmp, path) < 0)
		abort();
}

static void test_changed(void)
{
	static const char other[] =
		"From mallory@example.org Mon Jan  1 00:00:00 2024\n"
		"Subject: other\n"
		"\n"
		"rewritten by someone else\n";
	static const char *cmds[] = { "STAT", "LIST", "UIDL 1", "RETR 1", "TOP 1 0", "DELE 1", "RSET" };
	struct session_opts o;
	struct c c;
	char line[1024], cmd[32];
	size_t i;

	opts_init(&o);
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		write_file(path, mbox2, sizeof mbox2 - 1);
		c_start(&c, &o);
		c_line(&c, line, sizeof line);
		c_say(&c, "NOOP\r\n");
		c_expect(&c, "+OK", "NOOP");
		replace_mailbox(other, sizeof other - 1);
		snprintf(cmd, sizeof cmd, "%s\r\n", cmds[i]);
		c_say(&c, cmd);
		ok(c_rest(&c) == 0, "mailbox replaced, then %s: dropped without an answer", cmds[i]);
		ok(c_wait(&c) == 1, "%s after a change: exit 1", cmds[i]);
		ok(file_is(path, other, sizeof other - 1), "%s after a change: the new file untouched", cmds[i]);
	}

	/* DELE, change, QUIT: UPDATE refuses, nothing removed */
	write_file(path, mbox2, sizeof mbox2 - 1);
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	c_say(&c, "DELE 1\r\n");
	c_expect(&c, "+OK Message 1 deleted.", "DELE 1");
	replace_mailbox(other, sizeof other - 1);
	c_say(&c, "QUIT\r\n");
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "-ERR [SYS/TEMP]", 15) == 0,
	   "QUIT after a change: %s", line);
	ok(c_wait(&c) == 1, "QUIT after a change: exit 1");
	ok(file_is(path, other, sizeof other - 1), "QUIT after a change: the new file untouched");

	/* mail appended by an MTA is no change: fixed maildrop, kept on UPDATE */
	write_file(path, mbox2, sizeof mbox2 - 1);
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	{
		int fd = open(path, O_WRONLY | O_APPEND);

		if (fd < 0 || io_write_full(fd, appended, sizeof appended - 1) < 0 || close(fd) < 0)
			abort();
	}
	c_say(&c, "STAT\r\nDELE 1\r\nQUIT\r\n");
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "+OK 2 ", 6) == 0,
	   "after an append STAT still counts 2: %s", line);
	c_expect(&c, "+OK Message 1 deleted.", "DELE 1");
	c_expect(&c, "+OK Bye (1 messages left).", "QUIT applies");
	ok(c_wait(&c) == 0, "exit 0");
	{
		size_t n;
		char *data = read_file(path, &n);

		ok(data && !memmem(data, n, "Subject: one", 12) && memmem(data, n, "Subject: two", 12) &&
		   memmem(data, n, "Subject: three", 14), "appended mail kept, message 1 removed");
		free(data);
	}
}

static void test_open_failures(void)
{
	struct session_opts o;
	struct c c;
	char line[1024], link[300];
	struct flock fl;
	int fd;

	opts_init(&o);
	unlink(path);
	c_start(&c, &o);
	c_expect(&c, "+OK 0 messages (0 octets)", "missing mailbox is empty");
	c_say(&c, "STAT\r\nLIST\r\nRETR 1\r\nQUIT\r\n");
	c_expect(&c, "+OK 0 0", "STAT on empty");
	c_expect(&c, "+OK 0 messages (0 octets)", "LIST on empty");
	c_expect(&c, ".", "LIST end");
	c_expect(&c, "-ERR No such message.", "RETR 1 on empty");
	c_expect(&c, "+OK Bye (0 messages left).", "QUIT");
	ok(c_wait(&c) == 0, "exit 0");

	write_file(path, "not an mbox\n", 12);
	c_start(&c, &o);
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "-ERR [SYS/PERM] ", 16) == 0,
	   "damaged mailbox: %s", line);
	ok(c_rest(&c) == 0 && c_wait(&c) == 1, "damaged: session over, exit 1");

	snprintf(link, sizeof link, "%s/target", dir);
	write_file(link, mbox2, sizeof mbox2 - 1);
	unlink(path);
	if (symlink(link, path) < 0)
		abort();
	c_start(&c, &o);
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "-ERR [SYS/PERM] ", 16) == 0,
	   "symlinked mailbox: %s", line);
	ok(c_rest(&c) == 0 && c_wait(&c) == 1, "symlink: session over, exit 1");
	unlink(path);

	write_file(path, mbox2, sizeof mbox2 - 1);
	o.mbox.max_messages = 1;
	c_start(&c, &o);
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "-ERR [SYS/PERM] ", 16) == 0,
	   "over --max-messages: %s", line);
	ok(c_rest(&c) == 0 && c_wait(&c) == 1, "limit: session over, exit 1");
	o.mbox.max_messages = 0;

	/* another session holds the lock */
	fd = open(path, O_RDWR);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	ok(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0, "test holds an fcntl lock");
	o.mbox.lock_methods = MBOX_LOCK_FCNTL;
	c_start(&c, &o);
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "-ERR [IN-USE] ", 14) == 0,
	   "locked mailbox: %s", line);
	ok(c_rest(&c) == 0 && c_wait(&c) == 1, "in use: session over, exit 1");
	close(fd);
	ok(file_is(path, mbox2, sizeof mbox2 - 1), "failed opens never touch the file");
}

static void test_long_and_stall(void)
{
	struct session_opts o;
	struct c c;
	char line[1024];
	static char big[70000];
	static char mbox[6 * 1024 * 1024];
	size_t n = 0;
	int status;

	write_file(path, mbox2, sizeof mbox2 - 1);
	opts_init(&o);
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	memset(big, 'D', sizeof big);
	memcpy(big, "DELE 1 ", 7);
	memcpy(big + sizeof big - 2, "\r\n", 2);
	if (io_write_full(c.fd, big, sizeof big) < 0)
		abort();
	c_say(&c, "STAT\r\nQUIT\r\n");
	c_expect(&c, "-ERR Line too long.", "70 KB line: one -ERR");
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "+OK 2 ", 6) == 0,
	   "its DELE never ran: %s", line);
	c_expect(&c, "+OK Bye (2 messages left).", "QUIT");
	ok(c_wait(&c) == 0, "exit 0");

	/* a client that stops reading mid-RETR is dropped at the timeout */
	n += (size_t)snprintf(mbox, sizeof mbox, "From big@example.org Mon Jan  1 00:00:00 2024\nSubject: big\n\n");
	while (n + 80 < sizeof mbox) {
		memset(mbox + n, 'x', 79);
		mbox[n + 79] = '\n';
		n += 80;
	}
	write_file(path, mbox, n);
	o.timeout = 1;
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	c_say(&c, "RETR 1\r\nDELE 1\r\nQUIT\r\n");
	status = waitpid(c.pid, &status, 0) == c.pid ? status : -1;
	ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1,
	   "stalled reader of a 6 MB RETR: the session ends on its own, exit 1 (status %#x)", status);
	close(c.fd);
	ok(file_is(path, mbox, n), "and the pipelined QUIT never ran an UPDATE");
}

static void test_nuls(void)
{
	static const char nul[] =
		"From a@example.org Mon Jan  1 00:00:00 2024\n"
		"Subject: nul\n"
		"\n"
		"a\0b\n";
	struct session_opts o;
	struct c c;
	char line[1024], body[256];
	size_t stuffed;
	long len;

	write_file(path, nul, sizeof nul - 1);
	opts_init(&o);
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	c_say(&c, "RETR 1\r\nQUIT\r\n");
	c_line(&c, line, sizeof line);
	len = c_multi(&c, body, sizeof body, &stuffed);
	ok(len == 21 && memcmp(body + 16, "a\0b\r\n", 5) == 0, "NUL sent as stored (%ld)", len);
	ok(c_wait(&c) == 0, "exit 0");
}

/*
 * The logout line: key=value, counters right, and a hostile user name
 * (format directives, CR LF forging a second line) arrives defused.
 */
static void test_logging(void)
{
	struct session_opts o;
	struct c c;
	char line[1024], log[8192];
	int lp[2];
	ssize_t n;
	size_t got = 0;
	const char *lo;

	write_file(path, mbox2, sizeof mbox2 - 1);
	opts_init(&o);
	o.user = "evil%n%s\r\nlogout user=root";
	if (pipe(lp) < 0)
		abort();
	c_logfd = lp[1];
	c_start(&c, &o);
	c_logfd = -1;
	close(lp[1]);
	c_line(&c, line, sizeof line);
	c_say(&c, "RETR 1\r\nTOP 2 0\r\nDELE 2\r\nQUIT\r\n");
	c_rest(&c);
	ok(c_wait(&c) == 0, "logged session: exit 0");
	while ((n = read(lp[0], log + got, sizeof log - 1 - got)) > 0)
		got += (size_t)n;
	close(lp[0]);
	log[got] = '\0';
	lo = strstr(log, "logout user=");
	ok(lo != NULL, "a logout line was logged");
	ok(lo && strstr(lo, " rip=192.0.2.1 session=t1 end=quit msgs=2 retr=1 top=1 dele=1 removed=1 bytes="),
	   "logout line: rip, session, end, counters");
	ok(lo && strstr(lo, " uidl_hash=") && strlen(strstr(lo, " uidl_hash=")) >= 11 + 16,
	   "logout line carries a 16-digit uidl_hash");
	ok(lo && strncmp(lo, "logout user=evil\\x25n\\x25s\\x0d\\x0alogout", 40) == 0,
	   "hostile user name is escaped: no %%, no CR/LF");
	{
		int lines = 0;

		for (const char *q = log; (q = strstr(q, "logout user=")) != NULL; q++)
			lines++;
		ok(lines == 1, "exactly one line starts with logout user= (%d)", lines);
	}
}

/* The file shrinks under a RETR in progress: no "." may follow. */
static void test_truncated_midway(void)
{
	static char mbox[6 * 1024 * 1024];
	struct session_opts o;
	struct c c;
	char line[1024];
	size_t n = 0, total = 0;
	int status;

	n += (size_t)snprintf(mbox, sizeof mbox, "From big@example.org Mon Jan  1 00:00:00 2024\nSubject: big\n\n");
	while (n + 80 < sizeof mbox) {
		memset(mbox + n, 'y', 79);
		mbox[n + 79] = '\n';
		n += 80;
	}
	write_file(path, mbox, n);
	opts_init(&o);
	c_start(&c, &o);
	c_line(&c, line, sizeof line);
	c_say(&c, "RETR 1\r\nQUIT\r\n");
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "+OK ", 4) == 0, "RETR 1 started: %s", line);
	if (truncate(path, 200) < 0)
		abort();
	/* read everything, keeping only the tail */
	for (;;) {
		total += c.len > 16 ? c.len - 16 : 0;
		if (c.len > 16)
			c_take(&c, c.len - 16);
		if (!c_more(&c))
			break;
	}
	total += c.len;
	ok(total < n, "the message was cut short (%zu of %zu octets)", total, n);
	ok(c.len < 5 || memcmp(c.in + c.len - 5, "\r\n.\r\n", 5) != 0,
	   "no terminating \".\" after a partial message");
	ok(!memmem(c.in, c.len, "+OK Bye", 7), "the pipelined QUIT never ran");
	close(c.fd);
	status = waitpid(c.pid, &status, 0) == c.pid ? status : -1;
	ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1,
	   "session exits 1 (status %#x)", status);
}

/*
 * The whole hand-over: USER, PASS, STAT and QUIT in ONE write.  The
 * pre-auth child takes USER and PASS only; STAT and QUIT stay in the
 * socket and are read by the session process, which answers PASS first.
 */
static void test_handoff(void)
{
	static const struct preauth_opts po = { .timeout = 30, .max_failures = 3 };
	struct session_opts o;
	int sv[2], ip[2], status;
	pid_t pre, ses;
	struct frame f;
	const char *why = "";
	const unsigned char *p;
	size_t n;
	struct c c;
	char line[1024];

	write_file(path, mbox2, sizeof mbox2 - 1);
	opts_init(&o);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, ip) < 0)
		abort();
	pre = fork();
	if (pre == 0) {
		close(sv[0]);
		close(ip[0]);
		alarm(120);
		_exit(preauth_run(sv[1], sv[1], ip[1], &po));
	}
	close(ip[1]);
	{
		static const char burst[] = "USER tester\r\nPASS pw\r\nSTAT\r\nQUIT\r\n";

		if (io_write_full(sv[0], burst, sizeof burst - 1) < 0)
			abort();
	}
	ok(frame_recv(ip[0], &f, io_now_ms() + 10000, &why) == 0 && f.type == FRAME_AUTH_REQUEST,
	   "leader got an AUTH_REQUEST (%s)", why ? why : "");
	ok(frame_get(&f, &p, &n, 1) == 0 && n == 1 && p[0] == FRAME_METHOD_USERPASS &&
	   frame_get(&f, &p, &n, FRAME_USER_MAX) == 0 && n == 6 && memcmp(p, "tester", 6) == 0 &&
	   frame_get(&f, &p, &n, FRAME_SECRET_MAX) == 0 && n == 2 && memcmp(p, "pw", 2) == 0 &&
	   frame_end(&f) == 0, "method, user and password fields");
	frame_init(&f, FRAME_AUTH_REPLY);
	frame_put_byte(&f, FRAME_AUTH_OK);
	frame_send(ip[0], &f);
	ok(waitpid(pre, &status, 0) == pre && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "pre-auth child exits 0 after OK");
	close(ip[0]);
	ses = fork();
	if (ses == 0) {
		close(sv[0]);
		alarm(120);
		_exit(session_run(sv[1], sv[1], &o));
	}
	close(sv[1]);
	c.pid = ses;
	c.fd = sv[0];
	c.len = 0;
	c.eof = 0;
	c_expect(&c, "+OK POP3 server ready.", "greeting from the pre-auth child");
	c_expect(&c, "+OK", "USER from the pre-auth child");
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "+OK 2 messages (", 16) == 0,
	   "PASS answered by the session: %s", line);
	ok(c_line(&c, line, sizeof line) == 0 && strncmp(line, "+OK 2 ", 6) == 0,
	   "the pipelined STAT reached the session: %s", line);
	c_expect(&c, "+OK Bye (2 messages left).", "and so did QUIT");
	ok(c_rest(&c) == 0, "nothing else");
	ok(c_wait(&c) == 0, "session exit 0");
}

int main(void)
{
	alarm(600);	/* hang guard, not a timing assertion */
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/mbox", dir);
	test_commands();
	test_pipelining();
	test_update();
	test_changed();
	test_open_failures();
	test_long_and_stall();
	test_nuls();
	test_logging();
	test_truncated_midway();
	test_handoff();
	{
		char cmd[300];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			ok(0, "clean up %s", dir);
	}
	return tap_done();
}
