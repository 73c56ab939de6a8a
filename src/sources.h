/* SPDX-License-Identifier: BSD-2-Clause */
/* The listener's view of client sources: penalty, refusal log rate and
 * per-source counts; see sources.c. */
#ifndef POPA3D_SOURCES_H
#define POPA3D_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "peer.h"

/* Whose failed logins something holds: one user name, or many. */
struct source_fails {
	char user[FRAME_USER_MAX + 1];	/* the one name that failed; "" none */
	int mixed;			/* failures for more than one name */
};

/* Remember that name failed. */
void source_fails_note(struct source_fails *f, const char *name);

/* 1 when a refusal of k is to be logged now, with *suppressed set to the
 * refusals not logged since the last line; 0 when it is to be counted
 * and not logged (one line per source per SOURCES_LOG_INTERVAL_MS). */
#define SOURCES_LOG_INTERVAL_MS 60000
int sources_log_due(const struct peer_key *k, long long now, unsigned long *suppressed);

/* A connection from k ended; if failed (failed logins), start or double
 * k's penalty. */
void sources_ended(const struct peer_key *k, int failed, long long now);
/* The delay before k's next authentication, at most max ms; 0 when k
 * has none or it has been forgotten. */
long long sources_penalty(const struct peer_key *k, long long max, long long now);
/* A connection from k failed a login for name. */
void sources_user_failed(const struct peer_key *k, const char *name, long long now);
/* A connection from k, whose own failures are conn, logged in as name.
 * 1 when the connection must count as a failed one (it failed for other
 * names first); else 0, and k's penalty is cleared when every failure k
 * holds was for name (a typo). */
int sources_user_login(const struct peer_key *k, const struct source_fails *conn,
		       const char *name, long long now);

/* Connections counted per source: an open-addressing table sized for
 * the connections it may hold, so that counting allocates nothing. */
struct source_count {
	struct peer_key key;
	uint64_t count;
	uint64_t oldest_seq;	/* the lowest seq added under key */
	size_t oldest;		/* the index given with it */
	int used;
};
struct source_census {
	struct source_count *slot;
	size_t size;		/* a power of two, > 2 * what it may hold */
};

/* Room for n connections; -1 (and the census as it was) without memory. */
int census_reserve(struct source_census *c, size_t n);
/* Empty the census for at most the n it was reserved for; -1 if more. */
int census_start(struct source_census *c, size_t n);
/* One connection from key; seq orders them (lower is older), idx is the
 * caller's to get back from census_busiest. */
void census_add(struct source_census *c, const struct peer_key *key, uint64_t seq, size_t idx);
/* How many were added under key. */
uint64_t census_count(const struct source_census *c, const struct peer_key *key);
/* The source with the most (ties: the one whose oldest is older); NULL
 * if none was added. */
const struct source_count *census_busiest(const struct source_census *c);
void census_free(struct source_census *c);

#endif
