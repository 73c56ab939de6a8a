/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: every process.
 * Checked system calls; see sysio.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sysio.h"

ssize_t io_read(int fd, void *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

int io_read_full(int fd, void *p, size_t n)
{
	unsigned char *q = p;

	while (n > 0) {
		ssize_t r = io_read(fd, q, n);

		if (r < 0)
			return -1;
		if (r == 0) {
			errno = 0;
			return -1;
		}
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

int io_write_full(int fd, const void *p, size_t n)
{
	const unsigned char *q = p;

	while (n > 0) {
		ssize_t r = write(fd, q, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (io_wait(fd, POLLOUT, -1) < 0)
					return -1;
				continue;
			}
			return -1;
		}
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

long long io_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		fatal("clock_gettime: %m");
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int io_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd pfd;

	for (;;) {
		int timeout = -1, r;

		if (deadline_ms >= 0) {
			long long left = deadline_ms - io_now_ms();

			if (left <= 0)
				return 0;
			timeout = left > 1000000000LL ? 1000000000 : (int)left;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r > 0) {
			if (pfd.revents & POLLNVAL) {
				errno = EBADF;
				return -1;
			}
			return 1;
		}
	}
}

ssize_t io_read_deadline(int fd, void *p, size_t n, long long deadline_ms)
{
	for (;;) {
		ssize_t r;
		int w = io_wait(fd, POLLIN, deadline_ms);

		if (w < 0)
			return -1;
		if (w == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = io_read(fd, p, n);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		return r;
	}
}

/* Wait for room to write: 0, or -1 (ETIMEDOUT when the wait ran out). */
static int io_wait_room(int fd, int timeout_ms)
{
	int w = io_wait(fd, POLLOUT, io_now_ms() + timeout_ms);

	if (w == 0)
		errno = ETIMEDOUT;
	return w > 0 ? 0 : -1;
}

int io_writev_timeout(int fd, struct iovec *iov, int iovcnt, int timeout_ms)
{
	int sock = 1;

	while (iovcnt > 0) {
		ssize_t r;
		size_t left;

		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		if (sock) {
			/*
			 * A socket is written without blocking and waited for
			 * only when full: no poll() per write, and a blocking
			 * write can never outlast the timeout.  One piece goes
			 * by send(): the pre-auth seccomp filter allows only
			 * sends that name no destination, which it can check
			 * for send() but not for sendmsg() (the address is
			 * behind a pointer).  That child writes one buffer at
			 * a time; only the session's bulk path gathers.
			 */
			if (iovcnt == 1) {
				r = send(fd, iov->iov_base, iov->iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
			} else {
				struct msghdr mh;

				memset(&mh, 0, sizeof mh);
				mh.msg_iov = iov;
				mh.msg_iovlen = (size_t)iovcnt;
				r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
			}
			if (r < 0 && errno == ENOTSOCK) {
				sock = 0;
				continue;
			}
		} else {
			if (io_wait_room(fd, timeout_ms) < 0)
				return -1;
			r = writev(fd, iov, iovcnt);
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    io_wait_room(fd, timeout_ms) == 0)
				continue;
			return -1;
		}
		for (left = (size_t)r; left > 0 && iovcnt > 0;) {
			size_t k = left < iov->iov_len ? left : iov->iov_len;

			iov->iov_base = (unsigned char *)iov->iov_base + k;
			iov->iov_len -= k;
			left -= k;
			if (iov->iov_len == 0) {
				iov++;
				iovcnt--;
			}
		}
	}
	return 0;
}

int io_write_timeout(int fd, const void *p, size_t n, int timeout_ms)
{
	struct iovec iov;

	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = n;
	return io_writev_timeout(fd, &iov, 1, timeout_ms);
}

/* Set or clear bit in the flags fcntl reads with get and writes with set. */
static int io_set_fd_bit(int fd, int get, int set, int bit, int on)
{
	int fl = fcntl(fd, get);

	if (fl < 0)
		return -1;
	fl = on ? (fl | bit) : (fl & ~bit);
	return fcntl(fd, set, fl);
}

int io_set_nonblock(int fd, int on)
{
	return io_set_fd_bit(fd, F_GETFL, F_SETFL, O_NONBLOCK, on);
}

int io_set_cloexec(int fd, int on)
{
	return io_set_fd_bit(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on);
}

static int io_kept(int fd, const int *keep, size_t nkeep)
{
	size_t i;

	for (i = 0; i < nkeep; i++)
		if (keep[i] == fd)
			return 1;
	return 0;
}

#ifdef SYS_close_range
/*
 * close_range(2) over the gaps between the kept descriptors: no walk of
 * /proc/self/fd, whose dentries every exiting process then had to tear
 * down (doc/performance.md).  -1 if the kernel lacks it.
 */
static int io_close_gaps(int lowfd, const int *keep, size_t nkeep)
{
	unsigned int from = (unsigned int)lowfd;

	for (;;) {
		/* the lowest kept descriptor at or above from */
		long next = -1;

		for (size_t i = 0; i < nkeep; i++)
			if (keep[i] >= 0 && (unsigned int)keep[i] >= from &&
			    (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0)
			return syscall(SYS_close_range, from, ~0U, 0) == 0 ? 0 : -1;
		if ((unsigned int)next > from &&
		    syscall(SYS_close_range, from, (unsigned int)next - 1, 0) != 0)
			return -1;
		from = (unsigned int)next + 1;
	}
}
#endif

void io_close_from(int lowfd, const int *keep_in, size_t nkeep_in)
{
	int keep[IO_KEEP_MAX + 1];
	size_t nkeep = nkeep_in;
	DIR *d;
	struct dirent *de;
	int dfd;
	long maxfd;

	if (nkeep_in > IO_KEEP_MAX)
		fatal("io_close_from: %zu descriptors to keep", nkeep_in);
	if (nkeep_in)
		memcpy(keep, keep_in, nkeep_in * sizeof *keep);
	/* The syslog socket survives every sweep (see log.h). */
	keep[nkeep++] = log_fd();
	if (lowfd < 0)
		lowfd = 0;
#ifdef SYS_close_range
	if (io_close_gaps(lowfd, keep, nkeep) == 0)
		return;
#endif
	/* /proc/self/fd lists what is really open; fall back to the limit. */
	d = opendir("/proc/self/fd");
	if (d) {
		int fds[1024];
		size_t n = 0, i;

		dfd = dirfd(d);
		while ((de = readdir(d)) != NULL && n < sizeof fds / sizeof fds[0]) {
			char *end;
			long v = strtol(de->d_name, &end, 10);

			if (*end || end == de->d_name || v < lowfd || v == dfd)
				continue;
			if (!io_kept((int)v, keep, nkeep))
				fds[n++] = (int)v;
		}
		closedir(d);
		for (i = 0; i < n; i++)
			close(fds[i]);
		if (n < sizeof fds / sizeof fds[0])
			return;
	}
	maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	for (int fd = lowfd; fd < maxfd; fd++)
		if (!io_kept(fd, keep, nkeep))
			close(fd);
}

int io_wait_child(pid_t pid, int *status, long long deadline_ms)
{
	long long nap = 1;
	int pidfd;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
	pidfd = -1;
#endif
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid) {
			if (pidfd >= 0)
				close(pidfd);
			return 0;
		}
		if (r < 0 && errno != EINTR) {
			if (pidfd >= 0)
				close(pidfd);
			return -1;
		}
		if (r < 0)
			continue;
		if (deadline_ms >= 0 && io_now_ms() >= deadline_ms) {
			if (pidfd >= 0)
				close(pidfd);
			return 1;
		}
		if (pidfd >= 0) {
			/* readable once the child has exited */
			if (io_wait(pidfd, POLLIN, deadline_ms) < 0) {
				close(pidfd);
				pidfd = -1;
			}
		} else {
			/* kernels before 5.3: poll with a short backoff */
			io_sleep_ms(nap);
			if (nap < 10)
				nap *= 2;
		}
	}
}

void io_sleep_ms(long long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static size_t io_page_round(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return size ? (size + page - 1) / page * page : page;
}

void *io_map_wipeonfork(size_t size)
{
	size_t len = io_page_round(size);
	void *p;

	if (len < size) {
		errno = ENOMEM;
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_WIPEONFORK) < 0)
		fatal("madvise(MADV_WIPEONFORK): %m (Linux 4.14 or later is needed)");
	return p;
}

void io_unmap_wiped(void *p, size_t size)
{
	if (p && munmap(p, io_page_round(size)) < 0)
		fatal("munmap: %m");
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

pid_t io_fork_pipe(int *fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		int saved = errno;

		close(p[0]);
		close(p[1]);
		errno = saved;
		return -1;
	}
	close(pid == 0 ? p[0] : p[1]);
	*fd = pid == 0 ? p[1] : p[0];
	return pid;
}

pid_t xfork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		fatal("fork: %m");
	return pid;
}

/* One component of a trusted path (see io_open_trusted). */
static int io_trusted_node(const char *path, const char *node, const struct stat *st,
			   char *why, size_t whysize)
{
	int sticky_dir = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0;

	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, whysize, "%s: %s is owned by uid %lu, not root", path, node,
			 (unsigned long)st->st_uid);
		return -1;
	}
	if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_IWGRP | S_IWOTH)) && !sticky_dir) {
		snprintf(why, whysize, "%s: %s is writable by %s", path, node,
			 st->st_mode & S_IWOTH ? "others" : "its group");
		return -1;
	}
	return 0;
}

/* Every prefix of abs (absolute, no symlinks: realpath's output), from
 * "/" down to abs itself, passes io_trusted_node.  *last gets abs's. */
static int io_trusted_chain(const char *path, const char *abs, struct stat *last,
			    char *why, size_t whysize)
{
	char prefix[PATH_MAX];
	size_t n = strlen(abs);

	if (n == 0 || n >= sizeof prefix || abs[0] != '/') {
		snprintf(why, whysize, "%s: cannot resolve the path", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	/* "/" first, then each of "/a", "/a/b", ... down to abs */
	for (size_t i = 0; i <= n; i++) {
		size_t len = i == 0 ? 1 : i;

		if (i > 0 && i < n && abs[i] != '/')
			continue;
		if (i == 1 && n == 1)
			continue;	/* abs is "/": done at i == 0 */
		memcpy(prefix, abs, len);
		prefix[len] = '\0';
		if (lstat(prefix, last) < 0) {
			snprintf(why, whysize, "%s: %s: %s", path, prefix, strerror(errno));
			return -1;
		}
		if (io_trusted_node(path, prefix, last, why, whysize) < 0) {
			errno = EPERM;
			return -1;
		}
	}
	return 0;
}

int io_open_trusted(const char *path, char *why, size_t whysize)
{
	char real[PATH_MAX], dir[PATH_MAX], dreal[PATH_MAX];
	struct stat st, link, opened;
	int fd;

	if (!realpath(path, real)) {
		snprintf(why, whysize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (io_trusted_chain(path, real, &st, why, whysize) < 0)
		return -1;
	if (lstat(path, &link) < 0) {
		snprintf(why, whysize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(link.st_mode)) {
		/* the link and where it lives count too: whoever may change
		 * it chooses the file */
		const char *slash = strrchr(path, '/');
		struct stat d;

		if (io_trusted_node(path, path, &link, why, whysize) < 0) {
			errno = EPERM;
			return -1;
		}
		if (!slash)
			snprintf(dir, sizeof dir, ".");
		else if (slash == path)
			snprintf(dir, sizeof dir, "/");
		else
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
		if (!realpath(dir, dreal)) {
			snprintf(why, whysize, "%s: %s: %s", path, dir, strerror(errno));
			return -1;
		}
		if (io_trusted_chain(path, dreal, &d, why, whysize) < 0)
			return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whysize, "%s: not a regular file", path);
		errno = EINVAL;
		return -1;
	}
	fd = open(real, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whysize, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* The file checked is the file opened. */
	if (fstat(fd, &opened) < 0 || opened.st_dev != st.st_dev || opened.st_ino != st.st_ino) {
		close(fd);
		snprintf(why, whysize, "%s: changed while it was opened", path);
		errno = EAGAIN;
		return -1;
	}
	return fd;
}
