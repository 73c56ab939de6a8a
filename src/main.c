/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * popa3d: start-up.  Runs as root: reads options, checks the system
 * (pre-auth user, empty directory), then either serves one connection on
 * stdin/stdout (inetd mode) or becomes the standalone listener.  Never
 * reads a byte from a client.
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

int main(int argc, char **argv)
{
	struct options o;
	struct buf err;
	int status;

	main_std_fds();
	main_close_inherited();
	options_defaults(&o);
	buf_init(&err, 1024);
	if (options_parse(&o, argc, (const char *const *)argv, &err) < 0)
		main_fail(buf_cstr(&err));
	if (o.show_help) {
		options_usage();
		return 0;
	}
	if (o.show_version) {
		printf("popa3d %s\n", PACKAGE_VERSION);
		return 0;
	}
	options_finish(&o);
	if (options_check(&o, &err) < 0)
		main_fail(buf_cstr(&err));
	if (geteuid() != 0)
		main_fail("must be started as root (it authenticates users and switches to them)");
	if (options_check_system(&o, &err) < 0)
		main_fail(buf_cstr(&err));
	/* The pre-auth user and chroot, looked up and read once here
	 * instead of in every pre-auth child. */
	if (sandbox_preauth_prepare(o.user, o.empty_dir, &err) < 0)
		main_fail(buf_cstr(&err));
	/* Standalone: a bad certificate or key stops the start (exit 1),
	 * checked in a fork so the key never enters this process.  inetd
	 * mode reads them per connection, which logs any problem. */
	if (o.daemon && o.tls_cert && tls_check_files(o.tls_cert, o.tls_key, &err) < 0)
		main_fail(buf_cstr(&err));
	/* inetd mode too: the TLS module, once, before the pre-auth child */
	if (o.tls_cert && tls_load(&err) < 0)
		main_fail(buf_cstr(&err));
	buf_free(&err);
	log_open(o.log_stderr);

	if (!o.daemon) {
		struct peer_key key;
		char addr[PEER_ADDR_MAX];

		signal(SIGPIPE, SIG_IGN);
		peer_from_fd(0, &key, addr, sizeof addr);
		if (o.proxy_protocol && !main_proxy_trusted_fd(&o, 0)) {
			log_msg(LOG_WARNING, "refused rip=%s reason=\"not in --proxy-from\"", addr);
			options_free(&o);
			return 1;
		}
		status = leader_run(0, 1, &o, addr, 0, 0, -1) == LEADER_EXIT_OK ? 0 : 1;
	} else {
		sandbox_prepare();
		sandbox_nss_preload(o.user);
		if (o.auth == OPT_AUTH_PAM)
			auth_pam_preload(o.pam_service, o.pam_confdir);
		status = listener_run(&o, argc, (const char *const *)argv);
	}
	options_free(&o);
	return status;
}
