/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * structfloor: the floor of popa3d's process structure for one login, a
 * POP3 server that does per login what DESIGN's process structure
 * requires and nothing else.  bench/run measures it as "floor-D" in W1,
 * with its own client and CPU accounting, in the same run as ours-D.
 *
 *   make bench      (in the build dir)
 *   bench/structfloor -l 127.0.0.1:PORT --user PREAUTH --empty-dir DIR
 *                     --spool DIR [--pam-confdir DIR] [--service NAME]
 *
 * Per connection, as in ours:
 *   listener (root): has the service's PAM modules loaded as ours does
 *     (auth_pam_preload: pam_start, objects pinned RTLD_NODELETE,
 *     pam_end) and the NSS modules (one getgrouplist at start), the
 *     pre-auth user looked up once; accepts, forks one leader per
 *     connection, reaps them (so their CPU lands in its cutime/cstime).
 *   leader (root): a socketpair, then forks the pre-auth child, which
 *     chroots into --empty-dir, drops to the pre-auth user (setgroups 0,
 *     setgid, setuid), writes the greeting, reads USER and PASS, sends
 *     user and password to the leader, waits for one verdict byte, exits.
 *     The leader forks a throwaway auth helper (closes the client socket
 *     and the socketpair; pam_start or pam_start_confdir, PAM_RHOST and
 *     PAM_TTY, pam_authenticate, pam_acct_mgmt, pam_end, one result byte
 *     on a pipe, _exit), reaps it, answers the pre-auth child, reaps it,
 *     becomes the user (getpwnam, getgrouplist, setgroups, setgid,
 *     setuid), answers +OK, then STAT (open SPOOL/USER, fstat, "+OK 0
 *     SIZE": the count is not computed) and QUIT, and exits.
 *
 * Left out, because our process structure does not need it for a login
 * (each is ours and costs CPU per login, so this is a LOWER bound: any
 * implementation of this structure costs at least this much):
 *   - the pre-auth child's sandbox: seccomp filter, no_new_privs, not
 *     dumpable, rlimits, /dev/null on 0-2, the fstat check of the empty
 *     directory; the session's check that setuid(0)/setgid(0) now fail;
 *   - the listener's limits and tables: per-source table, penalties,
 *     census, the leaders' table and the wipe-on-fork pages holding them,
 *     the leader's channel to the listener (USER_NOTE / USER_VERDICT),
 *     --max-sessions, --max-preauth, eviction, pressure back-off; its
 *     poll loop and signal pipe (this one blocks in accept4 and reaps
 *     from a SIGCHLD handler);
 *   - the leader's scrub of the stack it inherits, io_close_from;
 *   - logging (no line at all), session ids, the end line;
 *   - the frame codec and the boundary table (user and password go as
 *     "user NUL password NUL", verdicts as one byte), user name
 *     validation, the leader's account policy (--min-uid, uid/gid 0),
 *     the mailbox template;
 *   - the fail delay and --max-failures (a failure gets -ERR at once),
 *     PAM_FAIL_DELAY, PAM_USER read back after the login;
 *   - every time-out (--timeout, --auth-timeout: blocking reads);
 *   - the mailbox engine: no lock, no scan, no parse; STAT is one open
 *     and one fstat; no UPDATE (QUIT deletes nothing);
 *   - the POP3 command tables: AUTHORIZATION knows USER, PASS, QUIT,
 *     TRANSACTION knows STAT and QUIT; no CAPA, no TLS, no PROXY.
 * Not part of make check, and not a server anyone should run: it is a
 * measuring stick.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"

#define LINE_MAX_BYTES 512
#define MAX_GROUPS 256

static const char *service = "popa3d", *confdir, *spool, *empty_dir;
static uid_t pre_uid;
static gid_t pre_gid;

struct reader {
	int fd;
	size_t have;
	char buf[LINE_MAX_BYTES];
};

static void fail(const char *what)
{
	perror(what);
	_exit(1);
}

static void say(int fd, const char *text)
{
	size_t len = strlen(text);

	if (send(fd, text, len, MSG_NOSIGNAL) != (ssize_t)len)
		_exit(1);
}

/* The next line without its CR LF into line (NUL-terminated); exits on
 * EOF, an error or a line longer than the buffer. */
static void read_line(struct reader *r, char *line)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->have);

		if (nl) {
			size_t len = (size_t)(nl - r->buf), used = len + 1;

			if (len && r->buf[len - 1] == '\r')
				len--;
			memcpy(line, r->buf, len);
			line[len] = '\0';
			memmove(r->buf, r->buf + used, r->have - used);
			r->have -= used;
			return;
		}
		if (r->have == sizeof r->buf)
			_exit(1);
		ssize_t n = read(r->fd, r->buf + r->have, sizeof r->buf - r->have);

		if (n <= 0)
			_exit(n < 0 && errno != ECONNRESET);
		r->have += (size_t)n;
	}
}

/* "VERB arg": the argument if line starts with verb and a space, or NULL */
static const char *arg_of(const char *line, const char *verb)
{
	size_t n = strlen(verb);

	if (strncasecmp(line, verb, n) != 0 || line[n] != ' ')
		return NULL;
	return line + n + 1;
}

static void preauth(int c, int leader)
{
	struct reader r = { c, 0, { 0 } };
	char line[LINE_MAX_BYTES], req[2 * LINE_MAX_BYTES];
	size_t ulen = 0;
	const char *a;
	char verdict;

	if (chroot(empty_dir) < 0 || chdir("/") < 0)
		fail("pre-auth child: chroot");
	if (setgroups(0, NULL) < 0 || setgid(pre_gid) < 0 || setuid(pre_uid) < 0)
		fail("pre-auth child: drop");
	say(c, "+OK structfloor\r\n");
	for (;;) {
		read_line(&r, line);
		if ((a = arg_of(line, "USER")) != NULL) {
			ulen = strlen(a) + 1;
			memcpy(req, a, ulen);
			say(c, "+OK\r\n");
		} else if ((a = arg_of(line, "PASS")) != NULL && ulen) {
			size_t plen = strlen(a) + 1, len = ulen + plen;

			memcpy(req + ulen, a, plen);
			explicit_bzero(line, sizeof line);
			if (send(leader, req, len, MSG_NOSIGNAL) != (ssize_t)len)
				fail("pre-auth child: send");
			explicit_bzero(req, sizeof req);
			if (read(leader, &verdict, 1) != 1)
				fail("pre-auth child: verdict");
			if (verdict)
				_exit(0);	/* the leader answers and runs the session */
			say(c, "-ERR authentication failed\r\n");
			_exit(0);
		} else if (strcasecmp(line, "QUIT") == 0) {
			say(c, "+OK\r\n");
			_exit(0);
		} else {
			say(c, "-ERR\r\n");
		}
	}
}

struct conv_data {
	const char *user, *password;
};

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	const struct conv_data *cd = data;
	struct pam_response *r = calloc((size_t)n, sizeof *r);

	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		int style = msg[i]->msg_style;

		if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
			r[i].resp = strdup(style == PAM_PROMPT_ECHO_OFF ? cd->password : cd->user);
			if (!r[i].resp)
				_exit(1);	/* the helper: one login, then gone */
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* The auth helper's work: 1 if the login is good */
static char pam_login(const char *user, const char *password, const char *rhost)
{
	struct conv_data cd = { user, password };
	struct pam_conv pc = { conv, &cd };
	pam_handle_t *h = NULL;
	int rc;

#ifdef HAVE_PAM_START_CONFDIR
	rc = confdir ? pam_start_confdir(service, user, &pc, confdir, &h)
		     : pam_start(service, user, &pc, &h);
#else
	if (confdir)
		return 0;
	rc = pam_start(service, user, &pc, &h);
#endif
	if (rc != PAM_SUCCESS)
		return 0;
	rc = pam_set_item(h, PAM_RHOST, rhost);
	if (rc == PAM_SUCCESS)
		rc = pam_set_item(h, PAM_TTY, "popa3d");
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	pam_end(h, rc);
	return rc == PAM_SUCCESS;
}

static void reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			fail("leader: waitpid");
}

/* The auth helper, forked for one request: 1 if the login is good */
static char authenticate(int c, int child, const char *user, const char *password,
			 const char *rhost)
{
	int p[2];
	char ok = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		fail("leader: pipe");
	pid = fork();
	if (pid < 0)
		fail("leader: fork");
	if (pid == 0) {
		if (close(c) < 0 || close(child) < 0 || close(p[0]) < 0)
			_exit(1);
		ok = pam_login(user, password, rhost);
		_exit(write(p[1], &ok, 1) == 1 ? 0 : 1);
	}
	if (close(p[1]) < 0)
		fail("leader: close");
	if (read(p[0], &ok, 1) != 1)
		ok = 0;
	if (close(p[0]) < 0)
		fail("leader: close");
	reap(pid);
	return ok;
}

static void become(const char *user)
{
	struct passwd *pw = getpwnam(user);
	gid_t groups[MAX_GROUPS];
	int n = MAX_GROUPS;

	if (!pw)
		fail("leader: getpwnam");
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		fail("leader: getgrouplist");
	if (setgroups((size_t)n, groups) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		fail("leader: become the user");
}

static void session(int c, const char *user)
{
	struct reader r = { c, 0, { 0 } };
	char line[LINE_MAX_BYTES], path[4096], answer[64];
	struct stat st;
	int fd, n;

	say(c, "+OK logged in\r\n");
	for (;;) {
		read_line(&r, line);
		if (strcasecmp(line, "STAT") == 0) {
			n = snprintf(path, sizeof path, "%s/%s", spool, user);
			if (n < 0 || (size_t)n >= sizeof path)
				_exit(1);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || fstat(fd, &st) < 0 || close(fd) < 0)
				fail("session: mailbox");
			n = snprintf(answer, sizeof answer, "+OK 0 %lld\r\n", (long long)st.st_size);
			if (n < 0 || (size_t)n >= sizeof answer)
				_exit(1);
			say(c, answer);
		} else if (strcasecmp(line, "QUIT") == 0) {
			say(c, "+OK\r\n");
			_exit(0);
		} else {
			say(c, "-ERR\r\n");
		}
	}
}

static void leader(int c, const struct sockaddr_in *peer)
{
	char req[2 * LINE_MAX_BYTES + 2], rhost[INET_ADDRSTRLEN], ok;
	struct sigaction dfl;
	size_t have = 0;
	int sv[2];
	pid_t pid;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &dfl, NULL) < 0)
		fail("leader: sigaction");
	if (!inet_ntop(AF_INET, &peer->sin_addr, rhost, sizeof rhost))
		fail("leader: inet_ntop");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fail("leader: socketpair");
	pid = fork();
	if (pid < 0)
		fail("leader: fork");
	if (pid == 0) {
		if (close(sv[0]) < 0)
			_exit(1);
		preauth(c, sv[1]);
	}
	if (close(sv[1]) < 0)
		fail("leader: close");
	/* "user NUL password NUL", or EOF when the client left before PASS */
	for (;;) {
		char *nul = memchr(req, '\0', have);

		if (nul && memchr(nul + 1, '\0', have - (size_t)(nul + 1 - req)))
			break;
		if (have == sizeof req)
			_exit(1);
		ssize_t n = read(sv[0], req + have, sizeof req - have);

		if (n <= 0) {
			reap(pid);
			_exit(0);
		}
		have += (size_t)n;
	}
	ok = authenticate(c, sv[0], req, req + strlen(req) + 1, rhost);
	explicit_bzero(req + strlen(req) + 1, sizeof req - strlen(req) - 1);
	if (send(sv[0], &ok, 1, MSG_NOSIGNAL) != 1)
		fail("leader: verdict");
	reap(pid);
	if (!ok)
		_exit(0);
	if (close(sv[0]) < 0)
		fail("leader: close");
	become(req);
	session(c, req);
}

static void reap_all(int sig)
{
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static int listen_on(const char *spec)
{
	struct sockaddr_in a;
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(spec, ':');
	char *end;
	long port;
	int fd, one = 1;

	if (!colon || (size_t)(colon - spec) >= sizeof host)
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	port = strtol(colon + 1, &end, 10);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	if (*end || port < 1 || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0)
		fail("listen");
	return fd;
}

static void usage(void)
{
	fprintf(stderr, "usage: structfloor -l ADDR:PORT --user PREAUTH --empty-dir DIR "
		"--spool DIR [--pam-confdir DIR] [--service NAME]\n");
	exit(2);
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "user", required_argument, NULL, 'u' },
		{ "empty-dir", required_argument, NULL, 'e' },
		{ "spool", required_argument, NULL, 's' },
		{ "pam-confdir", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	const char *addr = NULL, *user = NULL;
	gid_t groups[MAX_GROUPS];
	int o, fd, n = MAX_GROUPS;
	struct passwd *pw;

	while ((o = getopt_long(argc, argv, "l:", opts, NULL)) != -1) {
		switch (o) {
		case 'l': addr = optarg; break;
		case 'u': user = optarg; break;
		case 'e': empty_dir = optarg; break;
		case 's': spool = optarg; break;
		case 'c': confdir = optarg; break;
		case 'S': service = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || !addr || !user || !empty_dir || !spool)
		usage();
	pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "structfloor: no user %s\n", user);
		exit(1);
	}
	pre_uid = pw->pw_uid;
	pre_gid = pw->pw_gid;
	/* as ours (sandbox_nss_preload): the NSS modules bound once */
	if (getgrouplist(user, pre_gid, groups, &n) < 0)
		fail("getgrouplist");
	fd = listen_on(addr);
	if (fd < 0)
		usage();
	return fd;
}

int main(int argc, char **argv)
{
	int lfd = parse_args(argc, argv);
	struct sigaction sa;

	/* as ours: the PAM modules mapped once, pinned, no handle kept */
	auth_pam_preload(service, confdir);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = reap_all;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		fail("sigaction");
	for (;;) {
		struct sockaddr_in peer;
		socklen_t len = sizeof peer;
		int c = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
		pid_t pid;

		if (c < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				perror("accept4");
			continue;
		}
		pid = fork();
		if (pid == 0) {
			if (close(lfd) < 0)
				_exit(1);
			leader(c, &peer);
			_exit(1);
		}
		if (pid < 0)
			perror("fork");
		if (close(c) < 0)
			fail("close");
	}
}
