/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * POP3 wire format shared by the pre-auth child and the session: the line
 * splitter, the strict command parser, the buffered, pipelined output and
 * the one command loop both states run, each with its own command table.
 *
 * Runs unprivileged (pre-auth child: chrooted and sandboxed; session: the
 * mail user).  Every byte here is the client's and is parsed exactly once,
 * by pop3_parse; numbers only through num_parse.
 *
 * Line limit: a command line may be up to POP3_LINE_MAX octets including
 * its terminator (RFC 2449 section 4 asks for at least 255).  A longer line
 * gets exactly one "-ERR" and none of it is ever executed: the splitter
 * drops everything up to the next LF.  CRLF and a bare LF both end a line;
 * a CR anywhere else, or a NUL anywhere, makes the line an error.
 */
#ifndef POPA3D_POP3_H
#define POPA3D_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Longest accepted command line, terminator included. */
#define POP3_LINE_MAX 512
/* RFC 1939 section 3: a response's first line, CRLF included. */
#define POP3_REPLY_MAX 512
/* Input kept ahead of the current command by the session (pipelining). */
#define POP3_IN_MAX 8192
/* Output ceiling: replies accumulate up to this, then are flushed. */
#define POP3_OUT_MAX 65536

enum pop3_verb {
	POP3_NONE = 0,
	/* AUTHORIZATION (RFC 1939 section 7) */
	POP3_USER,
	POP3_PASS,
	/* both states */
	POP3_QUIT,
	POP3_CAPA,		/* RFC 2449 section 5 */
	/* TRANSACTION (RFC 1939 section 5, 7) */
	POP3_STAT,
	POP3_LIST,
	POP3_RETR,
	POP3_DELE,
	POP3_NOOP,
	POP3_RSET,
	POP3_TOP,
	POP3_UIDL,
	/* AUTHORIZATION extensions, handled by preauth.c */
	POP3_STLS,		/* RFC 2595 section 4 */
	POP3_AUTH		/* RFC 5034 section 4: AUTH [mech [initial-response]] */
	/*
	 * APOP is deliberately absent (weak MD5 challenge, CVE-2007-1558):
	 * it is an unknown command.
	 */
};

struct pop3_cmd {
	enum pop3_verb verb;
	unsigned nargs;			/* arguments present, 0..2 */
	uint32_t msg;			/* message number, 1-based, when given */
	uint64_t lines;			/* TOP's line count */
	const unsigned char *arg;	/* USER's name, PASS's secret, AUTH's mechanism */
	size_t arglen;
	const unsigned char *arg2;	/* AUTH's initial response (base64 or "=") */
	size_t arg2len;
};

/* RFC 4422 section 3.1: a SASL mechanism name is 1-20 of [A-Z0-9-_]. */
#define POP3_SASL_MECH_MAX 20

/*
 * Parse one command line (terminator already removed).  0 and *c filled,
 * or -1 with *err set to the text to send after "-ERR ".  Arguments point
 * into line, which must outlive c.
 */
int pop3_parse(const unsigned char *line, size_t len, struct pop3_cmd *c,
	       const char **err);

/* The line splitter. */
struct pop3_reader {
	struct buf in;		/* bytes read and not yet consumed */
	size_t taken;		/* length of the line last returned, with its LF */
	int skipping;		/* inside an over-long line: drop up to its LF */
	size_t line_max;	/* POP3_LINE_MAX, or longer for a SASL response */
};

enum pop3_line {
	POP3_LINE_MORE = 0,	/* no complete line buffered: read more */
	POP3_LINE_OK,		/* a line: p/n point to it, valid until next call */
	POP3_LINE_LONG		/* an over-long line: answer -ERR once */
};

/* secret: wipe every consumed byte (the pre-auth child reads passwords). */
void pop3_reader_init(struct pop3_reader *r, size_t max, int secret);
void pop3_reader_free(struct pop3_reader *r);
/*
 * Lines up to n octets (terminator included) from the next line on; n
 * must fit the buffer's max.  RFC 5034 SASL responses may be longer
 * than commands.
 */
void pop3_reader_set_line_max(struct pop3_reader *r, size_t n);
/*
 * Drop (and wipe, for a secret reader) everything buffered, including
 * the line last returned: after STLS nothing read in clear may survive
 * into TLS (CVE-2011-0411).  Returns the number of bytes dropped beyond
 * that line.
 */
size_t pop3_reader_discard(struct pop3_reader *r);
/* Append bytes as if read (tests and the fuzz target): 0 or -1 if full. */
int pop3_reader_feed(struct pop3_reader *r, const void *p, size_t n);
enum pop3_line pop3_reader_line(struct pop3_reader *r, const unsigned char **p,
				size_t *n);
/* 1 if a complete line (or an over-long one) is waiting in the buffer. */
int pop3_reader_ready(const struct pop3_reader *r);
/*
 * Read what is available from fd into the buffer, waiting at most until
 * deadline_ms (POP3_NOWAIT: not at all): >0 bytes, 0 EOF, -1 error (errno
 * ETIMEDOUT when the deadline passed or, with POP3_NOWAIT, nothing waits).
 */
#define POP3_NOWAIT 0LL
ssize_t pop3_reader_fill(struct pop3_reader *r, int fd, long long deadline_ms);
/*
 * As pop3_reader_fill, but never reads past the end of the current line:
 * on a socket it peeks and then takes exactly up to the LF, elsewhere it
 * reads a byte at a time.  Whatever the client pipelined after the line
 * stays in the kernel for the next process (see preauth.c).
 */
ssize_t pop3_reader_fill_line(struct pop3_reader *r, int fd, long long deadline_ms);

/*
 * Another transport (TLS) under the reader and the output: peek shows
 * bytes without consuming them (waiting until a deadline: >0, 0 at EOF,
 * -1), take consumes exactly n bytes peek showed, write sends all of n.
 */
struct pop3_io {
	ssize_t (*peek)(void *ctx, void *p, size_t n, long long deadline_ms);
	int (*take)(void *ctx, void *p, size_t n);
	int (*write)(void *ctx, const void *p, size_t n, int timeout_ms);
	void *ctx;
};
/* pop3_reader_fill_line over io: never takes past the end of the line. */
ssize_t pop3_reader_fill_line_io(struct pop3_reader *r, const struct pop3_io *io,
				 long long deadline_ms);

/* Buffered output with a ceiling; a write that fills it flushes it. */
struct pop3_out {
	int fd;
	int timeout_ms;		/* per bit of progress (io_write_timeout) */
	struct buf buf;
	uint64_t sent;		/* octets written to fd */
	int failed;		/* sticky: once a write failed, all do */
	const struct pop3_io *io;	/* NULL: write(2) on fd */
};

/* timeout_s: the caller's --timeout, > 0 */
void pop3_out_init(struct pop3_out *o, int fd, int timeout_s);
void pop3_out_free(struct pop3_out *o);
int pop3_out_write(struct pop3_out *o, const void *p, size_t n);
/* One status line ("+OK ..." / "-ERR ..."); CRLF appended; <= 512 octets. */
int pop3_reply(struct pop3_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int pop3_out_flush(struct pop3_out *o);

/*
 * CAPA's list (RFC 2449 section 6), "+OK" line and final "." included.
 * implementation: 1 after login only (section 6.9's advice); the name
 * alone, with the version only when version is set (--capa-version): an
 * exact version tells an attacker which published holes to try.
 */
struct pop3_capa {
	int user;		/* USER may be used now (no --require-tls veto) */
	const char *expire;	/* NULL: NEVER */
	int login_delay;	/* 0: not advertised */
	int implementation;
	int stls;		/* RFC 2595: TLS on offer and not on yet */
	int sasl_plain;		/* RFC 5034: "SASL PLAIN" (under TLS, normally) */
	int version;		/* IMPLEMENTATION names the version too */
};
int pop3_capa(struct pop3_out *o, const struct pop3_capa *c);

/*
 * The command loop, one for both states (as popa3d 1.0.x's
 * pop_handle_state): AUTHORIZATION (preauth.c) and TRANSACTION
 * (session.c) each hand it a table of the commands their state accepts.
 * It reads a line at a time, answers a pipelined burst in one write (RFC
 * 2449 section 6.6), runs the idle timer per command so a slow drip
 * cannot reset it, and stops at the first command that ends the state.
 */

/* What a command handler tells the loop. */
enum pop3_next {
	POP3_NEXT_GO_ON,	/* read the next command */
	POP3_NEXT_END,		/* end the connection */
	POP3_NEXT_HANDOFF	/* stop reading: a login; another process goes on */
};

/* Table flag: call the loop's guard before the handler. */
#define POP3_CMD_GUARDED 0x1u

/* One command a state accepts; a verb not in the table is refused. */
struct pop3_command {
	enum pop3_verb verb;
	const char *name;	/* for the guard's log line */
	enum pop3_next (*handler)(void *ctx, const struct pop3_cmd *c);
	unsigned flags;		/* POP3_CMD_* */
};

/* Why the loop stopped. */
enum pop3_loop_end {
	POP3_LOOP_END,		/* a handler or a guard said POP3_NEXT_END */
	POP3_LOOP_HANDOFF,	/* a handler said POP3_NEXT_HANDOFF */
	POP3_LOOP_EOF,		/* the client closed (pending answers flushed) */
	POP3_LOOP_LOST,		/* a read failed with answers pending (not flushed) */
	POP3_LOOP_TIMEOUT,	/* RFC 1939 section 3's autologout: nothing said */
	POP3_LOOP_READ_ERROR,
	POP3_LOOP_WRITE_ERROR,
	POP3_LOOP_TOO_MANY	/* more than max_commands lines: nothing answered */
};

struct pop3_loop {
	struct pop3_reader *rd;
	struct pop3_out *out;
	int timeout;			/* idle seconds, per command */
	unsigned max_commands;		/* 0: no limit */
	int end_on_write_error;		/* stop as soon as out has failed */
	const struct pop3_command *table;	/* ends with a NULL handler */
	const char *refused;		/* the -ERR for a verb not in table */
	/* read more (never past what the state may read), as pop3_reader_fill */
	ssize_t (*fill)(void *ctx, long long deadline_ms);
	/* POP3_CMD_GUARDED: 0 to run the handler, or -1 to skip it and go
	 * on as *next says (the guard wrote any reply) */
	int (*guard)(void *ctx, const char *name, enum pop3_next *next);
	void *ctx;
};

enum pop3_loop_end pop3_loop_run(const struct pop3_loop *l);
/*
 * Inside a handler, the next line of a multi-step command (a SASL
 * continuation): flushes what the handler wrote, then waits one idle
 * timeout.  *eof is set (and POP3_LINE_MORE returned) when the client
 * went, the time ran out or the flush failed.
 */
enum pop3_line pop3_loop_next_line(const struct pop3_loop *l, const unsigned char **line,
				   size_t *n, int *eof);

#endif
