/*
 * popa3d: start-up.  Runs as root: reads options, checks the system
 * (pre-auth user, empty directory), then either serves one connection on
 * stdin/stdout (inetd mode) or becomes the standalone listener.  Never
 * reads a byte from a client.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "leader.h"
#include "listener.h"
#include "log.h"
#include "options.h"
#include "peer.h"
#include "sysio.h"

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

/* Fail at start-up, with one clear line, on what would make every login
 * fail later. */
static void main_check_system(const struct options *o)
{
	struct passwd *pw;
	struct stat st;
	char msg[512];

	errno = 0;
	pw = getpwnam(o->user);
	if (!pw) {
		snprintf(msg, sizeof msg, "--user %s: no such user (create it, e.g. adduser --system --no-create-home %s)",
			 o->user, o->user);
		main_fail(msg);
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(msg, sizeof msg, "--user %s: must not be root or in group root", o->user);
		main_fail(msg);
	}
	if (lstat(o->empty_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(msg, sizeof msg, "--empty-dir %s: not a directory", o->empty_dir);
		main_fail(msg);
	}
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		snprintf(msg, sizeof msg, "--empty-dir %s: must be owned by root and writable by nobody else",
			 o->empty_dir);
		main_fail(msg);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	struct buf err;

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
	if (!o.user)
		o.user = xstrdup(POPA3D_USER);
	if (!o.empty_dir)
		o.empty_dir = xstrdup(POPA3D_EMPTY_DIR);
	if (!o.mailbox)
		o.mailbox = xstrdup(POPA3D_MAIL_SPOOL "/%u");
	if (!o.pam_service)
		o.pam_service = xstrdup("popa3d");
	if (o.nlisten == 0 && options_parse_listen("0.0.0.0:110", &o.listen[0]) == 0)
		o.nlisten = 1;
	if (options_check(&o, &err) < 0)
		main_fail(buf_cstr(&err));
	buf_free(&err);
	if (geteuid() != 0)
		main_fail("must be started as root (it authenticates users and switches to them)");
	main_check_system(&o);
	log_open(o.log_stderr);

	if (!o.daemon) {
		struct peer_key key;
		char addr[PEER_ADDR_MAX];

		signal(SIGPIPE, SIG_IGN);
		peer_from_fd(0, &key, addr, sizeof addr);
		return leader_run(0, 1, &o, addr, 0) == LEADER_EXIT_OK ? 0 : 1;
	}
	return listener_run(&o);
}
