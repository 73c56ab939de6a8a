/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener (root).
 * What the listener remembers about client sources (an IPv4 address or
 * an IPv6 /64, struct peer_key), and how it counts connections per
 * source.  It never sees a client byte: user names come from leaders'
 * frames (connproto.c validated them), keys from accept() or from a
 * PROXY source a leader passed up.
 *
 * The table of recently seen sources is fixed in size: replacing the
 * least recently touched entry bounds memory, and an attacker cycling
 * addresses only erases its own penalties.  It holds, per source:
 *  - the refusal log rate: one line per SOURCES_LOG_INTERVAL_MS with a
 *    count of what was suppressed, so that a flood cannot fill the disk;
 *  - the failed-login penalty (Dovecot-style): 2 s after a failed
 *    connection, doubling with each further one up to PENALTY_STORE_MAX
 *    (the caller caps it at --penalty-max), forgotten an hour after the
 *    last failure;
 *  - whose failures the penalty holds.  A successful login proves only
 *    that the source knows that one account's password, so it clears the
 *    penalty only when every failure held was for the account that
 *    succeeded (a typo); a connection that failed for other names before
 *    logging in counts as a failed one (issue 14, finding 2: one known
 *    account must not buy guesses on others).
 *
 * The table and the census live in pages marked wipe-on-fork
 * (io_map_wipeonfork): every leader is forked from the listener and
 * becomes a mail user's session, and it must not carry other clients'
 * addresses or the user names that failed from them.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "sources.h"
#include "sysio.h"

#define PENALTY_START_MS 2000
#define PENALTY_FORGET_MS (3600 * 1000LL)
#define PENALTY_STORE_MAX 600000LL	/* --penalty-max's own ceiling */
#define TRACK_SLOTS 1024

struct track {
	struct peer_key key;
	int used;
	long long last_log_ms;	/* last refusal logged */
	unsigned long suppressed;	/* refusals not logged since */
	long long penalty_ms;	/* delay before the next authentication */
	long long last_fail_ms;
	struct source_fails fails;	/* whose failures the penalty holds */
	long long touched_ms;	/* for replacement */
};

/* TRACK_SLOTS of them, mapped at first use; zero-filled in a child */
static struct track *tracks;

static struct track *track_find(const struct peer_key *k, int create, long long now)
{
	struct track *oldest = NULL;

	if (!tracks && !(tracks = io_map_wipeonfork(TRACK_SLOTS * sizeof *tracks)))
		fatal("sources: no memory for the per-source table: %m");

	for (int i = 0; i < TRACK_SLOTS; i++) {
		struct track *t = &tracks[i];

		if (t->used && peer_key_eq(&t->key, k)) {
			t->touched_ms = now;
			return t;
		}
		if (!oldest || !t->used || (oldest->used && t->touched_ms < oldest->touched_ms))
			oldest = t;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof *oldest);
	oldest->used = 1;
	oldest->key = *k;
	oldest->touched_ms = now;
	return oldest;
}

void source_fails_note(struct source_fails *f, const char *name)
{
	if (!f->user[0])
		snprintf(f->user, sizeof f->user, "%s", name);
	else if (strcmp(f->user, name) != 0)
		f->mixed = 1;
}

/* Every failure f holds was for name (or there was none). */
static int source_fails_only(const struct source_fails *f, const char *name)
{
	return !f->mixed && (!f->user[0] || strcmp(f->user, name) == 0);
}

int sources_log_due(const struct peer_key *k, long long now, unsigned long *suppressed)
{
	struct track *t = track_find(k, 1, now);

	if (t->last_log_ms == 0 || now - t->last_log_ms >= SOURCES_LOG_INTERVAL_MS) {
		*suppressed = t->suppressed;
		t->last_log_ms = now;
		t->suppressed = 0;
		return 1;
	}
	t->suppressed++;
	return 0;
}

void sources_ended(const struct peer_key *k, int failed, long long now)
{
	/* found or not, a source whose connection ends is recent */
	struct track *t = track_find(k, failed, now);

	if (!failed)
		return;
	if (t->penalty_ms == 0 || now - t->last_fail_ms > PENALTY_FORGET_MS)
		t->penalty_ms = PENALTY_START_MS;
	else if (t->penalty_ms < PENALTY_STORE_MAX)
		t->penalty_ms *= 2;
	/* clamp what is stored, not only what is used: a source failing
	 * forever must not double it into overflow */
	if (t->penalty_ms > PENALTY_STORE_MAX)
		t->penalty_ms = PENALTY_STORE_MAX;
	t->last_fail_ms = now;
}

long long sources_penalty(const struct peer_key *k, long long max, long long now)
{
	struct track *t = track_find(k, 0, now);

	if (!t || t->penalty_ms == 0 || now - t->last_fail_ms > PENALTY_FORGET_MS)
		return 0;
	return t->penalty_ms > max ? max : t->penalty_ms;
}

void sources_user_failed(const struct peer_key *k, const char *name, long long now)
{
	struct track *t = track_find(k, 1, now);

	/* failures forgotten with their penalty are nobody's */
	if (t->last_fail_ms && now - t->last_fail_ms > PENALTY_FORGET_MS)
		memset(&t->fails, 0, sizeof t->fails);
	source_fails_note(&t->fails, name);
}

int sources_user_login(const struct peer_key *k, const struct source_fails *conn,
		       const char *name, long long now)
{
	struct track *t;

	if (!source_fails_only(conn, name))
		return 1;
	t = track_find(k, 0, now);
	if (t && source_fails_only(&t->fails, name)) {
		t->penalty_ms = 0;
		t->fails.user[0] = '\0';
	}
	return 0;
}

static uint32_t census_hash(const struct peer_key *k)
{
	uint32_t h = 2166136261u ^ k->family;

	for (size_t i = 0; i < sizeof k->bytes; i++)
		h = (h ^ k->bytes[i]) * 16777619u;
	return h;
}

int census_reserve(struct source_census *c, size_t n)
{
	size_t size = 16;
	struct source_count *s;

	while (size < 2 * n + 2)
		size *= 2;
	if (size <= c->size)
		return 0;
	/* census_start empties it before every count: nothing to copy */
	s = io_map_wipeonfork(size * sizeof *s);
	if (!s)
		return -1;
	io_unmap_wiped(c->slot, c->size * sizeof *c->slot);
	c->slot = s;
	c->size = size;
	return 0;
}

int census_start(struct source_census *c, size_t n)
{
	if (n == 0 && c->size == 0)
		return 0;	/* nothing reserved, nothing to count */
	if (c->size < 2 * n + 2)
		return -1;
	memset(c->slot, 0, c->size * sizeof *c->slot);
	return 0;
}

/* key's slot: its own, or the free one where it would go. */
static size_t census_find(const struct source_census *c, const struct peer_key *key)
{
	size_t i = census_hash(key) & (c->size - 1);

	/* never full (size > 2n), so this ends */
	while (c->slot[i].used && !peer_key_eq(&c->slot[i].key, key))
		i = (i + 1) & (c->size - 1);
	return i;
}

void census_add(struct source_census *c, const struct peer_key *key, uint64_t seq, size_t idx)
{
	struct source_count *s = &c->slot[census_find(c, key)];

	if (!s->used || seq < s->oldest_seq) {
		s->oldest_seq = seq;
		s->oldest = idx;
	}
	s->used = 1;
	s->key = *key;
	s->count++;
}

uint64_t census_count(const struct source_census *c, const struct peer_key *key)
{
	if (c->size == 0)
		return 0;
	return c->slot[census_find(c, key)].count;
}

const struct source_count *census_busiest(const struct source_census *c)
{
	const struct source_count *best = NULL;

	for (size_t i = 0; i < c->size; i++) {
		const struct source_count *s = &c->slot[i];

		if (s->used && (!best || s->count > best->count ||
				(s->count == best->count && s->oldest_seq < best->oldest_seq)))
			best = s;
	}
	return best;
}

void census_free(struct source_census *c)
{
	io_unmap_wiped(c->slot, c->size * sizeof *c->slot);
	c->slot = NULL;
	c->size = 0;
}
