/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The listener's per-source state (src/sources.c): the failed-login
 * penalty doubling, its ceiling and forgetting; the rule that a login
 * clears it only for a typo, and that failing for other names and then
 * logging in counts as failing (issue 14, finding 2); the refusal log
 * rate; the bounded table; and counting connections per source, IPv6
 * grouped per /64.  Time is passed in, so nothing here waits.
 */
#include "config.h"

#include <string.h>

#include "peer.h"
#include "sources.h"
#include "tap.h"

#define HOUR (3600 * 1000LL)
#define NO_CAP 600000LL

static struct peer_key v4(unsigned char a, unsigned char b)
{
	unsigned char ip[4] = { 192, 0, a, b };
	struct peer_key k;
	char text[PEER_ADDR_MAX];

	peer_from_bytes(4, ip, &k, text, sizeof text);
	return k;
}

/* 2001:db8:0:net::host */
static struct peer_key v6(unsigned char net, unsigned char host)
{
	unsigned char ip[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, net };
	struct peer_key k;
	char text[PEER_ADDR_MAX];

	ip[15] = host;
	ip[12] = 0xab;	/* the interface part varies as a host's would */
	peer_from_bytes(6, ip, &k, text, sizeof text);
	return k;
}

static void test_penalty(void)
{
	struct peer_key k = v4(1, 1);
	long long t = 1000000;
	int capped = 1;

	ok(sources_penalty(&k, NO_CAP, t) == 0, "a new source has no penalty");
	sources_ended(&k, 0, t);
	ok(sources_penalty(&k, NO_CAP, t) == 0, "a connection without failures adds none");
	sources_ended(&k, 1, t);
	ok(sources_penalty(&k, NO_CAP, t) == 2000, "a failed connection: 2 s");
	sources_ended(&k, 1, t + 10);
	ok(sources_penalty(&k, NO_CAP, t + 10) == 4000, "the next one doubles it");
	sources_ended(&k, 1, t + 20);
	ok(sources_penalty(&k, NO_CAP, t + 20) == 8000, "and again");
	ok(sources_penalty(&k, 5000, t + 20) == 5000, "--penalty-max caps what is used");
	for (int i = 0; i < 200; i++) {
		sources_ended(&k, 1, t + 30 + i);
		capped = capped && sources_penalty(&k, NO_CAP, t + 30 + i) <= NO_CAP;
	}
	ok(capped && sources_penalty(&k, NO_CAP, t + 300) == NO_CAP,
	   "failing forever stays at the ceiling (no overflow)");
	ok(sources_penalty(&k, NO_CAP, t + 229 + HOUR) == NO_CAP, "kept for an hour");
	ok(sources_penalty(&k, NO_CAP, t + 230 + HOUR) == 0, "forgotten after an hour");
	sources_ended(&k, 1, t + 240 + HOUR);
	ok(sources_penalty(&k, NO_CAP, t + 240 + HOUR) == 2000, "a failure after that starts at 2 s");
	k = v4(1, 2);
	ok(sources_penalty(&k, NO_CAP, t) == 0, "another address is not penalised");
}

static void test_typo(void)
{
	struct peer_key k = v4(2, 1);
	struct source_fails conn = { "", 0 }, none = { "", 0 };
	long long t = 5000000;

	/* alice mistypes her password, then gets it right on the same
	 * connection */
	sources_user_failed(&k, "alice", t);
	source_fails_note(&conn, "alice");
	sources_ended(&k, 1, t);
	sources_user_failed(&k, "alice", t + 1);
	source_fails_note(&conn, "alice");
	ok(!conn.mixed && strcmp(conn.user, "alice") == 0, "a connection remembers the name");
	ok(sources_user_login(&k, &conn, "alice", t + 2) == 0, "a typo is not a failed login");
	ok(sources_penalty(&k, NO_CAP, t + 2) == 0, "and clears the source's penalty");

	/* failures for alice do not clear on bob's login */
	sources_user_failed(&k, "alice", t + 3);
	sources_ended(&k, 1, t + 3);
	ok(sources_user_login(&k, &none, "bob", t + 4) == 0, "bob's clean login is not failed");
	ok(sources_penalty(&k, NO_CAP, t + 4) == 2000, "but leaves alice's penalty");

	/* mixed failures at the source: no login clears them */
	sources_user_failed(&k, "carol", t + 5);
	ok(sources_user_login(&k, &none, "alice", t + 6) == 0 &&
	   sources_penalty(&k, NO_CAP, t + 6) == 2000, "failures for two names: kept");

	/* forgotten failures are nobody's: the hour resets the names */
	sources_user_failed(&k, "dave", t + 3 + HOUR + 1);
	ok(sources_user_login(&k, &none, "dave", t + 3 + HOUR + 2) == 0,
	   "after an hour only the new failure counts");
	sources_ended(&k, 1, t + 3 + HOUR + 3);
	ok(sources_penalty(&k, NO_CAP, t + 3 + HOUR + 3) == 2000, "and the penalty starts over");
}

/* Issue 14, finding 2: an attacker who knows one account's password
 * guesses at others on a connection, then logs in to the known one to
 * wipe the penalty.  The login must count as failed, the penalty
 * stand. */
static void test_known_account(void)
{
	struct peer_key k = v4(3, 1);
	struct source_fails conn = { "", 0 };
	long long t = 9000000;

	sources_ended(&k, 1, t);	/* an earlier guessing connection */
	sources_user_failed(&k, "root", t + 1);
	source_fails_note(&conn, "root");
	sources_user_failed(&k, "admin", t + 2);
	source_fails_note(&conn, "admin");
	ok(conn.mixed, "two names failed on the connection");
	ok(sources_user_login(&k, &conn, "mallory", t + 3) == 1,
	   "logging in to a known account after guessing counts as failed");
	ok(sources_penalty(&k, NO_CAP, t + 3) == 2000, "the penalty is not cleared");
	sources_ended(&k, 1, t + 4);	/* what the listener does for it */
	ok(sources_penalty(&k, NO_CAP, t + 4) == 4000, "and grows when the connection ends");

	/* one other name is enough */
	struct source_fails one = { "", 0 };

	source_fails_note(&one, "root");
	ok(sources_user_login(&k, &one, "mallory", t + 5) == 1,
	   "one failure for another name counts too");
	ok(sources_penalty(&k, NO_CAP, t + 5) == 4000, "still not cleared");
}

static void test_log_rate(void)
{
	struct peer_key k = v4(4, 1);
	unsigned long sup = 99;
	long long t = 20000000;
	int quiet = 1;

	ok(sources_log_due(&k, t, &sup) == 1 && sup == 0, "the first refusal is logged");
	for (int i = 1; i <= 3; i++)
		quiet = quiet && sources_log_due(&k, t + i, &sup) == 0;
	ok(quiet, "refusals within the interval are not");
	ok(sources_log_due(&k, t + SOURCES_LOG_INTERVAL_MS, &sup) == 1 && sup == 3,
	   "the next line says how many were suppressed");
	k = v4(4, 2);
	ok(sources_log_due(&k, t + 5, &sup) == 1, "another source has its own rate");
}

/* The table is bounded: a flood of addresses replaces the least
 * recently touched entries, its own first. */
static void test_bounded(void)
{
	struct peer_key victim = v4(5, 1);
	long long t = 30000000;
	int survived;

	sources_ended(&victim, 1, t);
	for (int i = 0; i < 4096; i++) {
		struct peer_key k = v6((unsigned char)(i >> 8), (unsigned char)i);

		k.bytes[6] = (unsigned char)(i >> 8);	/* a /64 each */
		k.bytes[5] = (unsigned char)i;
		sources_ended(&k, 1, t + 1 + i);
	}
	survived = sources_penalty(&victim, NO_CAP, t + 5000) != 0;
	ok(!survived, "a flood of 4096 sources pushes the oldest entry out (bounded table)");
}

static void test_census(void)
{
	struct source_census c = { NULL, 0 };
	struct peer_key a = v4(6, 1), b = v4(6, 2);
	struct peer_key h1 = v6(7, 1), h2 = v6(7, 2), other = v6(8, 1);
	const struct source_count *best;

	ok(census_start(&c, 0) == 0 && census_count(&c, &a) == 0 && census_busiest(&c) == NULL,
	   "an empty census counts nothing");
	ok(census_reserve(&c, 8) == 0, "reserve room for 8");
	ok(census_start(&c, 100) < 0, "counting more than reserved is refused");
	ok(census_start(&c, 8) == 0, "start");
	census_add(&c, &a, 5, 0);
	census_add(&c, &b, 3, 1);
	census_add(&c, &a, 4, 2);
	census_add(&c, &h1, 9, 3);
	census_add(&c, &h2, 8, 4);
	census_add(&c, &other, 1, 5);
	census_add(&c, &h1, 2, 6);
	ok(census_count(&c, &a) == 2 && census_count(&c, &b) == 1, "IPv4: per address");
	ok(census_count(&c, &h2) == 3, "IPv6: one /64 is one source");
	ok(census_count(&c, &other) == 1, "another /64 is another");
	best = census_busiest(&c);
	ok(best && peer_key_eq(&best->key, &h1) && best->oldest == 6,
	   "the busiest source, and its oldest connection");
	census_add(&c, &a, 7, 7);
	best = census_busiest(&c);
	ok(best && peer_key_eq(&best->key, &h1),
	   "on a tie, the source whose oldest connection is older");
	ok(census_start(&c, 8) == 0 && census_count(&c, &a) == 0, "start empties it");
	census_free(&c);
	ok(c.slot == NULL && c.size == 0, "free");
}

int main(void)
{
	test_penalty();
	test_typo();
	test_known_account();
	test_log_rate();
	test_bounded();
	test_census();
	return tap_done();
}
