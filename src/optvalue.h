/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The option table's shape, private to options.c (the table and its
 * walker) and optvalue.c (the kinds of value: how each is parsed and
 * shown).  Nothing else reads it: the rest of the daemon sees struct
 * options (options.h).
 */
#ifndef POPA3D_OPTVALUE_H
#define POPA3D_OPTVALUE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "options.h"

struct opt_def;

/* How a value is read and shown; one of these per kind of value. */
struct opt_type {
	/* v is NULL for a flag on the command line; the problem, one line,
	 * goes in err without the option's origin. */
	int (*parse)(struct options *o, const struct opt_def *d, const char *v,
		     struct buf *err);
	/* The value as config-file line(s), popa3d -T's; NULL: not shown. */
	void (*show)(const struct options *o, const struct opt_def *d, struct buf *out);
	/* Has a value been given?  Only asked of OPT_LATE options. */
	int (*given)(const struct options *o, const struct opt_def *d);
	int value;		/* takes a value (else a flag: yes/no in a file) */
	int owns_str;		/* the field is a char * that options_free frees */
	/* A choice of words (opt_parse_word): the int field holds the index
	 * of the word given; NULL entries are values no word names. */
	const char *const *words;
	size_t nwords;
};

#define OPT_CMDLINE 0x1	/* command line only, not a config-file name */
#define OPT_FIRST   0x2	/* read before every other option (-c FILE), so
			 * that the command line overrides the file */
#define OPT_LATE    0x4	/* default applied by options_finish if none was
			 * given: it allocates, or a given value replaces it */
#define OPT_LIST    0x8	/* repeatable; the command line's replace the file's */
#define OPT_TLS     0x10	/* a listener: implicit TLS (POP3S) */

struct opt_def {
	const char *name;	/* long option and config-file name */
	char shortopt;		/* 0: none */
	const struct opt_type *type;
	size_t off;		/* the field in struct options */
	uint64_t min, max;	/* numbers: the range */
	unsigned flags;		/* OPT_* */
	/* The default, as the parser reads it.  NULL: zero or unset, or for
	 * the mailbox limits the engine's default (options_defaults). */
	const char *def;
	const char *arg;	/* the value's name in --help */
	/* --help's text: "\n" starts a continuation line.  The default, as
	 * popa3d -T would print it, follows in [brackets], unless the text
	 * ends in its own (what an option left unset means). */
	const char *help;
};

#define OFF(f) offsetof(struct options, f)

static inline void *opt_field(struct options *o, const struct opt_def *d)
{
	return (char *)o + d->off;
}

static inline const void *opt_cfield(const struct options *o, const struct opt_def *d)
{
	return (const char *)o + d->off;
}

/* The kinds of value (optvalue.c); -c FILE's is options.c's. */
extern const struct opt_type opt_flag, opt_num, opt_str, opt_listen, opt_auth, opt_mailbox,
	opt_uidl, opt_locks, opt_proxy_from, opt_expire;

#endif
