/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: checked I/O (src/lib/sysio.c) over real pipes and sockets. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysio.h"
#include "tap.h"

static void on_alarm(int sig)
{
	(void)sig;
}

/* A child finds io_map_wipeonfork's memory zero-filled; the parent keeps
 * its bytes, across a mapping bigger than a page. */
static void test_wipeonfork(void)
{
	size_t n = 3 * 4096 + 100;
	unsigned char *m = io_map_wipeonfork(n);
	int status = -1;
	pid_t pid;

	ok(m != NULL && m[0] == 0 && m[n - 1] == 0, "io_map_wipeonfork: zero-filled");
	if (!m)
		return;
	memset(m, 'x', n);
	pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < n; i++)
			if (m[i] != 0)
				_exit(1);
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "a forked child reads every byte as zero");
	ok(m[0] == 'x' && m[n - 1] == 'x', "the parent keeps its bytes");
	io_unmap_wiped(m, n);
}

int main(void)
{
	int p[2], sv[2];
	char b[64];
	static unsigned char big[1 << 20];
	pid_t pid;
	struct sigaction sa;

	signal(SIGPIPE, SIG_IGN);
	ok(pipe(p) == 0, "pipe");
	ok(io_write_full(p[1], "abcdef", 6) == 0, "write_full");
	ok(io_read_full(p[0], b, 6) == 0 && memcmp(b, "abcdef", 6) == 0, "read_full");
	ok(io_write_full(p[1], "ab", 2) == 0, "write 2");
	close(p[1]);
	errno = 123;
	ok(io_read_full(p[0], b, 4) == -1 && errno == 0, "read_full short then EOF: -1 with errno 0");
	ok(io_read(p[0], b, 4) == 0, "read at EOF gives 0");
	close(p[0]);

	/* deadline on a silent pipe */
	ok(pipe(p) == 0, "pipe 2");
	{
		long long t0 = io_now_ms();
		ssize_t r = io_read_deadline(p[0], b, sizeof b, t0 + 50);

		ok(r == -1 && errno == ETIMEDOUT, "read_deadline times out");
		ok(io_now_ms() >= t0 + 50, "and not before the deadline");
		ok(io_wait(p[0], POLLIN, t0) == 0, "wait with a past deadline returns 0");
	}
	/* EINTR: a signal arriving during a blocking read is retried */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;	/* no SA_RESTART: read() really sees EINTR */
	sigaction(SIGALRM, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		usleep(200000);
		if (write(p[1], "z", 1) != 1)
			_exit(1);
		_exit(0);
	}
	ualarm(50000, 0);
	ok(io_read(p[0], b, 1) == 1 && b[0] == 'z', "read survives EINTR");
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);

	/* big transfer with short counts through a socketpair */
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i ^ (i >> 8));
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(io_write_full(sv[1], big, sizeof big) == 0 ? 0 : 1);
	}
	close(sv[1]);
	{
		static unsigned char got[sizeof big];
		int st;

		ok(io_read_full(sv[0], got, sizeof got) == 0, "read 1 MiB in pieces");
		ok(memcmp(got, big, sizeof big) == 0, "1 MiB arrives intact");
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer wrote everything");
	}
	close(sv[0]);

	/* write_timeout gives up on a peer that never reads */
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair 2");
	ok(io_set_nonblock(sv[0], 1) == 0, "nonblock");
	{
		long long t0 = io_now_ms();
		int r = io_write_timeout(sv[0], big, sizeof big, 100);

		ok(r == -1 && errno == ETIMEDOUT, "stalled reader: write_timeout fails with ETIMEDOUT");
		ok(io_now_ms() - t0 >= 100, "after the timeout");
	}
	close(sv[1]);
	ok(io_write_timeout(sv[0], "x", 1, 100) == -1 && errno == EPIPE, "write to a closed peer: EPIPE");
	close(sv[0]);

	/* A blocking socket too: a write never outlasts the timeout (a
	 * blocking write of a big piece after poll() said "room" used to). */
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair 3");
	{
		long long t0 = io_now_ms();
		int r = io_write_timeout(sv[0], big, sizeof big, 100);

		ok(r == -1 && errno == ETIMEDOUT, "blocking socket, stalled reader: ETIMEDOUT");
		ok(io_now_ms() - t0 < 5000, "and soon");
	}
	close(sv[0]);
	close(sv[1]);

	/* writev: pieces arrive whole and in order, on a socket and a pipe */
	for (int kind = 0; kind < 2; kind++) {
		int fds[2], st;
		struct iovec iov[3];
		static unsigned char got[sizeof big + 7];

		ok((kind == 0 ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds)) == 0,
		   "writev: %s", kind == 0 ? "socketpair" : "pipe");
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			iov[0].iov_base = (void *)"abc";
			iov[0].iov_len = 3;
			iov[1].iov_base = big;
			iov[1].iov_len = sizeof big;
			iov[2].iov_base = (void *)"wxyz";
			iov[2].iov_len = 4;
			_exit(io_writev_timeout(fds[1], iov, 3, 5000) == 0 ? 0 : 1);
		}
		close(fds[1]);
		ok(io_read_full(fds[0], got, sizeof got) == 0, "writev: read it all");
		ok(memcmp(got, "abc", 3) == 0 && memcmp(got + 3, big, sizeof big) == 0 &&
		   memcmp(got + 3 + sizeof big, "wxyz", 4) == 0, "writev: intact, in order");
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writev: writer done");
		close(fds[0]);
	}

	/* close_from keeps what it is told to keep */
	{
		int a = open("/dev/null", O_RDONLY), c = open("/dev/null", O_RDONLY);
		int keep[] = { c };

		io_close_from(3, keep, 1);
		ok(fcntl(a, F_GETFD) == -1 && errno == EBADF, "close_from closed an unlisted fd");
		ok(fcntl(c, F_GETFD) >= 0, "close_from kept a listed fd");
		ok(fcntl(1, F_GETFD) >= 0, "close_from left fds below lowfd");
		close(c);
	}
	/* several kept, out of order, repeated, -1 among them: the gaps go */
	{
		int nul = open("/dev/null", O_RDONLY), all = 1;
		int keep[] = { 40, -1, 12, 40, 13 };
		static const int want_open[] = { 12, 13, 40 }, want_closed[] = { 10, 11, 14, 39, 41, 300 };

		for (int fd = 10; fd <= 41; fd++)
			if (dup2(nul, fd) < 0)
				all = 0;
		if (dup2(nul, 300) < 0)
			all = 0;
		close(nul);
		ok(all, "close_from: descriptors 10..41 and 300 opened");
		io_close_from(10, keep, sizeof keep / sizeof keep[0]);
		for (size_t i = 0; i < sizeof want_open / sizeof want_open[0]; i++)
			if (fcntl(want_open[i], F_GETFD) < 0)
				all = 0;
		ok(all, "close_from: 12, 13 and 40 kept");
		all = 1;
		for (size_t i = 0; i < sizeof want_closed / sizeof want_closed[0]; i++)
			if (fcntl(want_closed[i], F_GETFD) != -1 || errno != EBADF)
				all = 0;
		ok(all, "close_from: 10, 11, 14, 39, 41 and 300 closed");
		close(12);
		close(13);
		close(40);
	}
	/* io_wait_child: reaped with its status, or the deadline first */
	{
		int st = 0;
		pid_t kid = fork();

		if (kid == 0) {
			usleep(50000);
			_exit(7);
		}
		ok(io_wait_child(kid, &st, io_now_ms() + 10000) == 0 &&
		   WIFEXITED(st) && WEXITSTATUS(st) == 7, "wait_child reaps with the status");
		kid = fork();
		if (kid == 0) {
			pause();
			_exit(0);
		}
		ok(io_wait_child(kid, &st, io_now_ms() + 50) == 1, "wait_child: deadline before exit");
		ok(kill(kid, 0) == 0, "and the child is left running, unreaped");
		kill(kid, SIGKILL);
		ok(io_wait_child(kid, &st, -1) == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		   "wait_child forever reaps the killed child");
		ok(io_wait_child(kid, &st, -1) == -1 && errno == ECHILD, "no such child: -1 ECHILD");
	}
	/* io_fork_pipe: the child's one report reaches the parent, and the
	 * parent holds no write end (so its read sees EOF after the child) */
	{
		int fd = -1, st = 0;
		pid_t kid = io_fork_pipe(&fd);
		ssize_t n;

		if (kid == 0)
			_exit(io_write_full(fd, "ready", 5) == 0 ? 0 : 1);
		ok(kid > 0 && fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
		   "fork_pipe: a close-on-exec read end");
		n = io_read_deadline(fd, b, sizeof b, io_now_ms() + 10000);
		ok(n == 5 && memcmp(b, "ready", 5) == 0, "fork_pipe: the child's report arrives");
		ok(io_read_deadline(fd, b, sizeof b, io_now_ms() + 10000) == 0,
		   "fork_pipe: then EOF (no write end left in the parent)");
		close(fd);
		ok(io_wait_child(kid, &st, -1) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "fork_pipe: the child wrote to its end");
	}
	ok(io_set_cloexec(1, 1) == 0 && (fcntl(1, F_GETFD) & FD_CLOEXEC), "set cloexec");
	ok(io_set_cloexec(1, 0) == 0 && !(fcntl(1, F_GETFD) & FD_CLOEXEC), "clear cloexec");
	/* io_open_trusted: what only root could have set up */
	if (geteuid() == 0) {
		char dir[] = "/tmp/popa3d-test-trusted.XXXXXX", file[64], link[64], why[512];
		int fd;

		ok(mkdtemp(dir) != NULL && chmod(dir, 0755) == 0, "a root-owned directory in /tmp");
		snprintf(file, sizeof file, "%s/f", dir);
		snprintf(link, sizeof link, "%s/l", dir);
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
		ok(fd >= 0 && close(fd) == 0 && symlink("f", link) == 0, "a file and a link to it");
		fd = io_open_trusted(link, why, sizeof why);
		ok(fd >= 0, "through a link, in root's directory in sticky /tmp: opened (%s)",
		   fd < 0 ? why : "");
		if (fd >= 0)
			close(fd);
		ok(chmod(dir, 0775) == 0 && io_open_trusted(file, why, sizeof why) < 0 &&
		   errno == EPERM && strstr(why, "is writable by its group") && strstr(why, dir),
		   "a group-writable directory: refused, named (%s)", why);
		ok(chmod(dir, 0755) == 0 && chown(file, 4242, 0) == 0 &&
		   io_open_trusted(link, why, sizeof why) < 0 && strstr(why, "owned by uid 4242"),
		   "a file of another uid: refused (%s)", why);
		ok(io_open_trusted("/", why, sizeof why) < 0 && strstr(why, "not a regular file"),
		   "a directory: refused (%s)", why);
		ok(io_open_trusted("/nonexistent/x", why, sizeof why) < 0 && errno == ENOENT,
		   "a missing file: ENOENT (%s)", why);
		unlink(link);
		unlink(file);
		rmdir(dir);
	} else {
		ok(1, "# SKIP io_open_trusted's ownership checks need root");
	}
	test_wipeonfork();
	return tap_done();
}
