/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Run-time options: one table serves the command line and the config
 * file (-c FILE, one "name value" a line), so every long option but -c,
 * -t, -T, -V and -h is also a config-file name; the same table holds
 * each default and --help line.  Parsing is written for hostile input:
 * the config file parser is bounded and has its own fuzz target.
 */
#ifndef POPA3D_OPTIONS_H
#define POPA3D_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "proxy.h"

#define OPT_LISTEN_MAX 32

enum opt_auth { OPT_AUTH_PAM = 1, OPT_AUTH_SHADOW = 2 };

struct opt_listen {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int tls;			/* --listen-tls */
	char text[64];			/* as given, for logs */
};

struct options {
	int daemon;			/* -D */
	int foreground;			/* -F */
	int log_stderr;			/* --log-stderr */
	struct opt_listen listen[OPT_LISTEN_MAX];
	int nlisten;
	char *tls_cert, *tls_key;
	int require_tls;
	int allow_plaintext_auth;	/* SASL PLAIN without TLS */
	int auth;			/* enum opt_auth */
	char *pam_service;
	char *pam_confdir;		/* NULL: the system's /etc/pam.d */
	int no_pam_preload;		/* --no-pam-preload */
	char *shadow_file;		/* NULL: getspnam() */
	char *mailbox;			/* template, without "mbox:"/"maildir:" */
	int mailbox_format;		/* enum mbox_format: which of the two */
	int uidl;			/* enum mbox_uidl: --uidl */
	char *user;			/* pre-auth child's user */
	char *empty_dir;		/* pre-auth child's chroot */
	uint64_t max_sessions;		/* logged-in sessions (standalone) */
	uint64_t max_per_source;	/* connections per address or /64 */
	uint64_t max_per_user;		/* standalone: sessions of one account, 0: no cap */
	uint64_t max_preauth;		/* connections not logged in (standalone) */
	uint64_t max_messages;
	uint64_t max_mailbox_size;
	uint64_t timeout;		/* seconds idle */
	uint64_t fail_delay;		/* ms after a failed login */
	uint64_t max_failures;		/* failed logins before we hang up */
	uint64_t auth_timeout;		/* seconds the auth helper may take */
	uint64_t min_uid;		/* lowest uid that may log in */
	uint64_t lock_timeout;		/* seconds to wait for a mailbox lock */
	unsigned lock_methods;		/* MBOX_LOCK_* */
	uint64_t penalty_max;		/* ms: ceiling of the per-source penalty */
	int proxy_protocol;		/* a PROXY header leads every connection */
	char *proxy_from;		/* as given, for messages */
	struct proxy_cidr proxy_cidr[PROXY_FROM_MAX];	/* parsed --proxy-from */
	size_t nproxy_cidr;
	char *pid_file;
	char *expire;			/* CAPA EXPIRE argument, NULL: NEVER */
	uint64_t login_delay;		/* CAPA LOGIN-DELAY, 0: not advertised */
	int check_config;		/* -t */
	int print_config;		/* -T */
	int capa_version;		/* CAPA IMPLEMENTATION names the version */
	int show_version;		/* -V */
	int show_help;			/* -h */
};

/* The defaults that need no allocation (the option table's and the
 * mailbox engine's); options_finish adds the rest. */
void options_defaults(struct options *o);
/*
 * Command line, with -c/--config read first and the command line
 * overriding it.  0 on success; -1 with one line in err per problem
 * (a config file is read to its end; on the command line an unknown
 * option or a missing value stops the reading).
 */
int options_parse(struct options *o, int argc, const char *const *argv, struct buf *err);
/* A config file's text (name is used in messages). */
int options_parse_config(struct options *o, const void *text, size_t len,
			 const char *name, struct buf *err);
/* Fill what was not given with the table's remaining defaults (user,
 * empty dir, mailbox, PAM service: configure's; the 0.0.0.0:110
 * listener, which any given listener replaces). */
void options_finish(struct options *o);
/* Cross-option checks after everything is read; all problems, one
 * line each. */
int options_check(const struct options *o, struct buf *err);
/* popa3d --help: every option with its default, from the table. */
void options_usage(struct buf *out);
/* Append one problem to err, on a line of its own. */
void options_problem(struct buf *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Every option a file may set, defaults included, as config-file lines
 * (popa3d -T): read back with -c, they give the same configuration. */
void options_show(const struct options *o, struct buf *out);
/* Release the strings options_parse allocated. */
void options_free(struct options *o);

/* Parse "ADDR:PORT" / "[V6]:PORT" into l; -1 on error. */
int options_parse_listen(const char *s, struct opt_listen *l);

#endif
