/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the leader, the listener.
 * The rules of the process boundary, as one table, checked in one place
 * (boundary_check, reached through boundary_recv).  Every frame type has
 * a row per path it travels; doc/DESIGN.md's frame table is this table
 * in prose, and tests/unit/test-boundary keeps the two equal.  The
 * leader checks every frame of the pre-auth child here: that child
 * shares a sandbox with the client's bytes, so a frame outside the table
 * ends the connection as a failed login.  The leader checks the
 * listener's frames here too, and the listener each leader's frames,
 * with that leader's phase as the state (listener_leader_frame).
 */
#include "config.h"

#include "boundary.h"
#include "frame.h"

#define P_LISTENER BOUNDARY_LISTENER
#define P_LEADER BOUNDARY_LEADER
#define P_PREAUTH BOUNDARY_PREAUTH
#define P_HELPER BOUNDARY_AUTHHELPER
#define P_HOLDER BOUNDARY_KEYHOLDER
#define P_TLS BOUNDARY_TLS_ENDPOINT

const struct boundary_rule boundary_rules[] = {
	{ FRAME_AUTH_REQUEST, P_PREAUTH, P_LEADER, BOUNDARY_BEFORE_AUTH },
	{ FRAME_AUTH_REPLY, P_LEADER, P_PREAUTH, BOUNDARY_ANSWER },
	{ FRAME_AUTH_RESULT, P_HELPER, P_LEADER, BOUNDARY_ONCE },
	{ FRAME_TLS_ACTIVE, P_PREAUTH, P_LEADER,
	  BOUNDARY_ONCE | BOUNDARY_BEFORE_AUTH | BOUNDARY_TLS_ONLY },
	{ FRAME_PROXY_SOURCE, P_PREAUTH, P_LEADER,
	  BOUNDARY_ONCE | BOUNDARY_FIRST | BOUNDARY_BEFORE_AUTH | BOUNDARY_PROXY_ONLY },
	{ FRAME_PROXY_SOURCE, P_LEADER, P_LISTENER,
	  BOUNDARY_ONCE | BOUNDARY_FIRST | BOUNDARY_PROXY_ONLY | BOUNDARY_STANDALONE_ONLY },
	{ FRAME_PROXY_VERDICT, P_LISTENER, P_LEADER,
	  BOUNDARY_ONCE | BOUNDARY_ANSWER | BOUNDARY_PROXY_ONLY | BOUNDARY_STANDALONE_ONLY },
	{ FRAME_PROXY_VERDICT, P_LEADER, P_PREAUTH,
	  BOUNDARY_ONCE | BOUNDARY_ANSWER | BOUNDARY_PROXY_ONLY },
	{ FRAME_USER_NOTE, P_LEADER, P_LISTENER,
	  BOUNDARY_BEFORE_AUTH | BOUNDARY_STANDALONE_ONLY },
	{ FRAME_USER_VERDICT, P_LISTENER, P_LEADER,
	  BOUNDARY_ANSWER | BOUNDARY_STANDALONE_ONLY },
	{ FRAME_KEY_REQUEST, P_TLS, P_HOLDER, BOUNDARY_ONCE | BOUNDARY_TLS_ONLY },
	{ FRAME_KEY_REPLY, P_HOLDER, P_TLS,
	  BOUNDARY_ONCE | BOUNDARY_ANSWER | BOUNDARY_TLS_ONLY },
	{ FRAME_EVICT, P_LISTENER, P_LEADER,
	  BOUNDARY_ONCE | BOUNDARY_BEFORE_AUTH | BOUNDARY_STANDALONE_ONLY },
	{ FRAME_PREAUTH_END, P_PREAUTH, P_LEADER, BOUNDARY_ONCE | BOUNDARY_BEFORE_AUTH },
};
const size_t boundary_nrules = sizeof boundary_rules / sizeof boundary_rules[0];

static const char *const type_names[FRAME_TYPE_MAX + 1] = {
	[FRAME_AUTH_REQUEST] = "AUTH_REQUEST",
	[FRAME_AUTH_REPLY] = "AUTH_REPLY",
	[FRAME_AUTH_RESULT] = "AUTH_RESULT",
	[FRAME_TLS_ACTIVE] = "TLS_ACTIVE",
	[FRAME_PROXY_SOURCE] = "PROXY_SOURCE",
	[FRAME_PROXY_VERDICT] = "PROXY_VERDICT",
	[FRAME_USER_NOTE] = "USER_NOTE",
	[FRAME_USER_VERDICT] = "USER_VERDICT",
	[FRAME_KEY_REQUEST] = "KEY_REQUEST",
	[FRAME_KEY_REPLY] = "KEY_REPLY",
	[FRAME_EVICT] = "EVICT",
	[FRAME_PREAUTH_END] = "PREAUTH_END",
};

const char *boundary_type_name(uint32_t type)
{
	return type >= 1 && type <= FRAME_TYPE_MAX && type_names[type] ? type_names[type] : NULL;
}

const char *boundary_proc_name(enum boundary_proc p)
{
	switch (p) {
	case BOUNDARY_LISTENER: return "listener";
	case BOUNDARY_LEADER: return "leader";
	case BOUNDARY_PREAUTH: return "pre-auth child";
	case BOUNDARY_AUTHHELPER: return "auth helper";
	case BOUNDARY_KEYHOLDER: return "key holder";
	case BOUNDARY_TLS_ENDPOINT: return "TLS endpoint";
	}
	return NULL;
}

const struct boundary_rule *boundary_rule(uint32_t type, enum boundary_proc from,
					  enum boundary_proc to)
{
	for (size_t i = 0; i < boundary_nrules; i++)
		if (boundary_rules[i].type == type && boundary_rules[i].from == from &&
		    boundary_rules[i].to == to)
			return &boundary_rules[i];
	return NULL;
}

void boundary_init(struct boundary_state *st, enum boundary_proc from, enum boundary_proc to)
{
	*st = (struct boundary_state){ .from = from, .to = to };
}

/* Does the rule apply to this connection at all? */
static int boundary_applies(const struct boundary_state *st, const struct boundary_rule *r)
{
	return !((r->flags & BOUNDARY_TLS_ONLY) && !st->tls) &&
	       !((r->flags & BOUNDARY_PROXY_ONLY) && !st->proxy) &&
	       !((r->flags & BOUNDARY_STANDALONE_ONLY) && !st->standalone);
}

int boundary_recv(struct boundary_state *st, int fd, struct frame *f, long long deadline_ms,
		  const char **why)
{
	int r = frame_recv(fd, f, deadline_ms, why);

	if (r == FRAME_RECV_OK && boundary_check(st, f->type, why) < 0) {
		frame_wipe(f);
		return BOUNDARY_HOSTILE;
	}
	return r;
}

int boundary_check(struct boundary_state *st, uint32_t type, const char **why)
{
	const struct boundary_rule *r = boundary_rule(type, st->from, st->to);

	if (!r) {
		*why = "a frame type this path does not carry";
		return -1;
	}
	if ((r->flags & BOUNDARY_TLS_ONLY) && !st->tls) {
		*why = "a TLS frame where TLS was not possible";
		return -1;
	}
	if ((r->flags & BOUNDARY_PROXY_ONLY) && !st->proxy) {
		*why = "a PROXY frame without --proxy-protocol";
		return -1;
	}
	if ((r->flags & BOUNDARY_STANDALONE_ONLY) && !st->standalone) {
		*why = "a listener frame without a listener";
		return -1;
	}
	if ((r->flags & BOUNDARY_BEFORE_AUTH) && st->authed) {
		*why = "a pre-login frame after the login";
		return -1;
	}
	if ((r->flags & BOUNDARY_ONCE) && (st->seen & (UINT32_C(1) << type))) {
		*why = "a second frame of a type allowed once";
		return -1;
	}
	/* a FIRST frame that applies must come before every other one */
	for (size_t i = 0; i < boundary_nrules; i++) {
		const struct boundary_rule *q = &boundary_rules[i];

		if (q != r && q->from == st->from && q->to == st->to &&
		    (q->flags & BOUNDARY_FIRST) && boundary_applies(st, q) &&
		    !(st->seen & (UINT32_C(1) << q->type))) {
			*why = "a frame before the one that must come first";
			return -1;
		}
	}
	st->seen |= UINT32_C(1) << type;
	return 0;
}
