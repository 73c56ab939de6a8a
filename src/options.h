/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Run-time options: one table serves the command line and the config
 * file (-c FILE, one "name value" a line), so every long option is also
 * a config-file name.  Parsing is written for hostile input: the config
 * file parser is bounded and has its own fuzz target.
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
	char *shadow_file;		/* NULL: getspnam() */
	char *mailbox;			/* template, without "mbox:"/"maildir:" */
	int mailbox_format;		/* enum mbox_format: which of the two */
	char *user;			/* pre-auth child's user */
	char *empty_dir;		/* pre-auth child's chroot */
	uint64_t max_sessions;		/* logged-in sessions (standalone) */
	uint64_t max_per_source;	/* connections per address or /64 */
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
	int show_version;		/* -V */
	int show_help;			/* -h */
};

/* Defaults from configure. */
void options_defaults(struct options *o);
/*
 * Command line, with -c/--config read first and the command line
 * overriding it.  0 on success; -1 with one line in err naming the
 * problem.
 */
int options_parse(struct options *o, int argc, const char *const *argv, struct buf *err);
/* A config file's text (name is used in messages). */
int options_parse_config(struct options *o, const void *text, size_t len,
			 const char *name, struct buf *err);
/* Fill what was not given with configure's defaults (user, empty dir,
 * mailbox, PAM service, the 0.0.0.0:110 listener). */
void options_finish(struct options *o);
/* Cross-option checks after everything is read. */
int options_check(const struct options *o, struct buf *err);
/* Check the system for what would make every login fail later: the
 * pre-auth user exists and is not root, the empty dir is a root-owned
 * directory nobody else may write. */
int options_check_system(const struct options *o, struct buf *err);
void options_usage(void);
/* Release the strings options_parse allocated. */
void options_free(struct options *o);

/*
 * Expand the mailbox template: %u user name, %h home, %% a percent.
 * 0 on success, -1 if the result is not an absolute path or a
 * substituted value could walk out of its place ('/' in %u, "..").
 */
int options_mailbox_path(const char *tmpl, const char *user, const char *home,
			 struct buf *out);
/* Parse "ADDR:PORT" / "[V6]:PORT" into l; -1 on error. */
int options_parse_listen(const char *s, struct opt_listen *l);

#endif
