/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader (root, at start-up and SIGHUP).
 * The kinds of option value: for each, how a value from the command line
 * or the config file is parsed and checked, and how popa3d -T prints it
 * back.  The config file is trusted by origin (root-owned) but its values
 * are read as if it were not: every one is checked, numbers only through
 * num_parse, and what is wrong is reported made safe to print.  The table
 * that names the options and says which kind each takes is options.c's.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "log.h"
#include "mbox.h"
#include "num.h"
#include "options.h"
#include "optvalue.h"
#include "sysio.h"

static void opt_set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

/* "--name: "VALUE" is not WANT", the value made safe to print. */
static int opt_bad_value(const struct opt_def *d, const char *v, const char *want,
			 struct buf *err)
{
	char clean[LOG_CLEAN_SIZE(32)];

	log_clean(clean, sizeof clean, v ? v : "", v ? strlen(v) : 0);
	buf_printf(err, "--%s: \"%s\" is not %s", d->name, clean, want);
	return -1;
}

static int opt_given_str(const struct options *o, const struct opt_def *d)
{
	return *(char *const *)opt_cfield(o, d) != NULL;
}

/* flags: int, 1 when given; in a file also "yes" or "no" */
static int opt_parse_flag(struct options *o, const struct opt_def *d, const char *v,
			  struct buf *err)
{
	int *field = opt_field(o, d);

	if (!v || !*v || strcmp(v, "yes") == 0)
		*field = 1;
	else if (strcmp(v, "no") == 0)
		*field = 0;
	else {
		buf_printf(err, "%s takes no value (or yes/no)", d->name);
		return -1;
	}
	return 0;
}

static void opt_show_flag(const struct options *o, const struct opt_def *d, struct buf *out)
{
	buf_printf(out, "%s %s\n", d->name, *(const int *)opt_cfield(o, d) ? "yes" : "no");
}

/* numbers: uint64_t from min to max */
static int opt_parse_num(struct options *o, const struct opt_def *d, const char *v,
			 struct buf *err)
{
	uint64_t n;

	if (!v || num_parse_str(v, d->max, &n) < 0 || n < d->min) {
		char want[64];

		snprintf(want, sizeof want, "a number from %llu to %llu",
			 (unsigned long long)d->min, (unsigned long long)d->max);
		return opt_bad_value(d, v, want, err);
	}
	*(uint64_t *)opt_field(o, d) = n;
	return 0;
}

static void opt_show_num(const struct options *o, const struct opt_def *d, struct buf *out)
{
	buf_printf(out, "%s %llu\n", d->name,
		   (unsigned long long)*(const uint64_t *)opt_cfield(o, d));
}

/* strings: char *, never empty */
static int opt_parse_str(struct options *o, const struct opt_def *d, const char *v,
			 struct buf *err)
{
	if (!v || !*v) {
		buf_printf(err, "--%s needs a value", d->name);
		return -1;
	}
	opt_set_str(opt_field(o, d), v);
	return 0;
}

static void opt_show_str(const struct options *o, const struct opt_def *d, struct buf *out)
{
	const char *s = *(char *const *)opt_cfield(o, d);

	if (s)
		buf_printf(out, "%s %s\n", d->name, s);
	else
		buf_printf(out, "# %s not set\n", d->name);
}

/* --listen and --listen-tls add to one list; OPT_TLS says which */
static int opt_parse_listen(struct options *o, const struct opt_def *d, const char *v,
			    struct buf *err)
{
	if (o->nlisten >= OPT_LISTEN_MAX) {
		buf_printf(err, "too many listeners (at most %d)", OPT_LISTEN_MAX);
		return -1;
	}
	if (!v || options_parse_listen(v, &o->listen[o->nlisten]) < 0)
		return opt_bad_value(d, v, "ADDR:PORT or [ADDR6]:PORT", err);
	o->listen[o->nlisten++].tls = (d->flags & OPT_TLS) != 0;
	return 0;
}

static void opt_show_listen(const struct options *o, const struct opt_def *d, struct buf *out)
{
	int shown = 0;

	for (int i = 0; i < o->nlisten; i++)
		if (o->listen[i].tls == ((d->flags & OPT_TLS) != 0)) {
			buf_printf(out, "%s %s\n", d->name, o->listen[i].text);
			shown = 1;
		}
	if (!shown)
		buf_printf(out, "# %s not set\n", d->name);
}

static int opt_given_listen(const struct options *o, const struct opt_def *d)
{
	(void)d;
	return o->nlisten > 0;
}

/* A word of d's list: its index goes in the int field. */
static int opt_parse_word(struct options *o, const struct opt_def *d, const char *v,
			  struct buf *err)
{
	const struct opt_type *t = d->type;

	for (size_t i = 0; v && i < t->nwords; i++)
		if (t->words[i] && strcmp(v, t->words[i]) == 0) {
			*(int *)opt_field(o, d) = (int)i;
			return 0;
		}
	buf_printf(err, "--%s: want", d->name);
	for (size_t i = 0, n = 0; i < t->nwords; i++)
		if (t->words[i])
			buf_printf(err, "%s %s", n++ ? " or" : "", t->words[i]);
	return -1;
}

static void opt_show_word(const struct options *o, const struct opt_def *d, struct buf *out)
{
	int i = *(const int *)opt_cfield(o, d);

	if (i >= 0 && (size_t)i < d->type->nwords && d->type->words[i])
		buf_printf(out, "%s %s\n", d->name, d->type->words[i]);
	else
		buf_printf(out, "# %s not set\n", d->name);
}

static int opt_parse_mailbox(struct options *o, const struct opt_def *d, const char *v,
			     struct buf *err)
{
	const char *t = v ? v : "";
	int format = MBOX_FORMAT_MBOX;
	struct buf tmp;
	int r;

	(void)d;
	if (strncmp(t, "maildir:", 8) == 0) {
		t += 8;
		format = MBOX_FORMAT_MAILDIR;
	} else if (strncmp(t, "mbox:", 5) == 0) {
		t += 5;
	}
	/* Check the template now with harmless values, so a bad one fails
	 * at start-up rather than at the first login. */
	buf_init(&tmp, 4096);
	r = account_mailbox_path(t, "user", "/home/user", &tmp);
	buf_free(&tmp);
	if (r < 0) {
		buf_printf(err, "--mailbox: bad template (want an absolute path using %%u, %%h, %%%%)");
		return -1;
	}
	opt_set_str(&o->mailbox, t);
	o->mailbox_format = format;
	return 0;
}

static void opt_show_mailbox(const struct options *o, const struct opt_def *d, struct buf *out)
{
	if (!o->mailbox) {
		buf_printf(out, "# %s not set\n", d->name);
		return;
	}
	buf_printf(out, "%s %s:%s\n", d->name,
		   o->mailbox_format == MBOX_FORMAT_MAILDIR ? "maildir" : "mbox", o->mailbox);
}

static int opt_parse_locks(struct options *o, const struct opt_def *d, const char *v,
			   struct buf *err)
{
	unsigned m = 0;
	const char *p = v ? v : "";

	(void)d;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 5 && strncmp(p, "fcntl", 5) == 0)
			m |= MBOX_LOCK_FCNTL;
		else if (n == 5 && strncmp(p, "flock", 5) == 0)
			m |= MBOX_LOCK_FLOCK;
		else if (n == 7 && strncmp(p, "dotlock", 7) == 0)
			m |= MBOX_LOCK_DOT;
		else {
			buf_printf(err, "--lock-method: want a comma-separated list of fcntl, flock, dotlock");
			return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (!(m & (MBOX_LOCK_FCNTL | MBOX_LOCK_FLOCK))) {
		buf_printf(err, "--lock-method: fcntl or flock is required");
		return -1;
	}
	o->lock_methods = m;
	return 0;
}

static void opt_show_locks(const struct options *o, const struct opt_def *d, struct buf *out)
{
	unsigned m = o->lock_methods;

	buf_printf(out, "%s %s%s%s\n", d->name, m & MBOX_LOCK_FCNTL ? "fcntl" : "flock",
		   (m & (MBOX_LOCK_FCNTL | MBOX_LOCK_FLOCK)) == (MBOX_LOCK_FCNTL | MBOX_LOCK_FLOCK) ?
		   ",flock" : "", m & MBOX_LOCK_DOT ? ",dotlock" : "");
}

static int opt_parse_proxy_from(struct options *o, const struct opt_def *d, const char *v,
				struct buf *err)
{
	const char *why = "";
	char clean[LOG_CLEAN_SIZE(32)];

	(void)d;
	/* The last --proxy-from wins, like every other single value. */
	if (!v || proxy_cidr_parse(v, o->proxy_cidr, PROXY_FROM_MAX, &o->nproxy_cidr, &why) < 0) {
		log_clean(clean, sizeof clean, v ? v : "", v ? strlen(v) : 0);
		buf_printf(err, "--proxy-from: \"%s\": %s (want CIDR[,CIDR...], at most %d)",
			   clean, why, PROXY_FROM_MAX);
		o->nproxy_cidr = 0;
		return -1;
	}
	opt_set_str(&o->proxy_from, v);
	return 0;
}

static int opt_parse_expire(struct options *o, const struct opt_def *d, const char *v,
			    struct buf *err)
{
	uint64_t n;

	(void)d;
	/* RFC 2449 6.7: "NEVER" or a number of days */
	if (!v || (strcmp(v, "NEVER") != 0 && num_parse_str(v, 36500, &n) < 0)) {
		buf_printf(err, "--expire: want NEVER or a number of days");
		return -1;
	}
	opt_set_str(&o->expire, v);
	return 0;
}

static void opt_show_expire(const struct options *o, const struct opt_def *d, struct buf *out)
{
	buf_printf(out, "%s %s\n", d->name, o->expire ? o->expire : "NEVER");
}

static const char *const opt_auth_words[] = { [OPT_AUTH_PAM] = "pam",
					      [OPT_AUTH_SHADOW] = "shadow" };
static const char *const opt_uidl_words[] = { [MBOX_UIDL_POPA3D] = "popa3d",
					      [MBOX_UIDL_DOVECOT] = "dovecot" };
#define OPT_WORDS(w) w, sizeof w / sizeof w[0]

const struct opt_type
	opt_flag = { opt_parse_flag, opt_show_flag, NULL, 0, 0, NULL, 0 },
	opt_num = { opt_parse_num, opt_show_num, NULL, 1, 0, NULL, 0 },
	opt_str = { opt_parse_str, opt_show_str, opt_given_str, 1, 1, NULL, 0 },
	opt_listen = { opt_parse_listen, opt_show_listen, opt_given_listen, 1, 0, NULL, 0 },
	opt_auth = { opt_parse_word, opt_show_word, NULL, 1, 0, OPT_WORDS(opt_auth_words) },
	opt_mailbox = { opt_parse_mailbox, opt_show_mailbox, opt_given_str, 1, 1, NULL, 0 },
	opt_uidl = { opt_parse_word, opt_show_word, NULL, 1, 0, OPT_WORDS(opt_uidl_words) },
	opt_locks = { opt_parse_locks, opt_show_locks, NULL, 1, 0, NULL, 0 },
	opt_proxy_from = { opt_parse_proxy_from, opt_show_str, NULL, 1, 1, NULL, 0 },
	opt_expire = { opt_parse_expire, opt_show_expire, NULL, 1, 1, NULL, 0 };

int options_parse_listen(const char *s, struct opt_listen *l)
{
	const char *colon, *host;
	char hostbuf[INET6_ADDRSTRLEN + 1];
	size_t hlen;
	uint64_t port;

	memset(l, 0, sizeof *l);
	if (strlen(s) >= sizeof l->text)
		return -1;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -1;
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -1;	/* bare IPv6 needs brackets */
		host = s;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof hostbuf)
		return -1;
	if (num_parse_str(colon + 1, 65535, &port) < 0 || port == 0)
		return -1;
	memcpy(hostbuf, host, hlen);
	hostbuf[hlen] = '\0';
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;

		if (inet_pton(AF_INET6, hostbuf, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		l->addrlen = sizeof *sin6;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;

		if (inet_pton(AF_INET, hostbuf, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		l->addrlen = sizeof *sin;
	}
	memcpy(l->text, s, strlen(s) + 1);
	return 0;
}
