/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers shared by the authentication tests: scratch directories under
 * /tmp, small files, running system tools (useradd, chpasswd, userdel)
 * and capturing what the code under test logs to stderr.
 */
#ifndef POPA3D_TEST_AUTH_H
#define POPA3D_TEST_AUTH_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options.h"
#include "tap.h"

#define TA_PATH 512

static void ta_die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(99);
}

/* A fresh 0755 directory (PAM and chroot checks need it readable). */
__attribute__((unused))
static void ta_tmpdir(char *out, size_t size, const char *tag)
{
	if ((size_t)snprintf(out, size, "/tmp/popa3d-%s-XXXXXX", tag) >= size)
		ta_die("path too long");
	if (!mkdtemp(out) || chmod(out, 0755) < 0)
		ta_die("mkdtemp");
}

__attribute__((unused))
static void ta_path(char *out, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size)
		ta_die("path too long");
}

__attribute__((unused))
static void ta_write(const char *dir, const char *name, const char *text)
{
	char p[TA_PATH];
	FILE *f;

	ta_path(p, sizeof p, dir, name);
	f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		ta_die(p);
}

static int ta_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 ? -1 : 0;
}

__attribute__((unused))
static void ta_rmtree(const char *dir)
{
	if (nftw(dir, ta_rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		printf("# could not remove %s\n", dir);
}

/* Run argv with stdin fed from input (may be NULL); exit status or -1. */
__attribute__((unused))
static int ta_run(const char *const argv[], const char *input)
{
	int p[2], st;
	pid_t pid;

	if (pipe(p) < 0)
		ta_die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ta_die("fork");
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(p[0], 0);
		if (devnull >= 0)
			dup2(devnull, 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[0]);
	if (input && write(p[1], input, strlen(input)) < 0)
		printf("# write to %s: %s\n", argv[0], strerror(errno));
	close(p[1]);
	if (waitpid(pid, &st, 0) < 0)
		ta_die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* System tools take the passwd lock; other tests may hold it a moment. */
__attribute__((unused))
static int ta_run_retry(const char *const argv[], const char *input)
{
	int rc = -1;

	for (int i = 0; i < 20; i++) {
		rc = ta_run(argv, input);
		if (rc == 0)
			return 0;
		usleep(250000);
	}
	return rc;
}

/* A real local account with a password set through chpasswd (so with
 * the system's hash method).  0 on success. */
__attribute__((unused))
static int ta_user_add(const char *name, const char *password)
{
	const char *add[] = { "/usr/sbin/useradd", "-M", "-N", "-s", "/usr/sbin/nologin",
			      name, NULL };
	char line[256];

	if (ta_run_retry(add, NULL) != 0)
		return -1;
	snprintf(line, sizeof line, "%s:%s\n", name, password);
	return ta_run_retry((const char *[]){ "/usr/sbin/chpasswd", NULL }, line);
}

__attribute__((unused))
static void ta_user_del(const char *name)
{
	const char *del[] = { "/usr/sbin/userdel", name, NULL };

	if (ta_run_retry(del, NULL) != 0)
		printf("# userdel %s failed\n", name);
}

/* stderr into a file while code under test logs (log_open(1)). */
struct ta_capture {
	int saved;
	char path[TA_PATH];
};

__attribute__((unused))
static void ta_capture_start(struct ta_capture *c, const char *dir)
{
	int fd;

	ta_path(c->path, sizeof c->path, dir, "stderr.log");
	fflush(stderr);
	c->saved = dup(2);
	fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (c->saved < 0 || fd < 0 || dup2(fd, 2) < 0)
		ta_die("capture stderr");
	close(fd);
}

/* Stop capturing; 1 if the captured text contains needle. */
__attribute__((unused))
static int ta_capture_has(struct ta_capture *c, const char *needle)
{
	char text[16384];
	size_t n;
	FILE *f;

	fflush(stderr);
	if (dup2(c->saved, 2) < 0)
		ta_die("restore stderr");
	close(c->saved);
	f = fopen(c->path, "r");
	if (!f)
		ta_die(c->path);
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	return strstr(text, needle) != NULL;
}

/* The auth helper's deadline as the daemon sets it by default
 * (--auth-timeout, from the option table). */
static inline int ta_auth_timeout_ms(void)
{
	struct options o;

	options_defaults(&o);
	return (int)o.auth_timeout * 1000;
}

#endif
