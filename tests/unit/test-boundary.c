/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The process boundary's table (src/boundary.c): every frame type has a
 * rule, no path has two, doc/DESIGN.md's frame table says the same as
 * the code, and boundary_check enforces each flag.  The listener's own
 * intake of a leader's frames (listener_leader_frame) refuses, and logs
 * as hostile, a frame outside the table, read off a real socketpair.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authproto.h"
#include "connproto.h"
#include "boundary.h"
#include "frame.h"
#include "listener.h"
#include "log.h"
#include "sysio.h"
#include "tap.h"

static void test_table(void)
{
	int missing = 0, dup = 0, named = 1;

	for (uint32_t t = 1; t <= FRAME_TYPE_MAX; t++) {
		int rules = 0;

		for (size_t i = 0; i < boundary_nrules; i++)
			rules += boundary_rules[i].type == t;
		if (!rules)
			missing++;
		if (!boundary_type_name(t))
			named = 0;
	}
	for (size_t i = 0; i < boundary_nrules; i++)
		if (boundary_rule(boundary_rules[i].type, boundary_rules[i].from,
				  boundary_rules[i].to) != &boundary_rules[i])
			dup++;
	ok(missing == 0, "every frame type 1-%d has a rule (%d without)", FRAME_TYPE_MAX, missing);
	ok(dup == 0, "no path (type, sender, receiver) has two rules (%d)", dup);
	ok(named, "every frame type has a name");
	ok(boundary_type_name(0) == NULL && boundary_type_name(FRAME_TYPE_MAX + 1) == NULL,
	   "no name outside 1-%d", FRAME_TYPE_MAX);
}

/* One row of DESIGN's frame table: | n | `NAME` | from -> to | when | */
static int design_row(const char *line, unsigned *num, char *name, size_t nsize, char *from,
		      char *to, size_t psize)
{
	const char *p, *q, *arrow, *bar;
	char *end;

	if (line[0] != '|')
		return -1;
	*num = (unsigned)strtoul(line + 1, &end, 10);
	if (end == line + 1 || !*num || !(p = strchr(end, '`')) || !(q = strchr(p + 1, '`')) ||
	    (size_t)(q - p - 1) >= nsize)
		return -1;
	memcpy(name, p + 1, (size_t)(q - p - 1));
	name[q - p - 1] = '\0';
	if (!(p = strchr(q, '|')) || !(bar = strchr(p + 1, '|')) || !(arrow = strstr(p, " -> ")) ||
	    arrow > bar)
		return -1;
	p++;
	while (*p == ' ')
		p++;
	if ((size_t)(arrow - p) >= psize)
		return -1;
	memcpy(from, p, (size_t)(arrow - p));
	from[arrow - p] = '\0';
	p = arrow + 4;
	q = bar;
	while (q > p && q[-1] == ' ')
		q--;
	if ((size_t)(q - p) >= psize)
		return -1;
	memcpy(to, p, (size_t)(q - p));
	to[q - p] = '\0';
	return 0;
}

static void test_design(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096], line[1024];
	int found[64] = { 0 }, rows = 0, strays = 0, unmatched = 0;
	FILE *fp;

	if (!top) {
		ok(1, "# SKIP top_srcdir not set (run through make check)");
		return;
	}
	snprintf(path, sizeof path, "%s/doc/DESIGN.md", top);
	fp = fopen(path, "r");
	if (!ok(fp != NULL, "read %s", path))
		return;
	while (fgets(line, sizeof line, fp)) {
		char name[32], from[32], to[32];
		unsigned num;
		int match = 0;

		if (design_row(line, &num, name, sizeof name, from, to, sizeof from) < 0)
			continue;
		rows++;
		for (size_t i = 0; i < boundary_nrules && i < 64; i++) {
			const struct boundary_rule *r = &boundary_rules[i];

			if (r->type == num && !strcmp(boundary_type_name(r->type), name) &&
			    !strcmp(boundary_proc_name(r->from), from) &&
			    !strcmp(boundary_proc_name(r->to), to)) {
				found[i]++;
				match = 1;
			}
		}
		if (!match) {
			printf("# DESIGN row not in the table: %u %s %s -> %s\n", num, name, from, to);
			strays++;
		}
	}
	fclose(fp);
	for (size_t i = 0; i < boundary_nrules && i < 64; i++)
		if (found[i] != 1) {
			printf("# rule %s %s -> %s is in DESIGN %d times\n",
			       boundary_type_name(boundary_rules[i].type),
			       boundary_proc_name(boundary_rules[i].from),
			       boundary_proc_name(boundary_rules[i].to), found[i]);
			unmatched++;
		}
	ok(rows > 0 && strays == 0, "every row of DESIGN's frame table is a rule of boundary.c (%d rows)",
	   rows);
	ok(unmatched == 0, "every rule of boundary.c is in DESIGN's frame table exactly once");
}

static void test_check(void)
{
	struct boundary_state st;
	const char *why = NULL;

	boundary_init(&st, BOUNDARY_PREAUTH, BOUNDARY_LEADER);
	ok(boundary_check(&st, FRAME_AUTH_REQUEST, &why) == 0 &&
	   boundary_check(&st, FRAME_AUTH_REQUEST, &why) == 0, "AUTH_REQUEST: any number");
	ok(boundary_check(&st, FRAME_AUTH_REPLY, &why) < 0, "the child may not send AUTH_REPLY (%s)",
	   why);
	ok(boundary_check(&st, FRAME_AUTH_RESULT, &why) < 0, "nor AUTH_RESULT");
	ok(boundary_check(&st, FRAME_USER_NOTE, &why) < 0, "nor USER_NOTE");
	ok(boundary_check(&st, FRAME_KEY_REQUEST, &why) < 0, "nor KEY_REQUEST to the leader");
	ok(boundary_check(&st, 0, &why) < 0 && boundary_check(&st, 99, &why) < 0,
	   "nor an unknown type");
	ok(boundary_check(&st, FRAME_TLS_ACTIVE, &why) < 0, "TLS_ACTIVE without TLS (%s)", why);
	ok(boundary_check(&st, FRAME_PROXY_SOURCE, &why) < 0, "PROXY_SOURCE without PROXY (%s)",
	   why);
	ok(boundary_check(&st, FRAME_PREAUTH_END, &why) == 0, "PREAUTH_END once");
	ok(boundary_check(&st, FRAME_PREAUTH_END, &why) < 0, "PREAUTH_END twice (%s)", why);

	boundary_init(&st, BOUNDARY_PREAUTH, BOUNDARY_LEADER);
	st.tls = 1;
	ok(boundary_check(&st, FRAME_TLS_ACTIVE, &why) == 0, "TLS_ACTIVE where TLS was possible");
	ok(boundary_check(&st, FRAME_TLS_ACTIVE, &why) < 0, "TLS_ACTIVE twice");
	st.authed = 1;
	ok(boundary_check(&st, FRAME_AUTH_REQUEST, &why) < 0, "no AUTH_REQUEST after login (%s)",
	   why);

	boundary_init(&st, BOUNDARY_PREAUTH, BOUNDARY_LEADER);
	st.proxy = 1;
	ok(boundary_check(&st, FRAME_AUTH_REQUEST, &why) < 0,
	   "--proxy-protocol: nothing before PROXY_SOURCE (%s)", why);
	ok(boundary_check(&st, FRAME_PROXY_SOURCE, &why) == 0, "PROXY_SOURCE first");
	ok(boundary_check(&st, FRAME_PROXY_SOURCE, &why) < 0, "PROXY_SOURCE only once");
	ok(boundary_check(&st, FRAME_AUTH_REQUEST, &why) == 0, "then AUTH_REQUEST");

	boundary_init(&st, BOUNDARY_LISTENER, BOUNDARY_LEADER);
	ok(boundary_check(&st, FRAME_EVICT, &why) < 0, "EVICT needs a listener");
	st.standalone = 1;
	ok(boundary_check(&st, FRAME_EVICT, &why) == 0, "EVICT from the listener");
	ok(boundary_check(&st, FRAME_AUTH_REQUEST, &why) < 0, "the listener sends no AUTH_REQUEST");
}

/* What the listener's stderr log said, from offset on. */
static int log_says(FILE *log, long offset, const char *what)
{
	char line[512];
	int found = 0;

	fflush(stderr);
	if (fseek(log, offset, SEEK_SET) < 0)
		return 0;
	while (fgets(line, sizeof line, log))
		found |= strstr(line, what) != NULL;
	return found;
}

/* We play a leader on one end of a channel; the listener's intake reads
 * the other, with the phase the listener keeps for that leader. */
static int leader_sends(int proxy, int authed, const struct frame *const *frames, size_t n,
			int *last)
{
	struct boundary_state st;
	int sv[2], r = FRAME_RECV_OK;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	listener_leader_path(&st, proxy);
	st.authed = authed != 0;
	for (size_t i = 0; i < n && r == FRAME_RECV_OK; i++) {
		struct frame f = *frames[i];

		if (frame_send(sv[0], &f) < 0)
			abort();
		r = listener_leader_frame(&st, sv[1], 4242, &f, io_now_ms());
		*last = (int)i;
	}
	close(sv[0]);
	close(sv[1]);
	return r;
}

static void test_listener(void)
{
	struct frame note, source, evict, request;
	const struct frame *fs[3];
	struct connproto_source src = { .family = 4, .addr = { 192, 0, 2, 1 } };
	FILE *log = tmpfile();
	int saved = dup(2), last = -1;
	long at;

	if (!log || saved < 0 || dup2(fileno(log), 2) < 0)
		abort();
	log_open(1);
	if (connproto_encode_user_note(&note, FRAME_USER_FAILED, "alice") < 0 ||
	    connproto_encode_source(&source, &src) < 0 ||
	    authproto_encode_request(&request, FRAME_METHOD_USERPASS, "alice", 5, "pw", 2) < 0)
		abort();
	frame_init(&evict, FRAME_EVICT);

	fs[0] = &note;
	fs[1] = &note;
	ok(leader_sends(0, 0, fs, 2, &last) == FRAME_RECV_OK && last == 1,
	   "listener: USER_NOTE from a leader before its login, any number");
	at = ftell(log);
	fs[0] = &request;
	ok(leader_sends(0, 0, fs, 1, &last) == BOUNDARY_HOSTILE &&
	   log_says(log, at, "leader 4242: hostile: frame AUTH_REQUEST"),
	   "listener: a leader's AUTH_REQUEST is outside the table, logged as hostile");
	fs[0] = &evict;
	ok(leader_sends(0, 0, fs, 1, &last) == BOUNDARY_HOSTILE,
	   "listener: so is EVICT from a leader (it goes the other way)");
	fs[0] = &note;
	ok(leader_sends(0, 1, fs, 1, &last) == BOUNDARY_HOSTILE,
	   "listener: USER_NOTE after the leader's login");
	fs[0] = &source;
	ok(leader_sends(0, 0, fs, 1, &last) == BOUNDARY_HOSTILE,
	   "listener: PROXY_SOURCE without --proxy-protocol");
	fs[0] = &note;
	ok(leader_sends(1, 0, fs, 1, &last) == BOUNDARY_HOSTILE,
	   "listener, --proxy-protocol: USER_NOTE before PROXY_SOURCE");
	fs[0] = &source;
	fs[1] = &note;
	fs[2] = &source;
	ok(leader_sends(1, 0, fs, 3, &last) == BOUNDARY_HOSTILE && last == 2,
	   "listener, --proxy-protocol: PROXY_SOURCE first, then USER_NOTE, PROXY_SOURCE once");
	frame_wipe(&request);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fclose(log);
}

int main(void)
{
	test_table();
	test_design();
	test_check();
	test_listener();
	return tap_done();
}
