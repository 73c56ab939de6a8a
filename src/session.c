/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * The session: TRANSACTION and UPDATE (RFC 1939 sections 5 and 6).
 *
 * Runs as the mail user, after the leader dropped root for good; it knows
 * the mailbox only through mbox.h.  The rule it exists to keep: messages
 * are removed only by a QUIT in TRANSACTION (RFC 1939 section 6).  EOF, a
 * time-out, a write error or a mailbox changed behind our back all end the
 * session without UPDATE.  A message whose sending fails midway is never
 * terminated with ".", so no client can take a truncated message for a
 * whole one.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mbox.h"
#include "num.h"
#include "pop3.h"
#include "session.h"
#include "sysio.h"

struct session {
	const struct session_opts *o;
	struct mbox *m;
	struct pop3_out out;
	unsigned retr, top, dele, removed;
	uint64_t uidl_hash;
	const char *end;	/* why the session ended, for the logout line */
	int quit_ok;
	struct pop3_reader *rd;
	int in_fd;
};

static const char *session_status_name(enum mbox_status st)
{
	switch (st) {
	case MBOX_OK: return "ok";
	case MBOX_ERR_INUSE: return "in-use";
	case MBOX_ERR_DAMAGED: return "damaged";
	case MBOX_ERR_LIMIT: return "limit";
	case MBOX_ERR_UNSAFE: return "unsafe";
	case MBOX_ERR_CHANGED: return "changed";
	case MBOX_ERR_SYS: return "system-error";
	case MBOX_ERR_PEER: return "client-gone";
	case MBOX_ERR_GONE: return "message-gone";
	}
	return "unknown";
}

/*
 * 64-bit FNV-1a over the UIDL list, logged at logout: two sessions with
 * different hashes saw different maildrops, which makes "my mail came
 * twice" reports checkable without logging any message identifiers.
 */
static uint64_t session_uidl_hash(const struct mbox *m)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t i, n = mbox_count(m);

	for (i = 0; i < n; i++) {
		const unsigned char *u = (const unsigned char *)mbox_msg_uidl(m, i);

		for (; *u; u++) {
			h ^= *u;
			h *= 0x100000001b3ULL;
		}
		h ^= '\n';
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void session_log_changed(struct session *s, const char *what)
{
	char user[LOG_CLEAN_SIZE(64)], sid[LOG_CLEAN_SIZE(32)];
	const char *u = s->o->user ? s->o->user : "";
	const char *id = s->o->session_id ? s->o->session_id : "";

	log_msg(LOG_WARNING, "mailbox changed by another program during %s, "
		"session ends without update user=%s session=%s", what,
		log_clean(user, sizeof user, u, strlen(u)),
		log_clean(sid, sizeof sid, id, strlen(id)));
}

/* mbox_check before anything that looks at the mailbox. */
static int session_check(struct session *s, const char *what)
{
	enum mbox_status st = mbox_check(s->m);

	if (st == MBOX_OK)
		return 0;
	if (st == MBOX_ERR_CHANGED) {
		session_log_changed(s, what);
		s->end = "mailbox-changed";
	} else {
		s->end = session_status_name(st);
	}
	return -1;
}

/* A 1-based number naming a message that exists and is not deleted. */
static int session_msg(struct session *s, uint32_t n, uint32_t *idx)
{
	if (n == 0 || n > mbox_count(s->m) || mbox_msg_deleted(s->m, n - 1)) {
		pop3_reply(&s->out, "-ERR No such message.");
		return -1;
	}
	*idx = n - 1;
	return 0;
}

/* mbox_send's sink: the session's output buffer, so memory stays bounded. */
static int session_write(void *ctx, const void *p, size_t n)
{
	struct session *s = ctx;

	return pop3_out_write(&s->out, p, n);
}

static enum pop3_next session_send(struct session *s, uint32_t i, long long lines)
{
	enum mbox_status st;

	st = mbox_send(s->m, i, lines, session_write, s);
	if (st != MBOX_OK) {
		/* No "." after a partial message: the client must not accept it. */
		if (st == MBOX_ERR_CHANGED)
			session_log_changed(s, lines < 0 ? "RETR" : "TOP");
		s->end = st == MBOX_ERR_CHANGED ? "mailbox-changed" : session_status_name(st);
		return POP3_NEXT_END;
	}
	pop3_out_write(&s->out, ".\r\n", 3);
	return POP3_NEXT_GO_ON;
}

static enum pop3_next session_list(struct session *s, const struct pop3_cmd *c, int uidl)
{
	uint32_t i, n = mbox_count(s->m);

	if (c->nargs) {
		if (session_msg(s, c->msg, &i) < 0)
			return POP3_NEXT_GO_ON;
		if (uidl)
			pop3_reply(&s->out, "+OK %u %s", c->msg, mbox_msg_uidl(s->m, i));
		else
			pop3_reply(&s->out, "+OK %u %llu", c->msg,
				   (unsigned long long)mbox_msg_size(s->m, i));
		return POP3_NEXT_GO_ON;
	}
	if (uidl)
		pop3_reply(&s->out, "+OK Unique-ID listing follows.");
	else
		pop3_reply(&s->out, "+OK %u messages (%llu octets)", mbox_live_count(s->m),
			   (unsigned long long)mbox_live_size(s->m));
	for (i = 0; i < n; i++) {
		/* one line per message, built by hand: printf cost more than
		 * all the rest of a listing; same limit as pop3_reply's */
		char line[POP3_REPLY_MAX];
		size_t k;

		if (mbox_msg_deleted(s->m, i))
			continue;
		k = num_dec(line, (uint64_t)i + 1);
		line[k++] = ' ';
		if (uidl) {
			const char *u = mbox_msg_uidl(s->m, i);
			size_t ul = strlen(u);

			if (ul > POP3_REPLY_MAX - 2 - k) {
				s->out.failed = 1;
				break;
			}
			memcpy(line + k, u, ul);
			k += ul;
		} else {
			k += num_dec(line + k, mbox_msg_size(s->m, i));
		}
		line[k++] = '\r';
		line[k++] = '\n';
		pop3_out_write(&s->out, line, k);
	}
	pop3_reply(&s->out, ".");
	return POP3_NEXT_GO_ON;
}

static enum pop3_next session_quit(struct session *s)
{
	char why[256], cwhy[LOG_CLEAN_SIZE(96)], user[LOG_CLEAN_SIZE(64)];
	const char *u = s->o->user ? s->o->user : "";
	uint32_t marked = mbox_count(s->m) - mbox_live_count(s->m);
	enum mbox_status st;

	why[0] = '\0';
	st = mbox_update(s->m, why, sizeof why);
	if (st != MBOX_OK) {
		log_msg(LOG_ERR, "update failed user=%s status=%s why=%s",
			log_clean(user, sizeof user, u, strlen(u)),
			session_status_name(st),
			log_clean(cwhy, sizeof cwhy, why, strnlen(why, sizeof why)));
		if (st == MBOX_ERR_INUSE)
			pop3_reply(&s->out, "-ERR [IN-USE] Mailbox locked, messages not removed.");
		else
			pop3_reply(&s->out, "-ERR [SYS/TEMP] Mailbox update failed, messages not removed.");
		s->end = "update-failed";
		pop3_out_flush(&s->out);
		return POP3_NEXT_END;
	}
	s->removed = marked;
	s->quit_ok = 1;
	s->end = "quit";
	pop3_reply(&s->out, "+OK Bye (%u messages left).", mbox_live_count(s->m));
	pop3_out_flush(&s->out);
	return POP3_NEXT_END;
}

/*
 * TRANSACTION's commands (RFC 1939 section 5, RFC 2449).  Each takes the
 * session as the loop's context; the guarded ones look at the mailbox and
 * run only after mbox_check (session_guard).
 */
static enum pop3_next session_cmd_quit(void *ctx, const struct pop3_cmd *c)
{
	(void)c;
	return session_quit(ctx);
}

static enum pop3_next session_cmd_capa(void *ctx, const struct pop3_cmd *c)
{
	struct session *s = ctx;
	struct pop3_capa capa;

	(void)c;
	memset(&capa, 0, sizeof capa);
	capa.user = 1;	/* RFC 2449 section 5: AUTHORIZATION's list stays */
	capa.sasl_plain = s->o->sasl_plain;
	/* listed because AUTHORIZATION listed it (RFC 2449 section 5),
	 * though STLS itself is refused here (RFC 2595 section 4) */
	capa.stls = s->o->stls;
	capa.expire = s->o->expire;
	capa.login_delay = s->o->login_delay;
	capa.implementation = 1;
	capa.version = s->o->capa_version;
	pop3_capa(&s->out, &capa);
	return POP3_NEXT_GO_ON;
}

static enum pop3_next session_cmd_noop(void *ctx, const struct pop3_cmd *c)
{
	struct session *s = ctx;

	(void)c;
	pop3_reply(&s->out, "+OK");
	return POP3_NEXT_GO_ON;
}

static enum pop3_next session_cmd_stat(void *ctx, const struct pop3_cmd *c)
{
	struct session *s = ctx;

	(void)c;
	pop3_reply(&s->out, "+OK %u %llu", mbox_live_count(s->m),
		   (unsigned long long)mbox_live_size(s->m));
	return POP3_NEXT_GO_ON;
}

static enum pop3_next session_cmd_list(void *ctx, const struct pop3_cmd *c)
{
	return session_list(ctx, c, c->verb == POP3_UIDL);
}

/* RETR and TOP. */
static enum pop3_next session_cmd_retr(void *ctx, const struct pop3_cmd *c)
{
	struct session *s = ctx;
	enum mbox_status st;
	uint32_t i;

	if (session_msg(s, c->msg, &i) < 0)
		return POP3_NEXT_GO_ON;
	/* Maildir: another client may have taken it; only this command fails. */
	if ((st = mbox_msg_open(s->m, i)) == MBOX_ERR_GONE) {
		pop3_reply(&s->out, "-ERR Message %u was removed by another client.", c->msg);
		return POP3_NEXT_GO_ON;
	}
	if (st != MBOX_OK) {
		s->end = session_status_name(st);
		return POP3_NEXT_END;
	}
	if (c->verb == POP3_RETR) {
		s->retr++;
		pop3_reply(&s->out, "+OK %llu octets",
			   (unsigned long long)mbox_msg_size(s->m, i));
		return session_send(s, i, -1);
	}
	s->top++;
	pop3_reply(&s->out, "+OK");
	return session_send(s, i, (long long)c->lines);
}

static enum pop3_next session_cmd_dele(void *ctx, const struct pop3_cmd *c)
{
	struct session *s = ctx;
	uint32_t i;

	if (session_msg(s, c->msg, &i) < 0)
		return POP3_NEXT_GO_ON;
	mbox_msg_delete(s->m, i);
	s->dele++;
	pop3_reply(&s->out, "+OK Message %u deleted.", c->msg);
	return POP3_NEXT_GO_ON;
}

static enum pop3_next session_cmd_rset(void *ctx, const struct pop3_cmd *c)
{
	struct session *s = ctx;

	(void)c;
	mbox_undelete_all(s->m);
	pop3_reply(&s->out, "+OK %u messages (%llu octets)", mbox_live_count(s->m),
		   (unsigned long long)mbox_live_size(s->m));
	return POP3_NEXT_GO_ON;
}

/*
 * What TRANSACTION accepts.  USER, PASS, AUTH and STLS (RFC 2595 section
 * 4: AUTHORIZATION only) are absent, so they get "Already logged in".
 */
static const struct pop3_command session_commands[] = {
	{ POP3_QUIT, "QUIT", session_cmd_quit, 0 },
	{ POP3_CAPA, "CAPA", session_cmd_capa, 0 },
	{ POP3_NOOP, "NOOP", session_cmd_noop, 0 },
	{ POP3_STAT, "STAT", session_cmd_stat, POP3_CMD_GUARDED },
	{ POP3_LIST, "LIST", session_cmd_list, POP3_CMD_GUARDED },
	{ POP3_UIDL, "UIDL", session_cmd_list, POP3_CMD_GUARDED },
	{ POP3_RETR, "RETR", session_cmd_retr, POP3_CMD_GUARDED },
	{ POP3_TOP, "TOP", session_cmd_retr, POP3_CMD_GUARDED },
	{ POP3_DELE, "DELE", session_cmd_dele, POP3_CMD_GUARDED },
	{ POP3_RSET, "RSET", session_cmd_rset, POP3_CMD_GUARDED },
	{ POP3_NONE, NULL, NULL, 0 }
};

/* The guarded commands look at the mailbox: mbox_check first. */
static int session_guard(void *ctx, const char *name, enum pop3_next *next)
{
	*next = POP3_NEXT_END;
	return session_check(ctx, name);
}

static ssize_t session_fill(void *ctx, long long deadline_ms)
{
	struct session *s = ctx;

	return pop3_reader_fill(s->rd, s->in_fd, deadline_ms);
}

/* The loop's reason, in the logout line's words (a handler sets its own). */
static void session_loop_end(struct session *s, enum pop3_loop_end why)
{
	switch (why) {
	case POP3_LOOP_END:
	case POP3_LOOP_HANDOFF:
		break;
	case POP3_LOOP_EOF:
	case POP3_LOOP_LOST:
	case POP3_LOOP_TOO_MANY:	/* no max_commands here: not reached */
		s->end = "eof";
		break;
	case POP3_LOOP_TIMEOUT:
		/* RFC 1939 section 3: autologout says nothing. */
		s->end = "timeout";
		break;
	case POP3_LOOP_READ_ERROR:
		s->end = "read-error";
		break;
	case POP3_LOOP_WRITE_ERROR:
		s->end = "write-error";
		break;
	}
}

/* Answer the PASS the pre-auth child left open (RFC 1939 section 7). */
static int session_open(struct session *s)
{
	char why[256], cwhy[LOG_CLEAN_SIZE(96)], user[LOG_CLEAN_SIZE(64)];
	const char *u = s->o->user ? s->o->user : "";
	enum mbox_status st;

	why[0] = '\0';
	if (s->o->mailbox)
		st = mbox_open(&s->m, s->o->mailbox, &s->o->mbox, why, sizeof why);
	else {
		st = MBOX_ERR_SYS;
		snprintf(why, sizeof why, "no mailbox path");
	}
	if (st == MBOX_OK) {
		s->uidl_hash = session_uidl_hash(s->m);
		pop3_reply(&s->out, "+OK %u messages (%llu octets)", mbox_live_count(s->m),
			   (unsigned long long)mbox_live_size(s->m));
		return 0;
	}
	s->m = NULL;
	log_msg(LOG_ERR, "mailbox open failed user=%s status=%s why=%s",
		log_clean(user, sizeof user, u, strlen(u)), session_status_name(st),
		log_clean(cwhy, sizeof cwhy, why, strnlen(why, sizeof why)));
	switch (st) {
	case MBOX_ERR_INUSE:
		pop3_reply(&s->out, "-ERR [IN-USE] Mailbox is locked by another session.");
		break;
	case MBOX_ERR_DAMAGED:
	case MBOX_ERR_LIMIT:
	case MBOX_ERR_UNSAFE:
		pop3_reply(&s->out, "-ERR [SYS/PERM] Mailbox cannot be opened, ask the administrator.");
		break;
	default:
		pop3_reply(&s->out, "-ERR [SYS/TEMP] Mailbox cannot be opened, try again later.");
		break;
	}
	s->end = "open-failed";
	pop3_out_flush(&s->out);
	return -1;
}

static void session_log_logout(const struct session *s)
{
	char user[LOG_CLEAN_SIZE(64)], rip[LOG_CLEAN_SIZE(48)], sid[LOG_CLEAN_SIZE(32)];
	const char *u = s->o->user ? s->o->user : "";
	const char *r = s->o->rip ? s->o->rip : "";
	const char *id = s->o->session_id ? s->o->session_id : "";

	log_msg(LOG_INFO, "logout user=%s rip=%s session=%s end=%s msgs=%u "
		"retr=%u top=%u dele=%u removed=%u bytes=%llu uidl_hash=%016llx",
		log_clean(user, sizeof user, u, strlen(u)),
		log_clean(rip, sizeof rip, r, strlen(r)),
		log_clean(sid, sizeof sid, id, strlen(id)),
		s->end ? s->end : "unknown", s->m ? mbox_count(s->m) : 0,
		s->retr, s->top, s->dele, s->removed,
		(unsigned long long)s->out.sent, (unsigned long long)s->uidl_hash);
}

int session_run(int in_fd, int out_fd, const struct session_opts *o)
{
	struct session s;
	struct pop3_reader rd;
	struct sigaction sa;
	int timeout = o->timeout;

	memset(&s, 0, sizeof s);
	s.o = o;
	/* A vanished client is a write error to handle, not a fatal signal. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		log_msg(LOG_WARNING, "sigaction SIGPIPE: %m");
	/*
	 * Non-blocking writes: a client that stops reading mid-RETR is
	 * dropped after the idle timeout instead of pinning us in write().
	 */
	if (io_set_nonblock(out_fd, 1) < 0) {
		log_msg(LOG_ERR, "cannot make the client socket non-blocking: %m");
		return 1;
	}
	pop3_out_init(&s.out, out_fd, timeout);
	pop3_reader_init(&rd, POP3_IN_MAX, 0);

	s.rd = &rd;
	s.in_fd = in_fd;
	if (session_open(&s) == 0) {
		struct pop3_loop l = {
			.rd = &rd, .out = &s.out, .timeout = timeout,
			.end_on_write_error = 1, .table = session_commands,
			.refused = "-ERR Already logged in.",
			.fill = session_fill, .guard = session_guard, .ctx = &s,
		};

		s.end = "eof";
		session_loop_end(&s, pop3_loop_run(&l));
	}
	session_log_logout(&s);
	if (o->result) {
		o->result->end = s.end ? s.end : "unknown";
		o->result->sent = s.out.sent;
	}
	if (s.m)
		mbox_close(s.m);
	pop3_reader_free(&rd);
	pop3_out_free(&s.out);
	return s.quit_ok ? 0 : 1;
}
