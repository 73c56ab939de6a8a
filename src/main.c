/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader (root, at start-up).
 * popa3d: start-up.  Runs as root: reads options, checks the system
 * (confcheck.c: pre-auth user, empty directory, and in standalone mode
 * the certificate and key in a throwaway fork, PAM, the mail directory),
 * then either serves one connection on stdin/stdout (inetd mode) or
 * becomes the standalone listener.  popa3d -t stops after the check,
 * popa3d -T prints the options.  Never reads a byte from a client.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "confcheck.h"
#include "leader.h"
#include "listener.h"
#include "log.h"
#include "options.h"
#include "sandbox.h"
#include "peer.h"
#include "proxy.h"
#include "sysio.h"
#include "tls.h"

static void main_fail(const char *msg)
{
	fprintf(stderr, "popa3d: %s\n", msg);
	exit(1);
}

/* fds 0-2 must exist, or a later open() could become "stderr". */
static void main_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			exit(1);
	}
}

/*
 * Close every descriptor we were handed but did not ask for, before any
 * library (NSS, PAM, syslog) opens one of its own that we would then pull
 * from under it.  We keep 0-2 (the connection in inetd mode) and the
 * sockets systemd passes for our pid (LISTEN_FDS, from fd 3).
 */
static void main_close_inherited(void)
{
	int keep[OPT_LISTEN_MAX + 3];
	int inherited = listener_inherited_count();
	size_t nkeep = 0;

	for (int fd = 0; fd < 3 + inherited; fd++)
		keep[nkeep++] = fd;
	io_close_from(3, keep, nkeep);
}

/* inetd mode: is the socket on fd 0 from a --proxy-from address? */
static int main_proxy_trusted_fd(const struct options *o, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	memset(&ss, 0, sizeof ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return proxy_cidr_match(o->proxy_cidr, o->nproxy_cidr, &ss, len);
}

/* Problems go to stderr one a line, each prefixed as a start's are. */
static void main_fail_lines(struct buf *problems)
{
	const char *s = buf_cstr(problems);

	if (!s)
		main_fail("too many problems to list");
	while (*s) {
		size_t n = strcspn(s, "\n");

		fprintf(stderr, "popa3d: %.*s\n", (int)n, s);
		s += n + (s[n] == '\n');
	}
	exit(1);
}

/* What -T or --help built, on stdout. */
static void main_write_stdout(struct buf *out)
{
	if (io_write_full(1, out->data, out->len) < 0)
		main_fail("cannot write to standard output");
	buf_free(out);
}

/* popa3d -T: the effective configuration. */
static void main_print_config(const struct options *o)
{
	struct buf out;

	buf_init(&out, 1024 * 1024);
	options_show(o, &out);
	main_write_stdout(&out);
}

/* popa3d --help: generated from the option table. */
static void main_print_usage(void)
{
	struct buf out;

	buf_init(&out, 64 * 1024);
	options_usage(&out);
	main_write_stdout(&out);
}

int main(int argc, char **argv)
{
	struct options o;
	struct buf err;
	int status, flags;

	main_std_fds();
	main_close_inherited();
	options_defaults(&o);
	buf_init(&err, 64 * 1024);
	if (options_parse(&o, argc, (const char *const *)argv, &err) < 0)
		main_fail_lines(&err);
	if (o.show_help || o.show_version) {
		if (o.show_help)
			main_print_usage();
		else
			printf("popa3d %s\n", PACKAGE_VERSION);
		options_free(&o);
		buf_free(&err);
		return 0;
	}
	options_finish(&o);
	if (o.print_config) {
		/* needs no root: what the options say, not what the system has */
		if (options_check(&o, &err) < 0)
			main_fail_lines(&err);
		main_print_config(&o);
		if (!o.check_config) {
			options_free(&o);
			buf_free(&err);
			return 0;
		}
	}
	/* popa3d -t checks everything a start can.  A standalone start skips
	 * only the listen addresses, which its own bind checks next; a start
	 * from inetd, once per connection, only what it cannot run without
	 * (each connection opens the TLS files and the mailbox anyway). */
	flags = o.check_config ? CONFCHECK_DEEP | CONFCHECK_BIND :
	    o.daemon ? CONFCHECK_DEEP : 0;
	if (confcheck(&o, flags, &err) < 0)
		main_fail_lines(&err);
	if (o.check_config) {
		options_free(&o);
		buf_free(&err);
		return 0;
	}
	/* inetd mode too: the TLS module, once, before the pre-auth child */
	if (o.tls_cert && tls_load(&err) < 0)
		main_fail(buf_cstr(&err));
	buf_free(&err);
	log_open(o.log_stderr);

	if (!o.daemon) {
		char addr[PEER_ADDR_MAX];

		signal(SIGPIPE, SIG_IGN);
		peer_from_fd(0, addr, sizeof addr);
		if (o.proxy_protocol && !main_proxy_trusted_fd(&o, 0)) {
			log_msg(LOG_WARNING, "refused rip=%s reason=\"not in --proxy-from\"", addr);
			options_free(&o);
			return 1;
		}
		status = leader_run(0, 1, &o, addr, 0, 0, -1) == LEADER_EXIT_OK ? 0 : 1;
	} else {
		sandbox_prepare();
		sandbox_nss_preload(o.user);
		if (o.auth == OPT_AUTH_PAM && !o.no_pam_preload)
			auth_pam_preload(o.pam_service, o.pam_confdir);
		status = listener_run(&o, argc, (const char *const *)argv);
	}
	options_free(&o);
	return status;
}
