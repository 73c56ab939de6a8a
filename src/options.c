/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Option parsing for the command line and the config file.  Runs as root
 * at start-up, before any client exists; the config file is trusted by
 * origin (root-owned) but parsed as if it were not: bounded lines,
 * every value checked, numbers only through num_parse.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"
#include "num.h"
#include "options.h"
#include "sysio.h"

#define CONFIG_MAX_SIZE (1024 * 1024)
#define CONFIG_LINE_MAX 4096

enum opt_kind { K_FLAG, K_STR, K_NUM, K_SPECIAL };

struct opt_def {
	const char *name;	/* long option and config-file name */
	char shortopt;		/* 0: none */
	enum opt_kind kind;
	size_t off;		/* offset of the field in struct options */
	uint64_t min, max;	/* for K_NUM */
	int cmdline_only;
};

#define OFF(f) offsetof(struct options, f)

static const struct opt_def opt_table[] = {
	{ "daemon", 'D', K_FLAG, OFF(daemon), 0, 0, 0 },
	{ "foreground", 'F', K_FLAG, OFF(foreground), 0, 0, 0 },
	{ "listen", 'l', K_SPECIAL, 0, 0, 0, 0 },
	{ "listen-tls", 0, K_SPECIAL, 0, 0, 0, 0 },
	{ "tls-cert", 0, K_STR, OFF(tls_cert), 0, 0, 0 },
	{ "tls-key", 0, K_STR, OFF(tls_key), 0, 0, 0 },
	{ "require-tls", 0, K_FLAG, OFF(require_tls), 0, 0, 0 },
	{ "allow-plaintext-auth", 0, K_FLAG, OFF(allow_plaintext_auth), 0, 0, 0 },
	{ "auth", 0, K_SPECIAL, 0, 0, 0, 0 },
	{ "pam-service", 0, K_STR, OFF(pam_service), 0, 0, 0 },
	{ "pam-confdir", 0, K_STR, OFF(pam_confdir), 0, 0, 0 },
	{ "shadow-file", 0, K_STR, OFF(shadow_file), 0, 0, 0 },
	{ "mailbox", 0, K_SPECIAL, 0, 0, 0, 0 },
	{ "user", 0, K_STR, OFF(user), 0, 0, 0 },
	{ "empty-dir", 0, K_STR, OFF(empty_dir), 0, 0, 0 },
	{ "max-sessions", 0, K_NUM, OFF(max_sessions), 1, 1000000, 0 },
	{ "max-per-source", 0, K_NUM, OFF(max_per_source), 1, 1000000, 0 },
	{ "max-preauth", 0, K_NUM, OFF(max_preauth), 1, 1000000, 0 },
	{ "max-messages", 0, K_NUM, OFF(max_messages), 0, UINT32_MAX - 1, 0 },
	{ "max-mailbox-size", 0, K_NUM, OFF(max_mailbox_size), 0, UINT64_MAX / 2, 0 },
	{ "timeout", 0, K_NUM, OFF(timeout), 1, 86400, 0 },
	{ "fail-delay", 0, K_NUM, OFF(fail_delay), 0, 60000, 0 },
	{ "max-failures", 0, K_NUM, OFF(max_failures), 1, 100, 0 },
	{ "auth-timeout", 0, K_NUM, OFF(auth_timeout), 1, 3600, 0 },
	{ "min-uid", 0, K_NUM, OFF(min_uid), 1, UINT32_MAX - 1, 0 },
	{ "lock-timeout", 0, K_NUM, OFF(lock_timeout), 0, 3600, 0 },
	{ "lock-method", 0, K_SPECIAL, 0, 0, 0, 0 },
	{ "penalty-max", 0, K_NUM, OFF(penalty_max), 0, 600000, 0 },
	{ "proxy-protocol", 0, K_FLAG, OFF(proxy_protocol), 0, 0, 0 },
	{ "proxy-from", 0, K_SPECIAL, 0, 0, 0, 0 },
	{ "pid-file", 0, K_STR, OFF(pid_file), 0, 0, 0 },
	{ "expire", 0, K_SPECIAL, 0, 0, 0, 0 },
	{ "login-delay", 0, K_NUM, OFF(login_delay), 0, 86400 * 365, 0 },
	{ "log-stderr", 0, K_FLAG, OFF(log_stderr), 0, 0, 0 },
	{ "config", 'c', K_SPECIAL, 0, 0, 0, 1 },
	{ "version", 'V', K_FLAG, OFF(show_version), 0, 0, 1 },
	{ "help", 'h', K_FLAG, OFF(show_help), 0, 0, 1 },
};

#define NOPTS (sizeof opt_table / sizeof opt_table[0])

void options_defaults(struct options *o)
{
	memset(o, 0, sizeof *o);
#ifdef HAVE_PAM
	o->auth = OPT_AUTH_PAM;
#else
	o->auth = OPT_AUTH_SHADOW;
#endif
	o->max_sessions = 100;
	o->max_per_source = 10;
	o->max_preauth = 1024;
	o->max_messages = 2097152;
	o->max_mailbox_size = 0;
	o->timeout = 600;
	o->fail_delay = 2000;
	o->max_failures = 3;
	o->auth_timeout = 30;
	o->min_uid = 1000;
	o->lock_timeout = 10;
	o->lock_methods = MBOX_LOCK_FCNTL | MBOX_LOCK_DOT;
	o->penalty_max = 15000;
}

static void opt_set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

void options_free(struct options *o)
{
	char **strs[] = { &o->tls_cert, &o->tls_key, &o->pam_service,
		&o->pam_confdir, &o->shadow_file, &o->mailbox, &o->user,
		&o->empty_dir, &o->proxy_from, &o->pid_file, &o->expire };

	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

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

static int opt_mailbox(struct options *o, const char *v, struct buf *err)
{
	const char *t = v;
	int format = MBOX_FORMAT_MBOX;

	if (strncmp(v, "maildir:", 8) == 0) {
		t = v + 8;
		format = MBOX_FORMAT_MAILDIR;
	} else if (strncmp(v, "mbox:", 5) == 0) {
		t = v + 5;
	}
	/* Check the template now with harmless values, so a bad one fails
	 * at start-up rather than at the first login. */
	{
		struct buf tmp;
		int r;

		buf_init(&tmp, 4096);
		r = options_mailbox_path(t, "user", "/home/user", &tmp);
		buf_free(&tmp);
		if (r < 0) {
			buf_printf(err, "--mailbox: bad template (want an absolute path using %%u, %%h, %%%%)");
			return -1;
		}
	}
	opt_set_str(&o->mailbox, t);
	o->mailbox_format = format;
	return 0;
}

static int opt_lock_method(struct options *o, const char *v, struct buf *err)
{
	unsigned m = 0;
	const char *p = v;

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

static int opt_apply(struct options *o, const struct opt_def *d, const char *v,
		     struct buf *err)
{
	char clean[LOG_CLEAN_SIZE(32)];

	switch (d->kind) {
	case K_FLAG:
		*(int *)((char *)o + d->off) = 1;
		return 0;
	case K_STR:
		if (!v || !*v) {
			buf_printf(err, "--%s needs a value", d->name);
			return -1;
		}
		opt_set_str((char **)((char *)o + d->off), v);
		return 0;
	case K_NUM: {
		uint64_t n;

		if (!v || num_parse_str(v, d->max, &n) < 0 || n < d->min) {
			log_clean(clean, sizeof clean, v ? v : "", v ? strlen(v) : 0);
			buf_printf(err, "--%s: \"%s\" is not a number from %llu to %llu",
				   d->name, clean, (unsigned long long)d->min,
				   (unsigned long long)d->max);
			return -1;
		}
		*(uint64_t *)((char *)o + d->off) = n;
		return 0;
	}
	case K_SPECIAL:
		break;
	}
	if (strcmp(d->name, "listen") == 0 || strcmp(d->name, "listen-tls") == 0) {
		if (o->nlisten >= OPT_LISTEN_MAX) {
			buf_printf(err, "too many listeners (at most %d)", OPT_LISTEN_MAX);
			return -1;
		}
		if (!v || options_parse_listen(v, &o->listen[o->nlisten]) < 0) {
			log_clean(clean, sizeof clean, v ? v : "", v ? strlen(v) : 0);
			buf_printf(err, "--%s: \"%s\" is not ADDR:PORT or [ADDR6]:PORT", d->name, clean);
			return -1;
		}
		o->listen[o->nlisten++].tls = d->name[6] == '-';
		return 0;
	}
	if (strcmp(d->name, "auth") == 0) {
		if (v && strcmp(v, "pam") == 0)
			o->auth = OPT_AUTH_PAM;
		else if (v && strcmp(v, "shadow") == 0)
			o->auth = OPT_AUTH_SHADOW;
		else {
			buf_printf(err, "--auth: want pam or shadow");
			return -1;
		}
		return 0;
	}
	if (strcmp(d->name, "mailbox") == 0)
		return opt_mailbox(o, v ? v : "", err);
	if (strcmp(d->name, "lock-method") == 0)
		return opt_lock_method(o, v ? v : "", err);
	if (strcmp(d->name, "proxy-from") == 0) {
		const char *why = "";

		/* The last --proxy-from wins, like every other single value. */
		if (!v || proxy_cidr_parse(v, o->proxy_cidr, PROXY_FROM_MAX, &o->nproxy_cidr,
					   &why) < 0) {
			log_clean(clean, sizeof clean, v ? v : "", v ? strlen(v) : 0);
			buf_printf(err, "--proxy-from: \"%s\": %s (want CIDR[,CIDR...], at most %d)",
				   clean, why, PROXY_FROM_MAX);
			o->nproxy_cidr = 0;
			return -1;
		}
		opt_set_str(&o->proxy_from, v);
		return 0;
	}
	if (strcmp(d->name, "expire") == 0) {
		uint64_t n;

		/* RFC 2449 6.7: "NEVER" or a number of days */
		if (!v || (strcmp(v, "NEVER") != 0 && num_parse_str(v, 36500, &n) < 0)) {
			buf_printf(err, "--expire: want NEVER or a number of days");
			return -1;
		}
		opt_set_str(&o->expire, v);
		return 0;
	}
	buf_printf(err, "--%s: not valid here", d->name);
	return -1;
}

static const struct opt_def *opt_find(const char *name, size_t n)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strlen(opt_table[i].name) == n &&
		    memcmp(opt_table[i].name, name, n) == 0)
			return &opt_table[i];
	return NULL;
}

static const struct opt_def *opt_find_short(char c)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opt_table[i].shortopt == c)
			return &opt_table[i];
	return NULL;
}

static int opt_takes_value(const struct opt_def *d)
{
	return d->kind != K_FLAG;
}

int options_parse_config(struct options *o, const void *text, size_t len,
			 const char *name, struct buf *err)
{
	const unsigned char *p = text, *end = p + len;
	unsigned lineno = 0;

	if (len > CONFIG_MAX_SIZE) {
		buf_printf(err, "%s: larger than %d bytes", name, CONFIG_MAX_SIZE);
		return -1;
	}
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *le = nl ? nl : end, *k, *ke, *v, *ve;
		const struct opt_def *d;
		char value[CONFIG_LINE_MAX + 1];
		char clean[LOG_CLEAN_SIZE(40)];

		lineno++;
		if ((size_t)(le - p) > CONFIG_LINE_MAX) {
			buf_printf(err, "%s:%u: line longer than %d bytes", name, lineno, CONFIG_LINE_MAX);
			return -1;
		}
		if (memchr(p, '\0', (size_t)(le - p))) {
			buf_printf(err, "%s:%u: NUL byte", name, lineno);
			return -1;
		}
		/* trim blanks and a CR; skip comments and empty lines */
		k = p;
		while (k < le && (*k == ' ' || *k == '\t'))
			k++;
		ve = le;
		while (ve > k && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
			ve--;
		p = nl ? nl + 1 : end;
		if (k == ve || *k == '#')
			continue;
		ke = k;
		while (ke < ve && *ke != ' ' && *ke != '\t')
			ke++;
		v = ke;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		d = opt_find((const char *)k, (size_t)(ke - k));
		if (!d || d->cmdline_only) {
			log_clean(clean, sizeof clean, k, (size_t)(ke - k));
			buf_printf(err, "%s:%u: unknown option \"%s\"", name, lineno, clean);
			return -1;
		}
		if (!opt_takes_value(d)) {
			/* flags: no value, or yes/no */
			if (v == ve || ((size_t)(ve - v) == 3 && memcmp(v, "yes", 3) == 0)) {
				*(int *)((char *)o + d->off) = 1;
				continue;
			}
			if ((size_t)(ve - v) == 2 && memcmp(v, "no", 2) == 0) {
				*(int *)((char *)o + d->off) = 0;
				continue;
			}
			buf_printf(err, "%s:%u: %s takes no value (or yes/no)", name, lineno, d->name);
			return -1;
		}
		if (v == ve) {
			buf_printf(err, "%s:%u: %s needs a value", name, lineno, d->name);
			return -1;
		}
		memcpy(value, v, (size_t)(ve - v));
		value[ve - v] = '\0';
		if (opt_apply(o, d, value, err) < 0) {
			struct buf tmp;

			/* prefix the message with where it came from */
			buf_init(&tmp, 1024);
			buf_printf(&tmp, "%s:%u: ", name, lineno);
			buf_append(&tmp, err->data, err->len);
			buf_reset(err);
			buf_append(err, tmp.data, tmp.len);
			buf_free(&tmp);
			return -1;
		}
	}
	return 0;
}

static int options_load_file(struct options *o, const char *path, struct buf *err)
{
	struct buf text;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		buf_printf(err, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	buf_init(&text, CONFIG_MAX_SIZE);
	for (;;) {
		unsigned char chunk[8192];
		ssize_t n = io_read(fd, chunk, sizeof chunk);

		if (n < 0) {
			buf_printf(err, "%s: %s", path, strerror(errno));
			close(fd);
			buf_free(&text);
			return -1;
		}
		if (n == 0)
			break;
		if (buf_append(&text, chunk, (size_t)n) < 0) {
			buf_printf(err, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
			close(fd);
			buf_free(&text);
			return -1;
		}
	}
	close(fd);
	r = options_parse_config(o, text.data ? (const void *)text.data : "", text.len, path, err);
	buf_free(&text);
	return r;
}

/* Pass 0 reads only -c FILE; pass 1 applies everything else. */
static int opt_walk_take(struct options *o, const struct opt_def *d, const char *v,
			 int pass, struct buf *err)
{
	int is_config = strcmp(d->name, "config") == 0;

	if (pass == 0)
		return is_config ? options_load_file(o, v, err) : 0;
	return is_config ? 0 : opt_apply(o, d, v, err);
}

/*
 * Our own getopt: the table decides which options take values, both
 * "--name value" and "--name=value" work, short options may be grouped
 * ("-DF").  Two passes: the first only finds -c, so the command line
 * overrides the file.
 */
static int options_walk(struct options *o, int argc, const char *const *argv, int pass,
			struct buf *err)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct opt_def *d;
		const char *v = NULL;

		if (a[0] == '-' && a[1] == '-' && a[2]) {
			const char *eq = strchr(a + 2, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			d = opt_find(a + 2, n);
			if (!d) {
				buf_printf(err, "unknown option %.*s (see popa3d -h)", (int)(n > 40 ? 42 : n + 2), a);
				return -1;
			}
			if (opt_takes_value(d)) {
				if (eq)
					v = eq + 1;
				else if (i + 1 < argc)
					v = argv[++i];
				else {
					buf_printf(err, "--%s needs a value", d->name);
					return -1;
				}
			} else if (eq) {
				buf_printf(err, "--%s takes no value", d->name);
				return -1;
			}
			if (opt_walk_take(o, d, v, pass, err) < 0)
				return -1;
			continue;
		}
		if (a[0] != '-' || !a[1]) {
			buf_printf(err, "unexpected argument \"%.40s\" (see popa3d -h)", a);
			return -1;
		}
		for (const char *c = a + 1; *c; c++) {
			d = opt_find_short(*c);
			if (!d) {
				buf_printf(err, "unknown option -%c (see popa3d -h)", *c);
				return -1;
			}
			if (opt_takes_value(d)) {
				if (c[1])
					v = c + 1;
				else if (i + 1 < argc)
					v = argv[++i];
				else {
					buf_printf(err, "-%c needs a value", *c);
					return -1;
				}
			}
			if (opt_walk_take(o, d, v, pass, err) < 0)
				return -1;
			if (v)
				break;
		}
	}
	return 0;
}

int options_parse(struct options *o, int argc, const char *const *argv, struct buf *err)
{
	int nlisten_file;

	if (options_walk(o, argc, argv, 0, err) < 0)
		return -1;
	/* Any -l on the command line replaces the file's listeners. */
	nlisten_file = o->nlisten;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-l") == 0 || strncmp(argv[i], "--listen", 8) == 0 ||
		    (argv[i][0] == '-' && argv[i][1] != '-' && strchr(argv[i], 'l'))) {
			o->nlisten = 0;
			break;
		}
	(void)nlisten_file;
	return options_walk(o, argc, argv, 1, err);
}

void options_finish(struct options *o)
{
	if (!o->user)
		o->user = xstrdup(POPA3D_USER);
	if (!o->empty_dir)
		o->empty_dir = xstrdup(POPA3D_EMPTY_DIR);
	if (!o->mailbox)
		o->mailbox = xstrdup(POPA3D_MAIL_SPOOL "/%u");
	if (!o->pam_service)
		o->pam_service = xstrdup("popa3d");
	if (o->nlisten == 0 && options_parse_listen("0.0.0.0:110", &o->listen[0]) == 0)
		o->nlisten = 1;
}

int options_check_system(const struct options *o, struct buf *err)
{
	struct passwd *pw;
	struct stat st;

	errno = 0;
	pw = getpwnam(o->user);
	if (!pw) {
		buf_printf(err, "--user %s: no such user (create it, e.g. adduser --system --group --no-create-home %s)",
			   o->user, o->user);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		buf_printf(err, "--user %s: must not be root or in group root", o->user);
		return -1;
	}
	if (lstat(o->empty_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		buf_printf(err, "--empty-dir %s: not a directory", o->empty_dir);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		buf_printf(err, "--empty-dir %s: must be owned by root and writable by nobody else",
			   o->empty_dir);
		return -1;
	}
	return 0;
}

int options_check(const struct options *o, struct buf *err)
{
	if (o->foreground && !o->daemon) {
		buf_printf(err, "-F only makes sense with -D");
		return -1;
	}
	if (o->log_stderr && o->daemon && !o->foreground) {
		buf_printf(err, "--log-stderr needs -F (a detached daemon has no stderr)");
		return -1;
	}
#ifndef HAVE_PAM
	if (o->auth == OPT_AUTH_PAM) {
		buf_printf(err, "--auth pam: this popa3d was built without PAM");
		return -1;
	}
#endif
	{
		int tls_listener = 0;

		for (int i = 0; i < o->nlisten; i++)
			tls_listener |= o->listen[i].tls;
#ifndef HAVE_TLS
		if (o->tls_cert || o->tls_key || o->require_tls || tls_listener) {
			buf_printf(err, "TLS options: this popa3d was built without TLS (--without-tls)");
			return -1;
		}
#endif
		if (!o->tls_cert != !o->tls_key) {
			buf_printf(err, "--tls-cert and --tls-key go together");
			return -1;
		}
		if (tls_listener && !o->tls_cert) {
			buf_printf(err, "--listen-tls needs --tls-cert and --tls-key");
			return -1;
		}
		if (o->require_tls && !o->tls_cert) {
			buf_printf(err, "--require-tls needs --tls-cert and --tls-key (else nobody could log in)");
			return -1;
		}
	}
	/* A header is believed only from known balancers: from anyone else
	 * it would let a client pick the address every limit and log uses. */
	if (o->proxy_protocol && o->nproxy_cidr == 0) {
		buf_printf(err, "--proxy-protocol needs --proxy-from CIDR[,CIDR...] (the balancers' addresses)");
		return -1;
	}
	if (!o->proxy_protocol && o->nproxy_cidr > 0) {
		buf_printf(err, "--proxy-from only makes sense with --proxy-protocol");
		return -1;
	}
	if (o->empty_dir && o->empty_dir[0] != '/') {
		buf_printf(err, "--empty-dir must be an absolute path");
		return -1;
	}
	return 0;
}

int options_mailbox_path(const char *tmpl, const char *user, const char *home,
			 struct buf *out)
{
	const char *p;

	buf_reset(out);
	/* A user name is one path component; never "." or "..". */
	if (!*user || strchr(user, '/') || strcmp(user, ".") == 0 || strcmp(user, "..") == 0)
		return -1;
	if (home[0] != '/')
		return -1;
	for (p = tmpl; *p; p++) {
		int r;

		if (*p != '%') {
			r = buf_append_byte(out, (unsigned char)*p);
		} else {
			p++;
			if (*p == 'u')
				r = buf_append_str(out, user);
			else if (*p == 'h')
				r = buf_append_str(out, home);
			else if (*p == '%')
				r = buf_append_byte(out, '%');
			else
				return -1;
		}
		if (r < 0)
			return -1;
	}
	if (out->len == 0 || out->data[0] != '/' || buf_has_nul(out) || !buf_cstr(out))
		return -1;
	/* no ".." component anywhere after expansion */
	for (size_t i = 0; i + 1 < out->len; i++)
		if (out->data[i] == '.' && out->data[i + 1] == '.' &&
		    (i == 0 || out->data[i - 1] == '/') &&
		    (i + 2 == out->len || out->data[i + 2] == '/'))
			return -1;
	return 0;
}

void options_usage(void)
{
	static const char text[] =
	"Usage: popa3d [options]\n"
	"  (no -D)                   inetd mode: one POP3 session on stdin/stdout\n"
	"  -D, --daemon              standalone: listen and fork a session per connection\n"
	"  -F, --foreground          with -D: stay in the foreground\n"
	"  -V, --version             print the version and exit\n"
	"  -c, --config FILE         read options from FILE (\"name value\" lines)\n"
	"  -l, --listen ADDR:PORT    plain POP3 listener, repeatable [0.0.0.0:110]\n"
	"      --listen-tls ADDR:PORT  implicit-TLS (POP3S) listener, repeatable\n"
	"      --tls-cert FILE       PEM certificate chain; enables STLS\n"
	"      --tls-key FILE        PEM private key (read as root, per connection)\n"
	"      --require-tls         refuse USER/PASS/AUTH before TLS\n"
	"      --allow-plaintext-auth  offer SASL PLAIN without TLS too\n"
	"      --auth pam|shadow     authentication backend\n"
	"      --pam-service NAME    PAM service name [popa3d]\n"
	"      --pam-confdir DIR     PAM configuration directory [/etc/pam.d]\n"
	"      --shadow-file FILE    shadow-format file for --auth shadow [getspnam()]\n"
	"      --mailbox SPEC        mbox:TEMPLATE or maildir:TEMPLATE, %u user, %h home\n"
	"                            [mbox:" POPA3D_MAIL_SPOOL "/%u]\n"
	"      --user NAME           pre-auth child's user [" POPA3D_USER "]\n"
	"      --empty-dir DIR       pre-auth child's chroot [" POPA3D_EMPTY_DIR "]\n"
	"      --max-sessions N      concurrent logged-in (mail) sessions [100]\n"
	"      --max-preauth N       concurrent connections not logged in; when full the\n"
	"                            oldest of the busiest source is closed [1024]\n"
	"      --max-per-source N    concurrent connections from one address or IPv6 /64 [10]\n"
	"      --max-messages N      refuse larger maildrops, 0 no limit [2097152]\n"
	"      --max-mailbox-size B  refuse larger mailboxes, 0 no limit [0]\n"
	"      --timeout SECONDS     idle timeout [600]\n"
	"      --fail-delay MS       delay after a failed login [2000]\n"
	"      --max-failures N      failed logins before hanging up [3]\n"
	"      --auth-timeout S      time the authentication backend may take [30]\n"
	"      --min-uid N           lowest uid that may log in [1000]\n"
	"      --lock-method LIST    fcntl,flock,dotlock [fcntl,dotlock]\n"
	"      --lock-timeout S      wait for a mailbox lock [10]\n"
	"      --penalty-max MS      ceiling of the per-source failed-login penalty [15000]\n"
	"      --expire DAYS|NEVER   CAPA EXPIRE value [NEVER]\n"
	"      --login-delay S       CAPA LOGIN-DELAY value [not sent]\n"
	"      --proxy-protocol      expect a HAProxy PROXY v1/v2 header on every connection\n"
	"      --proxy-from CIDR[,CIDR...]  the balancers whose headers are believed\n"
	"      --pid-file FILE       write the daemon's pid there\n"
	"      --log-stderr          also log to stderr (with -F)\n"
	"  -h, --help                this text\n"
	"See popa3d(8) and popa3d.conf(5).\n";

	fputs(text, stdout);
}
