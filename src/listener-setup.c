/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener (root).
 * The listener's start and its SIGHUP reload: the listening sockets
 * (systemd's, or bound from --listen), the detach, the pid file, the
 * descriptor limit, and the new configuration a SIGHUP brings.  All of
 * it runs as root before the first connection or between two turns of
 * the poll loop (listener.c), and none of it reads a byte from a client.
 * A reload is all or nothing: a configuration that does not check out
 * (confcheck, as at start and in popa3d -t) is logged, one line per
 * problem, and the old one kept; listening sockets stay as they are.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "confcheck.h"
#include "keyholder.h"
#include "listener-int.h"
#include "listener.h"
#include "log.h"
#include "num.h"
#include "peer.h"
#include "sysio.h"

#define LISTEN_BACKLOG 4096

int listener_inherited_count(void)
{
	const char *pid_s = getenv("LISTEN_PID"), *n_s = getenv("LISTEN_FDS");
	uint64_t pid, n;

	if (!pid_s || !n_s)
		return 0;
	if (num_parse_str(pid_s, UINT32_MAX, &pid) < 0 || (pid_t)pid != getpid())
		return 0;
	if (num_parse_str(n_s, OPT_LISTEN_MAX, &n) < 0 || n == 0) {
		fprintf(stderr, "popa3d: LISTEN_FDS: bad value (1 to %d sockets)\n", OPT_LISTEN_MAX);
		exit(1);
	}
	return (int)n;
}

/*
 * LISTEN_FDNAMES (colon-separated, systemd's FileDescriptorName=): a
 * socket named "pop3s" is an implicit-TLS listener, any other plain.
 */
static int listener_fdname_is_tls(const char *names, int index)
{
	const char *p = names;

	for (int i = 0; p && i < index; i++) {
		p = strchr(p, ':');
		if (p)
			p++;
	}
	return p && strncmp(p, "pop3s", 5) == 0 && (p[5] == ':' || p[5] == '\0');
}

/* Sockets from systemd (sd_listen_fds convention, without libsystemd). */
static int listener_inherited(int *fds, int *tls)
{
	int n = listener_inherited_count(), count = 0;
	const char *names = getenv("LISTEN_FDNAMES");

	for (int fd = 3; fd < 3 + (int)n; fd++) {
		int acc = 0;
		socklen_t len = sizeof acc;

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc) {
			fprintf(stderr, "popa3d: LISTEN_FDS: fd %d is not a listening socket\n", fd);
			exit(1);
		}
		if (io_set_cloexec(fd, 1) < 0 || io_set_nonblock(fd, 1) < 0) {
			fprintf(stderr, "popa3d: LISTEN_FDS: fd %d: %s\n", fd, strerror(errno));
			exit(1);
		}
		tls[count] = names ? listener_fdname_is_tls(names, count) : 0;
		fds[count++] = fd;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return count;
}

static int listener_bind(const struct opt_listen *l)
{
	int one = 1;
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		goto fail;
	/* [::] and 0.0.0.0 may both be given: keep IPv6 sockets IPv6-only. */
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0)
		goto fail;
	/* A deep queue: under a flood of connects a short one overflows and
	 * the kernel drops the SYNs of real clients, which then wait out
	 * TCP's retransmission back-off (1, 3, 7, 15 s...).  The kernel caps
	 * it at net.core.somaxconn. */
	if (listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	{
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return -1;
}

void listener_detach(void)
{
	pid_t pid = xfork();
	int fd;

	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fatal("setsid: %m");
	pid = xfork();
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		fatal("chdir /: %m");
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		fatal("/dev/null: %m");
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		fatal("dup2: %m");
	if (fd > 2)
		close(fd);
}

/*
 * The pid file appears whole or not at all: written to FILE.new, which
 * is created afresh (O_EXCL, O_NOFOLLOW: never through a link someone
 * planted), then renamed over FILE.  So a service manager or a script
 * never reads an empty or partial file, and a link at FILE is replaced,
 * not written through.
 */
void listener_write_pidfile(const char *path)
{
	struct buf tmp;
	char line[32];
	int fd = -1, n;

	buf_init(&tmp, PATH_MAX + 8);
	if (buf_printf(&tmp, "%s.new", path) < 0)
		fatal("--pid-file %s: name too long", path);
	for (int tries = 0; fd < 0 && tries < 2; tries++) {
		fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0644);
		/* one left by a listener that died between open and rename */
		if (fd < 0 && errno == EEXIST && tries == 0 && unlink(buf_cstr(&tmp)) < 0)
			break;
	}
	if (fd < 0)
		fatal("--pid-file %s: %m", buf_cstr(&tmp));
	n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (n < 0 || (size_t)n >= sizeof line || io_write_full(fd, line, (size_t)n) < 0 ||
	    close(fd) < 0 || rename(buf_cstr(&tmp), path) < 0)
		fatal("--pid-file %s: %m", path);
	buf_free(&tmp);
}

/*
 * SIGHUP: re-read the configuration.  All or nothing: any error keeps
 * the running configuration.  Listening addresses are not rebound (that
 * would need root-only ports after the fact and could drop the service);
 * a change to them is logged as needing a restart.
 */
void listener_reload(struct options *o, int argc, const char *const *argv,
			    int tls_listening)
{
	struct options n;
	struct buf err;
	int same_listeners;

	options_defaults(&n);
	buf_init(&err, 64 * 1024);
	/* The check of a start and of popa3d -t, with the same lines.  TLS
	 * files are re-read by every new connection anyway; checking them
	 * here (in a throwaway fork) makes a bad one loud at once. */
	if (options_parse(&n, argc, argv, &err) < 0 || (options_finish(&n), 0) ||
	    confcheck(&n, CONFCHECK_DEEP, &err) < 0) {
		const char *s = buf_cstr(&err);

		while (s && *s) {
			size_t len = strcspn(s, "\n");

			log_msg(LOG_ERR, "SIGHUP: configuration not reloaded: %.*s", (int)len, s);
			s += len + (s[len] == '\n');
		}
		options_free(&n);
		buf_free(&err);
		return;
	}
	buf_free(&err);
	/* The POP3S sockets stay open: they cannot lose their certificate. */
	if (tls_listening && !n.tls_cert) {
		log_msg(LOG_ERR, "SIGHUP: configuration not reloaded: the implicit-TLS listeners "
			"need --tls-cert and --tls-key (restart popa3d to drop them)");
		options_free(&n);
		return;
	}
	/* A new key holder for the files as they are now; the old one ends
	 * with the handshakes it is serving. */
	buf_init(&err, 1024);
	if (keyholder_start(&n, &err) < 0) {
		log_msg(LOG_ERR, "SIGHUP: configuration not reloaded: %s", buf_cstr(&err));
		options_free(&n);
		buf_free(&err);
		return;
	}
	buf_free(&err);
	same_listeners = n.nlisten == o->nlisten;
	for (int i = 0; same_listeners && i < n.nlisten; i++)
		same_listeners = strcmp(n.listen[i].text, o->listen[i].text) == 0;
	if (!same_listeners)
		log_msg(LOG_WARNING, "SIGHUP: listen addresses changed; restart popa3d to apply");
	memcpy(n.listen, o->listen, sizeof n.listen);
	n.nlisten = o->nlisten;
	/* the process keeps its mode and its log sink */
	n.daemon = o->daemon;
	n.foreground = o->foreground;
	n.log_stderr = o->log_stderr;
	options_free(o);
	*o = n;
	log_msg(LOG_INFO, "SIGHUP: configuration reloaded, max-sessions=%llu max-preauth=%llu "
		"max-per-source=%llu", (unsigned long long)o->max_sessions,
		(unsigned long long)o->max_preauth, (unsigned long long)o->max_per_source);
}

/*
 * Each unauthenticated connection costs the listener one descriptor
 * (its leader's channel): raise the soft limit towards the hard one so
 * that --max-preauth fits, and say so if it cannot.
 */
void listener_nofile(const struct options *o)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)(o->max_preauth + o->max_sessions + 64);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_msg(LOG_WARNING, "setrlimit NOFILE: %m");
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_msg(LOG_WARNING, "RLIMIT_NOFILE %llu is below what --max-preauth needs (%llu): "
			"connections beyond it are refused", (unsigned long long)rl.rlim_cur,
			(unsigned long long)need);
}

void listener_started(const struct listener *l)
{
	struct buf b;
	int tls = 0;

	buf_init(&b, 256);
	for (int i = 0; i < l->nfds; i++) {
		char lip[PEER_LOCAL_MAX];

		peer_local_text(l->fds[i], lip, sizeof lip);
		buf_printf(&b, "%s%s%s", i ? "," : "", lip, l->tls[i] ? "(tls)" : "");
		tls |= l->tls[i];
	}
	log_msg(LOG_INFO, "popa3d %s started listen=%s tls=%s proxy=%s seccomp=%s "
		"max-sessions=%llu max-preauth=%llu max-per-source=%llu", PACKAGE_VERSION,
		buf_cstr(&b), tls ? "implicit+stls" : l->o->tls_cert ? "stls" : "no",
		l->o->proxy_protocol ? "yes" : "no",
#ifdef HAVE_SECCOMP
		"yes",
#else
		"no",
#endif
		(unsigned long long)l->o->max_sessions, (unsigned long long)l->o->max_preauth,
		(unsigned long long)l->o->max_per_source);
	buf_free(&b);
}

/* The listening sockets: systemd's, or bound from --listen.  -1 (said on
 * stderr: not detached yet) if one cannot be had. */
int listener_open(struct listener *l, struct options *o)
{
	memset(l, 0, sizeof *l);
	l->o = o;
	l->spare_fd = -1;
	l->nfds = listener_inherited(l->fds, l->tls);
	for (int i = 0; i < l->nfds; i++)
		if (l->tls[i] && !o->tls_cert) {
			fprintf(stderr, "popa3d: LISTEN_FDNAMES: a pop3s socket needs --tls-cert and --tls-key\n");
			return -1;
		}
	if (l->nfds > 0)
		return 0;
	for (int i = 0; i < o->nlisten; i++) {
		l->tls[i] = o->listen[i].tls;
		l->fds[i] = listener_bind(&o->listen[i]);
		if (l->fds[i] < 0) {
			fprintf(stderr, "popa3d: cannot listen on %s: %s\n", o->listen[i].text,
				strerror(errno));
			return -1;
		}
	}
	l->nfds = o->nlisten;
	return 0;
}
