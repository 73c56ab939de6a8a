/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader (root, at start-up and SIGHUP).
 * Option parsing for the command line and the config file.  Runs as root
 * at start-up, before any client exists; the config file is trusted by
 * origin (root-owned) but parsed as if it were not: bounded lines,
 * every value checked, numbers only through num_parse.
 *
 * One table (opt_table) says everything about an option: its names, the
 * type of its value (how it is parsed and how popa3d -T prints it), its
 * default and its help line.  The command line, the config file, the
 * defaults, popa3d -T and popa3d --help are all read from it.  The
 * kinds of value, each with its parser and printer, are in optvalue.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "log.h"
#include "mbox.h"
#include "num.h"
#include "options.h"
#include "optvalue.h"
#include "sysio.h"

#define CONFIG_MAX_SIZE (1024 * 1024)
#define CONFIG_LINE_MAX 4096
/* what one option's value may report: a config file's every line */
#define OPT_PROBLEMS_MAX (64 * 1024)
/* --help: the column the descriptions start in */
#define HELP_COL 28

void options_problem(struct buf *err, const char *fmt, ...)
{
	va_list ap;

	if (err->len > 0)
		(void)buf_append_byte(err, '\n');
	va_start(ap, fmt);
	(void)buf_vprintf(err, fmt, ap);
	va_end(ap);
}

static int options_load_file(struct options *o, const char *path, struct buf *err);

static int opt_parse_config(struct options *o, const struct opt_def *d, const char *v,
			    struct buf *err)
{
	(void)d;
	return options_load_file(o, v, err);
}

static const struct opt_type
	opt_config = { opt_parse_config, NULL, NULL, 1, 0, NULL, 0 };

#ifdef HAVE_PAM
#define OPT_AUTH_DEFAULT "pam"
#else
#define OPT_AUTH_DEFAULT "shadow"
#endif

/*
 * The options, in --help's order (popa3d -T prints the file options in
 * the same order).  The mailbox engine's limits have no default here:
 * options_defaults takes them from mbox_opts_default, the engine's own.
 * To add an option: a field in struct options, a line here, and its
 * entries in popa3d(8) and popa3d.conf(5).
 */
static const struct opt_def opt_table[] = {
	{ "daemon", 'D', &opt_flag, OFF(daemon), 0, 0, 0, NULL, NULL,
	  "standalone: listen and fork a session per connection" },
	{ "foreground", 'F', &opt_flag, OFF(foreground), 0, 0, 0, NULL, NULL,
	  "with -D: stay in the foreground" },
	{ "version", 'V', &opt_flag, OFF(show_version), 0, 0, OPT_CMDLINE, NULL, NULL,
	  "print the version and exit" },
	{ "check-config", 't', &opt_flag, OFF(check_config), 0, 0, OPT_CMDLINE, NULL, NULL,
	  "check the configuration as a start would, then exit" },
	{ "print-config", 'T', &opt_flag, OFF(print_config), 0, 0, OPT_CMDLINE, NULL, NULL,
	  "print the effective configuration, then exit" },
	{ "config", 'c', &opt_config, 0, 0, 0, OPT_CMDLINE | OPT_FIRST, NULL, "FILE",
	  "read options from FILE (\"name value\" lines)" },
	{ "listen", 'l', &opt_listen, OFF(nlisten), 0, 0, OPT_LATE | OPT_LIST, "0.0.0.0:110",
	  "ADDR:PORT", "plain POP3 listener, repeatable" },
	{ "listen-tls", 0, &opt_listen, OFF(nlisten), 0, 0, OPT_LIST | OPT_TLS, NULL, "ADDR:PORT",
	  "implicit-TLS (POP3S) listener, repeatable" },
	{ "tls-cert", 0, &opt_str, OFF(tls_cert), 0, 0, 0, NULL, "FILE",
	  "PEM certificate chain; enables STLS" },
	{ "tls-key", 0, &opt_str, OFF(tls_key), 0, 0, 0, NULL, "FILE",
	  "PEM private key (read only by the key holder)" },
	{ "require-tls", 0, &opt_flag, OFF(require_tls), 0, 0, 0, NULL, NULL,
	  "refuse USER/PASS/AUTH before TLS" },
	{ "allow-plaintext-auth", 0, &opt_flag, OFF(allow_plaintext_auth), 0, 0, 0, NULL, NULL,
	  "offer SASL PLAIN without TLS too" },
	{ "auth", 0, &opt_auth, OFF(auth), 0, 0, 0, OPT_AUTH_DEFAULT, "pam|shadow",
	  "authentication backend" },
	{ "pam-service", 0, &opt_str, OFF(pam_service), 0, 0, OPT_LATE, "popa3d", "NAME",
	  "PAM service name" },
	{ "pam-confdir", 0, &opt_str, OFF(pam_confdir), 0, 0, 0, NULL, "DIR",
	  "PAM configuration directory [/etc/pam.d]" },
	{ "no-pam-preload", 0, &opt_flag, OFF(no_pam_preload), 0, 0, 0, NULL, NULL,
	  "standalone: do not load the PAM modules at start" },
	{ "shadow-file", 0, &opt_str, OFF(shadow_file), 0, 0, 0, NULL, "FILE",
	  "shadow-format file for --auth shadow [getspnam()]" },
	{ "mailbox", 0, &opt_mailbox, OFF(mailbox), 0, 0, OPT_LATE,
	  "mbox:" POPA3D_MAIL_SPOOL "/%u", "SPEC",
	  "mbox:TEMPLATE or maildir:TEMPLATE, %u user, %h home\n" },
	{ "uidl", 0, &opt_uidl, OFF(uidl), 0, 0, 0, "popa3d", "popa3d|dovecot",
	  "whose UIDLs to show (doc/migration.md)" },
	{ "user", 0, &opt_str, OFF(user), 0, 0, OPT_LATE, POPA3D_USER, "NAME",
	  "pre-auth child's user" },
	{ "empty-dir", 0, &opt_str, OFF(empty_dir), 0, 0, OPT_LATE, POPA3D_EMPTY_DIR, "DIR",
	  "pre-auth child's chroot" },
	{ "max-sessions", 0, &opt_num, OFF(max_sessions), 1, 1000000, 0, "100", "N",
	  "concurrent logged-in (mail) sessions" },
	{ "max-preauth", 0, &opt_num, OFF(max_preauth), 1, 1000000, 0, "1024", "N",
	  "concurrent connections not logged in; when full the\noldest of the busiest source is closed" },
	{ "max-per-source", 0, &opt_num, OFF(max_per_source), 1, 1000000, 0, "10", "N",
	  "concurrent connections from one address or IPv6 /64" },
	{ "max-per-user", 0, &opt_num, OFF(max_per_user), 0, 1000000, 0, "10", "N",
	  "concurrent sessions of one account, 0 no cap" },
	{ "max-messages", 0, &opt_num, OFF(max_messages), 0, UINT32_MAX - 1, 0, NULL, "N",
	  "refuse larger maildrops, 0 no limit" },
	{ "max-mailbox-size", 0, &opt_num, OFF(max_mailbox_size), 0, UINT64_MAX / 2, 0, NULL, "B",
	  "refuse larger mailboxes, 0 no limit" },
	{ "timeout", 0, &opt_num, OFF(timeout), 1, 86400, 0, "600", "SECONDS",
	  "idle timeout" },
	{ "fail-delay", 0, &opt_num, OFF(fail_delay), 0, 60000, 0, "2000", "MS",
	  "every failed login is answered this long after\nthe request, whatever its cause" },
	{ "max-failures", 0, &opt_num, OFF(max_failures), 1, 100, 0, "3", "N",
	  "failed logins before hanging up" },
	{ "auth-timeout", 0, &opt_num, OFF(auth_timeout), 1, 3600, 0, "30", "S",
	  "time the authentication backend may take" },
	{ "min-uid", 0, &opt_num, OFF(min_uid), 1, UINT32_MAX - 1, 0, "1000", "N",
	  "lowest uid that may log in" },
	{ "lock-timeout", 0, &opt_num, OFF(lock_timeout), 0, 3600, 0, NULL, "S",
	  "wait for a mailbox lock" },
	{ "lock-method", 0, &opt_locks, OFF(lock_methods), 0, 0, 0, NULL, "LIST",
	  "fcntl,flock,dotlock" },
	{ "penalty-max", 0, &opt_num, OFF(penalty_max), 0, 600000, 0, "15000", "MS",
	  "ceiling of the per-source failed-login penalty" },
	{ "proxy-protocol", 0, &opt_flag, OFF(proxy_protocol), 0, 0, 0, NULL, NULL,
	  "expect a HAProxy PROXY v1/v2 header on every connection" },
	{ "proxy-from", 0, &opt_proxy_from, OFF(proxy_from), 0, 0, 0, NULL, "CIDR[,CIDR...]",
	  "the balancers whose headers are believed" },
	{ "pid-file", 0, &opt_str, OFF(pid_file), 0, 0, 0, NULL, "FILE",
	  "write the daemon's pid there" },
	{ "expire", 0, &opt_expire, OFF(expire), 0, 0, 0, NULL, "DAYS|NEVER",
	  "CAPA EXPIRE value" },
	{ "login-delay", 0, &opt_num, OFF(login_delay), 0, 86400 * 365, 0, NULL, "S",
	  "CAPA LOGIN-DELAY value [not sent]" },
	{ "capa-version", 0, &opt_flag, OFF(capa_version), 0, 0, 0, NULL, NULL,
	  "CAPA IMPLEMENTATION names the version too" },
	{ "log-stderr", 0, &opt_flag, OFF(log_stderr), 0, 0, 0, NULL, NULL,
	  "also log to stderr (with -F)" },
	{ "help", 'h', &opt_flag, OFF(show_help), 0, 0, OPT_CMDLINE, NULL, NULL,
	  "this text" },
};

#define NOPTS (sizeof opt_table / sizeof opt_table[0])

/* One value for d; what is wrong goes in err as one problem. */
static int opt_apply(struct options *o, const struct opt_def *d, const char *v,
		     struct buf *err)
{
	struct buf why;
	int r;

	buf_init(&why, OPT_PROBLEMS_MAX);
	/* A file line cannot hold a newline, so popa3d -T could not print
	 * such a value back; none of ours needs one. */
	if (v && strchr(v, '\n')) {
		buf_printf(&why, "--%s: a value cannot hold a newline", d->name);
		r = -1;
	} else {
		r = d->type->parse(o, d, v, &why);
	}
	if (r < 0)
		options_problem(err, "%s", buf_cstr(&why) ? buf_cstr(&why) : d->name);
	buf_free(&why);
	return r;
}

/* The built-in defaults cannot be wrong: a failure is a bug here. */
static void opt_apply_default(struct options *o, const struct opt_def *d)
{
	struct buf err;

	buf_init(&err, 1024);
	if (opt_apply(o, d, d->def, &err) < 0)
		fatal("built-in default of --%s: %s", d->name, buf_cstr(&err));
	buf_free(&err);
}

void options_defaults(struct options *o)
{
	struct mbox_opts m;

	memset(o, 0, sizeof *o);
	for (size_t i = 0; i < NOPTS; i++)
		if (opt_table[i].def && !(opt_table[i].flags & OPT_LATE))
			opt_apply_default(o, &opt_table[i]);
	mbox_opts_default(&m);
	o->max_messages = m.max_messages;
	o->max_mailbox_size = m.max_size;
	o->lock_methods = m.lock_methods;
	o->lock_timeout = (uint64_t)m.lock_timeout;
}

void options_finish(struct options *o)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];

		if ((d->flags & OPT_LATE) && !d->type->given(o, d))
			opt_apply_default(o, d);
	}
}

void options_free(struct options *o)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opt_table[i].type->owns_str) {
			char **field = opt_field(o, &opt_table[i]);

			free(*field);
			*field = NULL;
		}
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

/*
 * One line of a config file, without its newline: blanks around, a
 * comment or nothing is fine; else "name [value]".  0, or -1 with the
 * problem in err prefixed by where it is.
 */
static int opt_config_line(struct options *o, const unsigned char *ls, const unsigned char *le,
			   const char *name, unsigned lineno, struct buf *err)
{
	const unsigned char *k, *ke, *v, *ve;
	const struct opt_def *d;
	char value[CONFIG_LINE_MAX + 1];
	char clean[LOG_CLEAN_SIZE(40)];
	struct buf why;
	int r;

	if ((size_t)(le - ls) > CONFIG_LINE_MAX) {
		options_problem(err, "%s:%u: line longer than %d bytes", name, lineno,
				CONFIG_LINE_MAX);
		return -1;
	}
	if (memchr(ls, '\0', (size_t)(le - ls))) {
		options_problem(err, "%s:%u: NUL byte", name, lineno);
		return -1;
	}
	/* trim blanks and a CR; skip comments and empty lines */
	k = ls;
	while (k < le && (*k == ' ' || *k == '\t'))
		k++;
	ve = le;
	while (ve > k && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
		ve--;
	if (k == ve || *k == '#')
		return 0;
	ke = k;
	while (ke < ve && *ke != ' ' && *ke != '\t')
		ke++;
	v = ke;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	d = opt_find((const char *)k, (size_t)(ke - k));
	if (!d || (d->flags & OPT_CMDLINE)) {
		log_clean(clean, sizeof clean, k, (size_t)(ke - k));
		options_problem(err, "%s:%u: unknown option \"%s\"", name, lineno, clean);
		return -1;
	}
	if (d->type->value && v == ve) {
		options_problem(err, "%s:%u: %s needs a value", name, lineno, d->name);
		return -1;
	}
	memcpy(value, v, (size_t)(ve - v));
	value[ve - v] = '\0';
	buf_init(&why, OPT_PROBLEMS_MAX);
	r = opt_apply(o, d, value, &why);
	if (r < 0)	/* the message, prefixed with where it came from */
		options_problem(err, "%s:%u: %s", name, lineno, buf_cstr(&why) ? buf_cstr(&why) : d->name);
	buf_free(&why);
	return r;
}

int options_parse_config(struct options *o, const void *text, size_t len,
			 const char *name, struct buf *err)
{
	const unsigned char *p = text, *end = p + len;
	unsigned lineno = 0;
	int bad = 0;

	if (len > CONFIG_MAX_SIZE) {
		options_problem(err, "%s: larger than %d bytes", name, CONFIG_MAX_SIZE);
		return -1;
	}
	/* Each line stands alone, so after a bad one the next is read:
	 * popa3d -t names every problem of a file at once. */
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *le = nl ? nl : end;

		if (opt_config_line(o, p, le, name, ++lineno, err) < 0)
			bad = 1;
		p = nl ? nl + 1 : end;
	}
	return bad ? -1 : 0;
}

static int options_load_file(struct options *o, const char *path, struct buf *err)
{
	struct buf text;
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		options_problem(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		options_problem(err, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	buf_init(&text, CONFIG_MAX_SIZE);
	for (;;) {
		unsigned char chunk[8192];
		ssize_t n = io_read(fd, chunk, sizeof chunk);

		if (n < 0) {
			options_problem(err, "%s: %s", path, strerror(errno));
			close(fd);
			buf_free(&text);
			return -1;
		}
		if (n == 0)
			break;
		if (buf_append(&text, chunk, (size_t)n) < 0) {
			options_problem(err, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
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


/*
 * The value of option d at argv[*i]: inword (after "=", or the rest of a
 * short option's word) if not NULL, else the next word.  NULL if d takes
 * none; -1 if it needs one that is not there.
 */
static int opt_walk_value(const struct opt_def *d, const char *inword, int argc,
			  const char *const *argv, int *i, const char **v)
{
	*v = NULL;
	if (!d->type->value)
		return 0;
	if (inword)
		*v = inword;
	else if (*i + 1 < argc)
		*v = argv[++*i];
	else
		return -1;
	return 0;
}

/* Pass 0 takes only the OPT_FIRST options (-c), pass 1 the others. */
static int opt_walk_take(struct options *o, const struct opt_def *d, const char *v,
			 int pass, int *lists_cleared, struct buf *err)
{
	int first = (d->flags & OPT_FIRST) != 0;

	if (first != (pass == 0))
		return 0;
	/* The first listener on the command line replaces the file's (the
	 * OPT_LIST options, listen and listen-tls, fill one list). */
	if ((d->flags & OPT_LIST) && !*lists_cleared) {
		o->nlisten = 0;
		*lists_cleared = 1;
	}
	return opt_apply(o, d, v, err);
}

/* "--name", "--name value", "--name=value" at argv[*i]: 1 bad value,
 * -1 a problem that leaves the rest unreadable. */
static int opt_walk_long(struct options *o, int argc, const char *const *argv, int *i,
			 int pass, int *lists_cleared, struct buf *err)
{
	const char *a = argv[*i], *eq = strchr(a + 2, '='), *v;
	size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
	const struct opt_def *d = opt_find(a + 2, n);

	if (!d) {
		options_problem(err, "unknown option %.*s (see popa3d -h)", (int)(n > 40 ? 42 : n + 2), a);
		return -1;
	}
	if (eq && !d->type->value) {
		options_problem(err, "--%s takes no value", d->name);
		return -1;
	}
	if (opt_walk_value(d, eq ? eq + 1 : NULL, argc, argv, i, &v) < 0) {
		options_problem(err, "--%s needs a value", d->name);
		return -1;
	}
	return opt_walk_take(o, d, v, pass, lists_cleared, err) < 0;
}

/* "-X", grouped flags "-DF", "-c FILE", "-cFILE" at argv[*i]. */
static int opt_walk_short(struct options *o, int argc, const char *const *argv, int *i,
			  int pass, int *lists_cleared, struct buf *err)
{
	int bad = 0;

	for (const char *c = argv[*i] + 1; *c; c++) {
		const struct opt_def *d = opt_find_short(*c);
		const char *v;

		if (!d) {
			options_problem(err, "unknown option -%c (see popa3d -h)", *c);
			return -1;
		}
		if (opt_walk_value(d, c[1] ? c + 1 : NULL, argc, argv, i, &v) < 0) {
			options_problem(err, "-%c needs a value", *c);
			return -1;
		}
		if (opt_walk_take(o, d, v, pass, lists_cleared, err) < 0)
			bad = 1;
		if (v)
			break;
	}
	return bad;
}

/*
 * Our own walker rather than getopt_long: the table has to drive the
 * config file's names and --help anyway, and getopt_long would need a
 * second table derived from it; it prints its own complaints to stderr,
 * where popa3d -t collects every problem, one line each, in err; and the
 * two passes below would have to reset its global state (optind = 0 is
 * a glibc extension).  The table decides which options take values;
 * "--name value", "--name=value" and grouped short options ("-DF") work.
 * Two passes: the first only reads -c FILE, so the command line
 * overrides the file.  -1: a word that leaves the rest unreadable (an
 * unknown option, a missing value); 1: bad values, each reported, the
 * rest read on; 0: all good.
 */
static int options_walk(struct options *o, int argc, const char *const *argv, int pass,
			struct buf *err)
{
	int bad = 0, lists_cleared = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;

		if (a[0] == '-' && a[1] == '-' && a[2])
			r = opt_walk_long(o, argc, argv, &i, pass, &lists_cleared, err);
		else if (a[0] == '-' && a[1])
			r = opt_walk_short(o, argc, argv, &i, pass, &lists_cleared, err);
		else {
			options_problem(err, "unexpected argument \"%.40s\" (see popa3d -h)", a);
			r = -1;
		}
		if (r < 0)
			return -1;
		bad |= r;
	}
	return bad;
}

int options_parse(struct options *o, int argc, const char *const *argv, struct buf *err)
{
	int r0, r1;

	r0 = options_walk(o, argc, argv, 0, err);
	if (r0 < 0)
		return -1;
	r1 = options_walk(o, argc, argv, 1, err);
	return r0 || r1 ? -1 : 0;
}

void options_show(const struct options *o, struct buf *out)
{
	buf_printf(out, "# popa3d %s: the effective configuration (popa3d -T)\n",
		   PACKAGE_VERSION);
	for (size_t i = 0; i < NOPTS; i++)
		if (!(opt_table[i].flags & OPT_CMDLINE))
			opt_table[i].type->show(o, &opt_table[i], out);
}

/* " [default]" as popa3d -T prints it, for an option that has one. */
static void opt_help_default(const struct opt_def *d, const struct options *def,
			     struct buf *out)
{
	struct buf line;
	const char *s;
	size_t n = strlen(d->name);

	if (!d->type->value || !d->type->show || d->help[strlen(d->help) - 1] == ']')
		return;
	buf_init(&line, 64 * 1024);
	d->type->show(def, d, &line);
	s = buf_cstr(&line);
	/* after the text, or alone on a continuation line */
	if (s && strncmp(s, d->name, n) == 0 && s[n] == ' ')
		buf_printf(out, "%s[%.*s]", out->data[out->len - 1] == ' ' ? "" : " ",
			   (int)strcspn(s + n + 1, "\n"), s + n + 1);
	buf_free(&line);
}

static void opt_help_line(const struct opt_def *d, const struct options *def, struct buf *out)
{
	size_t start = out->len, width;
	const char *h = d->help;

	if (d->shortopt)
		buf_printf(out, "  -%c, --%s", d->shortopt, d->name);
	else
		buf_printf(out, "      --%s", d->name);
	if (d->arg)
		buf_printf(out, " %s", d->arg);
	width = out->len - start;
	buf_printf(out, "%*s", width + 2 <= HELP_COL ? (int)(HELP_COL - width) : 2, "");
	for (;;) {
		size_t n = strcspn(h, "\n");

		buf_append(out, h, n);
		if (!h[n])
			break;
		h += n + 1;
		buf_printf(out, "\n%*s", HELP_COL, "");
	}
	opt_help_default(d, def, out);
	buf_append_byte(out, '\n');
}

void options_usage(struct buf *out)
{
	struct options def;

	options_defaults(&def);
	options_finish(&def);
	buf_printf(out, "Usage: popa3d [options]\n"
		   "  (no -D)%*sinetd mode: one POP3 session on stdin/stdout\n", HELP_COL - 9, "");
	for (size_t i = 0; i < NOPTS; i++)
		opt_help_line(&opt_table[i], &def, out);
	buf_printf(out, "See popa3d(8) and popa3d.conf(5).\n");
	options_free(&def);
}

int options_check(const struct options *o, struct buf *err)
{
	int bad = 0;

	if (o->foreground && !o->daemon) {
		options_problem(err, "-F only makes sense with -D");
		bad = 1;
	}
	if (o->log_stderr && o->daemon && !o->foreground) {
		options_problem(err, "--log-stderr needs -F (a detached daemon has no stderr)");
		bad = 1;
	}
#ifndef HAVE_PAM
	if (o->auth == OPT_AUTH_PAM) {
		options_problem(err, "--auth pam: this popa3d was built without PAM");
		bad = 1;
	}
#endif
	{
		int tls_listener = 0;

		for (int i = 0; i < o->nlisten; i++)
			tls_listener |= o->listen[i].tls;
#ifndef HAVE_TLS
		/* one line for all of them; the rules between them do not apply */
		if (o->tls_cert || o->tls_key || o->require_tls || tls_listener) {
			options_problem(err, "TLS options: this popa3d was built without TLS (--without-tls)");
			bad = 1;
		}
#else
		if (!o->tls_cert != !o->tls_key) {
			options_problem(err, "--tls-cert and --tls-key go together");
			bad = 1;
		}
		if (tls_listener && !o->tls_cert) {
			options_problem(err, "--listen-tls needs --tls-cert and --tls-key");
			bad = 1;
		}
		if (o->require_tls && !o->tls_cert) {
			options_problem(err, "--require-tls needs --tls-cert and --tls-key (else nobody could log in)");
			bad = 1;
		}
#endif
	}
	/* A header is believed only from known balancers: from anyone else
	 * it would let a client pick the address every limit and log uses. */
	if (o->proxy_protocol && o->nproxy_cidr == 0) {
		options_problem(err, "--proxy-protocol needs --proxy-from CIDR[,CIDR...] (the balancers' addresses)");
		bad = 1;
	}
	if (!o->proxy_protocol && o->nproxy_cidr > 0) {
		options_problem(err, "--proxy-from only makes sense with --proxy-protocol");
		bad = 1;
	}
	if (o->empty_dir && o->empty_dir[0] != '/') {
		options_problem(err, "--empty-dir must be an absolute path");
		bad = 1;
	}
	return bad ? -1 : 0;
}
