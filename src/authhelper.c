/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the leader, the auth helper (root).
 * The throwaway auth helper and the leader's side of it; see authhelper.h.
 *
 * Both halves run as root.  The helper never reads from the network (its
 * only input is the leader's already-validated request, inherited across
 * fork) and holds no descriptor but the result pipe, /dev/null, the
 * syslog socket and (only under --log-stderr) stderr, so a PAM module
 * cannot reach the client socket or a listener.  The leader's
 * half never believes the helper more than a well-formed frame and a
 * clean exit status together; everything else is a temporary failure,
 * never a success.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authhelper.h"
#include "log.h"
#include "sysio.h"

_Static_assert((int)AUTH_RESULT_OK == (int)FRAME_AUTH_OK &&
	       (int)AUTH_RESULT_FAIL == (int)FRAME_AUTH_FAIL &&
	       (int)AUTH_RESULT_EXPIRED == (int)FRAME_AUTH_EXPIRED &&
	       (int)AUTH_RESULT_TEMPFAIL == (int)FRAME_AUTH_TEMPFAIL,
	       "auth results travel as frame_auth codes");

/* Stdin/stdout may be the client socket (inetd mode); stderr too unless
 * the administrator asked for --log-stderr.  Our syslog socket survives
 * the sweep (io_close_from keeps it); glibc's, which PAM modules use,
 * is closed first so that it cannot land on a recycled descriptor. */
static void authhelper_child_fds(int *wfd)
{
	int devnull;

	if (*wfd <= 2) {
		int fd = fcntl(*wfd, F_DUPFD_CLOEXEC, 3);

		if (fd < 0)
			fatal("auth helper: fcntl: %m");
		*wfd = fd;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		fatal("auth helper: /dev/null: %m");
	if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
	    (!log_to_stderr() && dup2(devnull, 2) < 0))
		fatal("auth helper: dup2: %m");
	log_libc_reset();
	io_close_from(3, wfd, 1);
}

/* The leader's handlers and mask mean nothing here; PAM modules that run
 * programs (pam_exec) need SIGCHLD at its default to wait for them. */
static void authhelper_child_signals(void)
{
	static const int sigs[] = { SIGCHLD, SIGPIPE, SIGHUP, SIGINT, SIGTERM,
				    SIGALRM, SIGUSR1, SIGUSR2 };
	sigset_t none;

	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (signal(sigs[i], SIG_DFL) == SIG_ERR)
			fatal("auth helper: signal: %m");
	if (sigemptyset(&none) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		fatal("auth helper: sigprocmask: %m");
}

__attribute__((noreturn))
static void authhelper_child(const struct authhelper_req *rq, int wfd)
{
	char secret[FRAME_SECRET_MAX + 1];
	char final_user[FRAME_USER_MAX + 1];
	struct auth_request ar;
	const char *reason = "backend failure";
	enum auth_result r;
	struct frame f;
	size_t n = strlen(rq->secret);

	authhelper_child_fds(&wfd);
	authhelper_child_signals();
	/* The password is in this process: no core file of it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("auth helper: prctl: %m");
	/* A private copy we can wipe: rq->secret belongs to the caller. */
	memcpy(secret, rq->secret, n + 1);
	memset(&ar, 0, sizeof ar);
	ar.user = rq->user;
	ar.secret = secret;
	ar.rhost = rq->rhost;
	ar.service = rq->service ? rq->service : "popa3d";
	ar.pam_confdir = rq->pam_confdir;
	ar.shadow_file = rq->shadow_file;
	final_user[0] = '\0';
	if (rq->backend == AUTHHELPER_PAM)
		r = auth_pam_check(&ar, final_user, sizeof final_user, &reason);
	else
		r = auth_shadow_check(&ar, final_user, sizeof final_user, &reason);
	explicit_bzero(secret, sizeof secret);
	if (r != AUTH_RESULT_OK)
		final_user[0] = '\0';
	if (authproto_encode_result(&f, (unsigned)r, final_user) < 0) {
		/* e.g. a PAM module renamed the user to something we would
		 * not dare put into a path */
		char clean[LOG_CLEAN_SIZE(64)];

		log_msg(LOG_ERR, "auth helper: backend returned an unacceptable user name \"%s\"",
			log_clean(clean, sizeof clean, final_user, strlen(final_user)));
		if (authproto_encode_result(&f, FRAME_AUTH_TEMPFAIL, NULL) < 0)
			_exit(1);
	}
	if (frame_send(wfd, &f) < 0)
		_exit(1);
	_exit(0);
}

/* Wait for the helper until the deadline, then kill it.  Returns 0 with
 * *status set, or -1 if the status is lost (somebody else reaped it). */
static int authhelper_reap(pid_t pid, long long deadline_ms, int *status, int *killed)
{
	int r = io_wait_child(pid, status, deadline_ms);

	*killed = 0;
	if (r != 1)
		return r;
	*killed = 1;
	if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
		log_msg(LOG_ERR, "auth helper: kill: %m");
	return io_wait_child(pid, status, -1);
}

/* After the helper is gone every byte it wrote is in the pipe: one more
 * is a second answer, and a second answer is no answer. */
static int authhelper_trailing(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned char c;

	if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
		return 0;
	return io_read(fd, &c, 1) > 0;
}

static const char *authhelper_reason(enum auth_result r)
{
	switch (r) {
	case AUTH_RESULT_OK:
		return "authenticated";
	case AUTH_RESULT_FAIL:
		return "authentication failure";
	case AUTH_RESULT_EXPIRED:
		return "account expired or refused";
	default:
		return "authentication backend failure";
	}
}

static enum auth_result authhelper_tempfail(struct authhelper_res *res, const char *why)
{
	res->result = AUTH_RESULT_TEMPFAIL;
	res->user[0] = '\0';
	res->reason = why;
	return res->result;
}

enum auth_result authhelper_run(const struct authhelper_req *rq,
				struct authhelper_res *res)
{
	struct frame f;
	const char *why = NULL;
	long long deadline;
	unsigned code = FRAME_AUTH_TEMPFAIL;
	int fd, status = 0, killed = 0, got, parsed = -1, reaped;
	pid_t pid;

	res->user[0] = '\0';
	if (!rq->user || !authproto_user_valid(rq->user, strlen(rq->user)))
		return authhelper_tempfail(res, "invalid user name in request");
	if (!rq->secret || strlen(rq->secret) > FRAME_SECRET_MAX)
		return authhelper_tempfail(res, "invalid secret in request");
	if (rq->backend != AUTHHELPER_PAM && rq->backend != AUTHHELPER_SHADOW)
		return authhelper_tempfail(res, "unknown backend");
	if (rq->backend == AUTHHELPER_PAM && !auth_pam_available())
		return authhelper_tempfail(res, "built without PAM");

	pid = io_fork_pipe(&fd);
	if (pid < 0) {
		log_msg(LOG_ERR, "auth helper: fork: %m");
		return authhelper_tempfail(res, "cannot fork the auth helper");
	}
	if (pid == 0)
		authhelper_child(rq, fd);

	deadline = io_now_ms() + rq->timeout_ms;
	got = frame_recv(fd, &f, deadline, &why);
	if (got == 0)
		parsed = authproto_parse_result(&f, &code, res->user, sizeof res->user, &why);
	frame_wipe(&f);
	/* Whatever came, the helper has until the same deadline to exit
	 * (at once, if the frame itself timed out). */
	reaped = authhelper_reap(pid, deadline, &status, &killed);
	if (got == 0 && parsed == 0 && reaped == 0 && !killed && authhelper_trailing(fd)) {
		why = "auth helper sent more than one frame";
		parsed = -1;
	}
	close(fd);

	if (reaped < 0)
		why = "auth helper status lost";
	else if (killed && got == 0)
		why = "auth helper did not exit";
	else if (killed)
		why = "auth helper timed out";
	else if (WIFSIGNALED(status))
		why = "auth helper killed by a signal";
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		why = "auth helper failed";
	else if (got != 0 || parsed != 0)
		; /* why says it */
	else {
		res->result = (enum auth_result)code;
		res->reason = authhelper_reason(res->result);
		return res->result;
	}
	if (!why)
		why = "auth helper failed";
	log_msg(LOG_ERR, "auth helper: %s", why);
	return authhelper_tempfail(res, why);
}
