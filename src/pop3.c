/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the pre-auth child, the session.
 * POP3 wire format: line splitter, command parser, buffered output and
 * the command loop; see pop3.h.  Runs unprivileged, in the sandboxed
 * pre-auth child and in the session; this file must stay free of
 * anything the sandbox forbids (no file opens, no logging, no signals):
 * read/write/poll/recv and malloc only.  The loop's command handlers are
 * the caller's (preauth.c, session.c) and answer for themselves.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "num.h"
#include "pop3.h"
#include "sysio.h"

/* Argument shapes, RFC 1939 sections 5-7 and RFC 2449 section 5. */
enum pop3_args {
	ARGS_NONE,		/* STAT, NOOP, RSET, QUIT, CAPA */
	ARGS_MSG,		/* RETR n, DELE n */
	ARGS_OPT_MSG,		/* LIST [n], UIDL [n] */
	ARGS_MSG_LINES,		/* TOP n k */
	ARGS_WORD,		/* USER name */
	ARGS_REST,		/* PASS: the whole rest of the line (RFC 1939 section 7) */
	ARGS_AUTH		/* AUTH [mechanism [initial-response]] (RFC 5034) */
};

static const struct {
	char name[5];
	enum pop3_verb verb;
	enum pop3_args args;
} pop3_verbs[] = {
	{ "USER", POP3_USER, ARGS_WORD },
	{ "PASS", POP3_PASS, ARGS_REST },
	{ "QUIT", POP3_QUIT, ARGS_NONE },
	{ "CAPA", POP3_CAPA, ARGS_NONE },
	{ "STAT", POP3_STAT, ARGS_NONE },
	{ "LIST", POP3_LIST, ARGS_OPT_MSG },
	{ "RETR", POP3_RETR, ARGS_MSG },
	{ "DELE", POP3_DELE, ARGS_MSG },
	{ "NOOP", POP3_NOOP, ARGS_NONE },
	{ "RSET", POP3_RSET, ARGS_NONE },
	{ "TOP", POP3_TOP, ARGS_MSG_LINES },
	{ "UIDL", POP3_UIDL, ARGS_OPT_MSG },
	{ "STLS", POP3_STLS, ARGS_NONE },
	{ "AUTH", POP3_AUTH, ARGS_AUTH },
};

/* A USER argument the auth frame can carry and a log can show. */
#define POP3_USER_MAX 255

static int pop3_upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Message numbers are 1-based; 0 is never a message (RFC 1939 section 5). */
static int pop3_msgnum(const unsigned char *p, size_t n, uint32_t *out)
{
	uint64_t v;

	if (num_parse(p, n, UINT32_MAX, &v) < 0 || v == 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* The verb a command word of kw octets names (any case), or -1. */
static int pop3_find_verb(const unsigned char *line, size_t kw)
{
	size_t i, j;

	if (kw < 3 || kw > 4)
		return -1;
	for (i = 0; i < sizeof pop3_verbs / sizeof pop3_verbs[0]; i++) {
		if (strlen(pop3_verbs[i].name) != kw)
			continue;
		for (j = 0; j < kw; j++)
			if (pop3_upper(line[j]) != (unsigned char)pop3_verbs[i].name[j])
				break;
		if (j == kw)
			return (int)i;
	}
	return -1;
}

/* How an argument list failed: which -ERR it gets. */
enum pop3_arg_error { ARG_OK, ARG_SYNTAX, ARG_NUMBER };

/* AUTH [mechanism [initial-response]] (RFC 5034 section 4). */
static enum pop3_arg_error pop3_parse_auth(const unsigned char *a, size_t alen,
					   struct pop3_cmd *c)
{
	const unsigned char *sp;
	size_t i;

	if (!a)
		return ARG_OK;	/* bare AUTH: list mechanisms (RFC 1734 style) */
	sp = memchr(a, ' ', alen);
	c->arg = a;
	c->arglen = sp ? (size_t)(sp - a) : alen;
	if (c->arglen == 0 || c->arglen > POP3_SASL_MECH_MAX)
		return ARG_SYNTAX;
	for (i = 0; i < c->arglen; i++)
		if (!((a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= 'a' && a[i] <= 'z') ||
		      (a[i] >= '0' && a[i] <= '9') || a[i] == '-' || a[i] == '_'))
			return ARG_SYNTAX;
	c->nargs = 1;
	if (!sp)
		return ARG_OK;
	/* one token, no blanks: base64 or "=" (RFC 5034 section 4) */
	c->arg2 = sp + 1;
	c->arg2len = alen - c->arglen - 1;
	if (c->arg2len == 0 || memchr(c->arg2, ' ', c->arg2len))
		return ARG_SYNTAX;
	c->nargs = 2;
	return ARG_OK;
}

/* The arguments after the verb: a is NULL when there is no space. */
static enum pop3_arg_error pop3_parse_args(enum pop3_args args, const unsigned char *a,
					   size_t alen, struct pop3_cmd *c)
{
	const unsigned char *sp;
	size_t i;

	switch (args) {
	case ARGS_NONE:
		return a ? ARG_SYNTAX : ARG_OK;
	case ARGS_WORD:
		if (!a || alen > POP3_USER_MAX)
			return ARG_SYNTAX;
		/* No blanks or controls: a name reaches PAM, logs and frames. */
		for (i = 0; i < alen; i++)
			if (a[i] <= 0x20 || a[i] == 0x7f)
				return ARG_SYNTAX;
		/* fall through */
	case ARGS_REST:
		/* USER's checked word, or PASS's: spaces belong to the
		 * password (RFC 1939 section 7 MAY). */
		if (!a || alen == 0)
			return ARG_SYNTAX;
		c->arg = a;
		c->arglen = alen;
		c->nargs = 1;
		return ARG_OK;
	case ARGS_AUTH:
		return pop3_parse_auth(a, alen, c);
	case ARGS_OPT_MSG:
		if (!a)
			return ARG_OK;
		/* fall through */
	case ARGS_MSG:
		if (!a || pop3_msgnum(a, alen, &c->msg) < 0)
			return ARG_NUMBER;
		c->nargs = 1;
		return ARG_OK;
	case ARGS_MSG_LINES:
		if (!a)
			return ARG_NUMBER;
		sp = memchr(a, ' ', alen);
		if (!sp)
			return ARG_SYNTAX;
		if (pop3_msgnum(a, (size_t)(sp - a), &c->msg) < 0 ||
		    num_parse(sp + 1, alen - (size_t)(sp - a) - 1,
			      (uint64_t)INT64_MAX, &c->lines) < 0)
			return ARG_NUMBER;
		c->nargs = 2;
		return ARG_OK;
	}
	return ARG_SYNTAX;
}

int pop3_parse(const unsigned char *line, size_t len, struct pop3_cmd *c,
	       const char **err)
{
	const unsigned char *sp;
	size_t kw;
	int found;

	memset(c, 0, sizeof *c);
	if (len == 0) {
		*err = "Empty command";
		return -1;
	}
	/*
	 * A NUL would end the line early for C string code somewhere down the
	 * line, and a lone CR is how header-injection starts: neither has a
	 * place in a command, passwords included.
	 */
	if (memchr(line, '\0', len) || memchr(line, '\r', len)) {
		*err = "Invalid character in command";
		return -1;
	}
	sp = memchr(line, ' ', len);
	kw = sp ? (size_t)(sp - line) : len;
	found = pop3_find_verb(line, kw);
	if (found < 0) {
		*err = "Unknown command";
		return -1;
	}
	c->verb = pop3_verbs[found].verb;
	switch (pop3_parse_args(pop3_verbs[found].args, sp ? sp + 1 : NULL,
				sp ? len - kw - 1 : 0, c)) {
	case ARG_OK:
		return 0;
	case ARG_SYNTAX:
		*err = "Syntax error";
		c->verb = POP3_NONE;
		c->arg = c->arg2 = NULL;
		c->arglen = c->arg2len = 0;
		c->nargs = 0;
		return -1;
	case ARG_NUMBER:
		break;
	}
	*err = "Invalid message number or argument";
	c->verb = POP3_NONE;
	c->msg = 0;
	return -1;
}

/* io_wait, plus POP3_NOWAIT: a look at the socket that never sleeps. */
/* 0 when fd is readable (or at EOF/error, which the read then reports);
 * -1 otherwise, with errno ETIMEDOUT when nothing came in time. */
static int pop3_wait_in(int fd, long long deadline_ms)
{
	struct pollfd pfd;
	int r;

	if (deadline_ms != POP3_NOWAIT) {
		r = io_wait(fd, POLLIN, deadline_ms);
	} else {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		do
			r = poll(&pfd, 1, 0);
		while (r < 0 && errno == EINTR);
		if (r > 0 && (pfd.revents & POLLNVAL)) {
			errno = EBADF;
			return -1;
		}
	}
	if (r < 0)
		return -1;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

void pop3_reader_init(struct pop3_reader *r, size_t max, int secret)
{
	if (max < POP3_LINE_MAX)
		max = POP3_LINE_MAX;
	if (secret)
		buf_init_secret(&r->in, max);
	else
		buf_init(&r->in, max);
	r->taken = 0;
	r->skipping = 0;
	r->line_max = POP3_LINE_MAX;
}

void pop3_reader_set_line_max(struct pop3_reader *r, size_t n)
{
	r->line_max = n < r->in.max ? n : r->in.max;
}

size_t pop3_reader_discard(struct pop3_reader *r)
{
	size_t extra = r->in.len > r->taken ? r->in.len - r->taken : 0;

	buf_wipe(&r->in);
	r->taken = 0;
	r->skipping = 0;
	return extra;
}

void pop3_reader_free(struct pop3_reader *r)
{
	buf_free(&r->in);
	r->taken = 0;
	r->skipping = 0;
}

static void pop3_reader_drop_taken(struct pop3_reader *r)
{
	if (r->taken) {
		buf_consume(&r->in, r->taken);
		r->taken = 0;
	}
}

int pop3_reader_feed(struct pop3_reader *r, const void *p, size_t n)
{
	pop3_reader_drop_taken(r);
	return buf_append(&r->in, p, n);
}

enum pop3_line pop3_reader_line(struct pop3_reader *r, const unsigned char **p,
				size_t *n)
{
	ssize_t lf;

	pop3_reader_drop_taken(r);
	if (r->skipping) {
		/* Nothing of an over-long line's tail is ever a command. */
		lf = buf_find(&r->in, 0, '\n');
		if (lf < 0) {
			buf_reset(&r->in);
			return POP3_LINE_MORE;
		}
		buf_consume(&r->in, (size_t)lf + 1);
		r->skipping = 0;
	}
	lf = buf_find(&r->in, 0, '\n');
	if (lf >= 0 && (size_t)lf < r->line_max) {
		size_t len = (size_t)lf;

		if (len > 0 && r->in.data[len - 1] == '\r')
			len--;
		*p = r->in.data;
		*n = len;
		r->taken = (size_t)lf + 1;
		return POP3_LINE_OK;
	}
	if (r->in.len >= r->line_max) {
		r->skipping = 1;
		return POP3_LINE_LONG;
	}
	return POP3_LINE_MORE;
}

int pop3_reader_ready(const struct pop3_reader *r)
{
	size_t off = r->taken;
	ssize_t lf;

	if (r->skipping) {
		lf = buf_find(&r->in, off, '\n');
		if (lf < 0)
			return 0;
		off = (size_t)lf + 1;
	}
	lf = buf_find(&r->in, off, '\n');
	if (lf >= 0 && (size_t)lf - off < r->line_max)
		return 1;
	return r->in.len - off >= r->line_max;
}

ssize_t pop3_reader_fill(struct pop3_reader *r, int fd, long long deadline_ms)
{
	size_t room;
	ssize_t got;

	pop3_reader_drop_taken(r);
	room = r->in.max - r->in.len;
	if (room == 0 || buf_reserve(&r->in, room) < 0) {
		errno = E2BIG;
		return -1;
	}
	for (;;) {
		if (pop3_wait_in(fd, deadline_ms) < 0)
			return -1;
		got = io_read(fd, r->in.data + r->in.len, room);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (deadline_ms == POP3_NOWAIT)
				return -1;
			continue;
		}
		break;
	}
	if (got > 0)
		r->in.len += (size_t)got;
	return got;
}

/*
 * Room for at most the rest of one line (while skipping an overlong
 * line, whatever fits): never ask a source for more than completes the
 * line, so nothing after it is taken.  NULL with E2BIG if there is none.
 */
static unsigned char *pop3_reader_line_room(struct pop3_reader *r, size_t *want)
{
	pop3_reader_drop_taken(r);
	if (r->skipping)
		*want = r->in.max - r->in.len;
	else
		*want = r->in.len < r->line_max ? r->line_max - r->in.len : 0;
	if (*want > r->in.max - r->in.len)
		*want = r->in.max - r->in.len;
	if (*want == 0 || buf_reserve(&r->in, *want) < 0) {
		errno = E2BIG;
		return NULL;
	}
	return r->in.data + r->in.len;
}

/*
 * got bytes were peeked at dst: take exactly up to and including the
 * first LF (or all of them if there is none) and forget the rest, which
 * may be the next line's password.
 */
static ssize_t pop3_reader_take_line(struct pop3_reader *r, unsigned char *dst, size_t got,
				     int (*take)(void *ctx, void *p, size_t n), void *ctx)
{
	const unsigned char *lf = memchr(dst, '\n', got);
	size_t want = lf ? (size_t)(lf - dst) + 1 : got;

	explicit_bzero(dst + want, got - want);
	if (take(ctx, dst, want) < 0) {
		explicit_bzero(dst, want);
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	r->in.len += want;
	return (ssize_t)want;
}

/* A client socket, or inetd's pipe, as a line source (struct pop3_io). */
struct pop3_fd_src {
	int fd;
	int taken;	/* the bytes peek returned are read already (a pipe) */
};

static ssize_t pop3_peek_fd(void *ctx, void *p, size_t n, long long deadline_ms)
{
	struct pop3_fd_src *s = ctx;
	ssize_t got;

	for (;;) {
		if (pop3_wait_in(s->fd, deadline_ms) < 0)
			return -1;
		got = recv(s->fd, p, n, MSG_PEEK | MSG_DONTWAIT);
		if (got < 0 && errno == ENOTSOCK) {
			/* A pipe (inetd) cannot be peeked at: lines are short,
			 * a byte at a time is fine. */
			got = io_read(s->fd, p, 1);
			s->taken = got > 0;
		}
		if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		return got;
	}
}

/* take for a socket: the peeked bytes are queued, so this cannot block. */
static int pop3_take_fd(void *ctx, void *p, size_t n)
{
	const struct pop3_fd_src *s = ctx;

	return s->taken ? 0 : io_read_full(s->fd, p, n);
}

ssize_t pop3_reader_fill_line_io(struct pop3_reader *r, const struct pop3_io *io,
				 long long deadline_ms)
{
	unsigned char *dst;
	size_t want;
	ssize_t got;

	dst = pop3_reader_line_room(r, &want);
	if (!dst)
		return -1;
	got = io->peek(io->ctx, dst, want, deadline_ms);
	if (got <= 0)
		return got;
	return pop3_reader_take_line(r, dst, (size_t)got, io->take, io->ctx);
}

ssize_t pop3_reader_fill_line(struct pop3_reader *r, int fd, long long deadline_ms)
{
	struct pop3_fd_src src = { .fd = fd };
	const struct pop3_io io = { .peek = pop3_peek_fd, .take = pop3_take_fd, .ctx = &src };

	return pop3_reader_fill_line_io(r, &io, deadline_ms);
}

void pop3_out_init(struct pop3_out *o, int fd, int timeout_s)
{
	o->fd = fd;
	o->timeout_ms = timeout_s * 1000;
	buf_init(&o->buf, POP3_OUT_MAX);
	o->sent = 0;
	o->failed = 0;
	o->io = NULL;
}

void pop3_out_free(struct pop3_out *o)
{
	buf_free(&o->buf);
}

int pop3_out_flush(struct pop3_out *o)
{
	if (o->failed)
		return -1;
	if (o->buf.len == 0)
		return 0;
	if (o->io ? o->io->write(o->io->ctx, o->buf.data, o->buf.len, o->timeout_ms) < 0 :
	    io_write_timeout(o->fd, o->buf.data, o->buf.len, o->timeout_ms) < 0) {
		o->failed = 1;
		return -1;
	}
	o->sent += o->buf.len;
	buf_reset(&o->buf);
	return 0;
}

int pop3_out_write(struct pop3_out *o, const void *p, size_t n)
{
	const unsigned char *q = p;

	if (o->failed)
		return -1;
	if (!o->io && n >= o->buf.max / 4) {
		/* Bulk (a message being sent): what is buffered and this in
		 * one system call, without copying this into the buffer. */
		struct iovec iov[2];

		iov[0].iov_base = o->buf.data;
		iov[0].iov_len = o->buf.len;
		iov[1].iov_base = (void *)(uintptr_t)q;
		iov[1].iov_len = n;
		if (io_writev_timeout(o->fd, iov, 2, o->timeout_ms) < 0) {
			o->failed = 1;
			return -1;
		}
		o->sent += o->buf.len + n;
		buf_reset(&o->buf);
		return 0;
	}
	while (n > 0) {
		size_t room = o->buf.max - o->buf.len, k;

		if (room == 0) {
			if (pop3_out_flush(o) < 0)
				return -1;
			continue;
		}
		k = n < room ? n : room;
		if (buf_append(&o->buf, q, k) < 0) {
			o->failed = 1;
			return -1;
		}
		q += k;
		n -= k;
	}
	return 0;
}

int pop3_reply(struct pop3_out *o, const char *fmt, ...)
{
	char line[POP3_REPLY_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* RFC 1939 section 3: first line at most 512 octets with its CRLF. */
	if (n < 0 || n > POP3_REPLY_MAX - 2) {
		o->failed = 1;
		errno = E2BIG;
		return -1;
	}
	line[n] = '\r';
	line[n + 1] = '\n';
	return pop3_out_write(o, line, (size_t)n + 2);
}

/* Config text ends up on the wire: printable ASCII only, else NEVER. */
static int pop3_capa_arg_ok(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return n > 0 && n < 64;
}

int pop3_capa(struct pop3_out *o, const struct pop3_capa *c)
{
	const char *expire = c->expire && pop3_capa_arg_ok(c->expire) ?
		c->expire : "NEVER";

	pop3_reply(o, "+OK Capability list follows");
	/*
	 * The commands STLS and AUTH work in AUTHORIZATION only (RFC 2595
	 * section 4, RFC 5034 section 3), but RFC 2449 section 5 wants what
	 * AUTHORIZATION announced announced in TRANSACTION too: the caller
	 * decides, the list is the same code in both states.
	 */
	if (c->stls)
		pop3_reply(o, "STLS");
	if (c->user)
		pop3_reply(o, "USER");
	if (c->sasl_plain)
		pop3_reply(o, "SASL PLAIN");
	pop3_reply(o, "TOP");
	pop3_reply(o, "UIDL");
	pop3_reply(o, "RESP-CODES");
	pop3_reply(o, "AUTH-RESP-CODE");
	pop3_reply(o, "PIPELINING");
	pop3_reply(o, "EXPIRE %s", expire);
	if (c->login_delay > 0)
		pop3_reply(o, "LOGIN-DELAY %d", c->login_delay);
	if (c->implementation && c->version)
		pop3_reply(o, "IMPLEMENTATION popa3d-%s", PACKAGE_VERSION);
	else if (c->implementation)
		pop3_reply(o, "IMPLEMENTATION popa3d");
	return pop3_reply(o, ".");
}

/* One parsed line through the state's table. */
static enum pop3_next pop3_dispatch(const struct pop3_loop *l, const unsigned char *line,
				    size_t n)
{
	const struct pop3_command *t;
	struct pop3_cmd c;
	const char *err;
	enum pop3_next next;

	if (pop3_parse(line, n, &c, &err) < 0) {
		pop3_reply(l->out, "-ERR %s", err);
		return POP3_NEXT_GO_ON;
	}
	for (t = l->table; t->handler; t++) {
		if (t->verb != c.verb)
			continue;
		if ((t->flags & POP3_CMD_GUARDED) && l->guard(l->ctx, t->name, &next) < 0)
			return next;
		return t->handler(l->ctx, &c);
	}
	pop3_reply(l->out, "%s", l->refused);
	return POP3_NEXT_GO_ON;
}

/*
 * No complete line buffered: read more.  Flush only when the client has
 * nothing more queued, so a pipelined burst is answered in one write (RFC
 * 2449 section 6.6).  0 to look for a line again, or why the loop stops.
 */
static int pop3_loop_more(const struct pop3_loop *l, long long deadline,
			  enum pop3_loop_end *why)
{
	ssize_t got;

	if (l->out->buf.len > 0) {
		got = l->fill(l->ctx, POP3_NOWAIT);
		if (got > 0)
			return 0;
		if (got == 0) {
			/* A half-closed client still gets its answers. */
			pop3_out_flush(l->out);
			*why = POP3_LOOP_EOF;
			return -1;
		}
		if (errno != ETIMEDOUT && errno != EAGAIN) {
			*why = POP3_LOOP_LOST;
			return -1;
		}
		if (pop3_out_flush(l->out) < 0) {
			*why = POP3_LOOP_WRITE_ERROR;
			return -1;
		}
	}
	got = l->fill(l->ctx, deadline);
	if (got > 0)
		return 0;
	if (got == 0)
		*why = POP3_LOOP_EOF;
	else
		*why = errno == ETIMEDOUT ? POP3_LOOP_TIMEOUT : POP3_LOOP_READ_ERROR;
	return -1;
}

enum pop3_loop_end pop3_loop_run(const struct pop3_loop *l)
{
	const unsigned char *line;
	size_t n;
	unsigned commands = 0;
	enum pop3_loop_end why;
	enum pop3_next next;
	/* The idle timer runs per command, so a slow drip can't reset it. */
	long long deadline = io_now_ms() + (long long)l->timeout * 1000;

	for (;;) {
		enum pop3_line st = pop3_reader_line(l->rd, &line, &n);

		if (st == POP3_LINE_MORE) {
			if (pop3_loop_more(l, deadline, &why) < 0)
				return why;
			continue;
		}
		if (l->max_commands && ++commands > l->max_commands)
			return POP3_LOOP_TOO_MANY;
		if (st == POP3_LINE_LONG) {
			pop3_reply(l->out, "-ERR Line too long.");
		} else {
			next = pop3_dispatch(l, line, n);
			if (next == POP3_NEXT_END)
				return POP3_LOOP_END;
			if (next == POP3_NEXT_HANDOFF)
				return POP3_LOOP_HANDOFF;
		}
		if (l->end_on_write_error && l->out->failed)
			return POP3_LOOP_WRITE_ERROR;
		deadline = io_now_ms() + (long long)l->timeout * 1000;
	}
}

enum pop3_line pop3_loop_next_line(const struct pop3_loop *l, const unsigned char **line,
				   size_t *n, int *eof)
{
	long long deadline = io_now_ms() + (long long)l->timeout * 1000;

	*eof = 0;
	for (;;) {
		enum pop3_line st = pop3_reader_line(l->rd, line, n);

		if (st != POP3_LINE_MORE)
			return st;
		if (pop3_out_flush(l->out) < 0 || l->fill(l->ctx, deadline) <= 0) {
			*eof = 1;
			return POP3_LINE_MORE;
		}
	}
}
