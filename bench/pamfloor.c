/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pamfloor: what one PAM login costs on this machine, with no POP3 server
 * around it: the floor under bench/run's W1 with the real PAM stack.
 *
 *   make bench      (in the build dir)
 *   bench/pamfloor N SERVICE USER PASSWORD
 *
 * Three figures, CPU time (user + system) per iteration:
 *   fork_ms    fork + _exit + waitpid of an empty child: what every fork of
 *              a server costs before it does anything;
 *   fresh_ms   fork, then pam_start .. pam_authenticate .. pam_acct_mgmt ..
 *              pam_end in the child (modules loaded from scratch, as in a
 *              freshly forked helper), then _exit: the child's and the
 *              parent's CPU together;
 *   loaded_ms  pam_start .. pam_end in this process after one warm-up
 *              login, the modules already mapped and relocated (glibc keeps
 *              them loaded only while a handle holds them, so one handle
 *              stays open for the whole loop);
 *   preloaded_ms  the fresh fork again, but forked from this process after
 *              the daemon's own auth_pam_preload (auth/pam.c: pam_start,
 *              the modules pinned, pam_end): what each of popa3d's auth
 *              helpers costs in standalone mode, where the listener does
 *              the same at start (unless --no-pam-preload).
 * Runs as root (pam_unix then reads /etc/shadow itself).  Every login must
 * succeed; one failure ends the program with exit 1, because a floor made
 * of failed logins would be a different measurement.
 * Not part of make check: a timing, not a test.
 */
#include "config.h"

#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"

static const char *password;

static int conv(int n, const struct pam_message **msg, struct pam_response **resp,
		void *data)
{
	struct pam_response *r;
	int i;

	(void)data;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		r[i].resp = strdup(password);
		if (!r[i].resp) {
			while (i-- > 0)
				free(r[i].resp);
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static int login(const char *service, const char *user)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *h = NULL;
	int rc;

	rc = pam_start(service, user, &pc, &h);
	if (rc != PAM_SUCCESS)
		return -1;
	rc = pam_set_item(h, PAM_RHOST, "127.0.0.1");
	if (rc == PAM_SUCCESS)
		rc = pam_set_item(h, PAM_TTY, "popa3d");
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(h, PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_DISALLOW_NULL_AUTHTOK);
	pam_end(h, rc);
	return rc == PAM_SUCCESS ? 0 : -1;
}

static double cpu_s(int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) < 0) {
		perror("getrusage");
		exit(1);
	}
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* N children, each doing the login if service is set; returns CPU ms per
 * child, the parent's share included */
static double forks(long n, const char *service, const char *user)
{
	double c0 = cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN);
	long i;

	for (i = 0; i < n; i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0) {
			perror("fork");
			exit(1);
		}
		if (pid == 0)
			_exit(service && login(service, user) < 0 ? 1 : 0);
		if (waitpid(pid, &st, 0) != pid) {
			perror("waitpid");
			exit(1);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "pamfloor: login in a fresh fork failed\n");
			exit(1);
		}
	}
	return (cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN) - c0) * 1e3 / (double)n;
}

int main(int argc, char **argv)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *hold = NULL;
	double fork_ms, fresh_ms, loaded_ms, c0;
	char *end;
	long n, i;

	if (argc != 5) {
		fprintf(stderr, "usage: pamfloor N SERVICE USER PASSWORD\n");
		return 2;
	}
	n = strtol(argv[1], &end, 10);
	if (*end || n < 1 || n > 1000000) {
		fprintf(stderr, "pamfloor: N must be 1..1000000\n");
		return 2;
	}
	password = argv[4];
	fork_ms = forks(n, NULL, NULL);
	fresh_ms = forks(n, argv[2], argv[3]);
	/* keeps libpam's modules mapped between the handles of the loop */
	if (pam_start(argv[2], argv[3], &pc, &hold) != PAM_SUCCESS || login(argv[2], argv[3]) < 0) {
		fprintf(stderr, "pamfloor: warm-up login failed\n");
		return 1;
	}
	c0 = cpu_s(RUSAGE_SELF);
	for (i = 0; i < n; i++)
		if (login(argv[2], argv[3]) < 0) {
			fprintf(stderr, "pamfloor: login failed\n");
			return 1;
		}
	loaded_ms = (cpu_s(RUSAGE_SELF) - c0) * 1e3 / (double)n;
	pam_end(hold, PAM_SUCCESS);
	auth_pam_preload(argv[2], NULL);
	printf("n %ld fork_ms %.3f fresh_ms %.3f loaded_ms %.3f preloaded_ms %.3f\n", n, fork_ms,
	       fresh_ms, loaded_ms, forks(n, argv[2], argv[3]));
	return 0;
}
