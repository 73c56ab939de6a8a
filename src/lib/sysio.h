/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Checked system-call wrappers.  They retry on EINTR, loop over short
 * counts and report failure in one way: -1 with errno set.  A caller that
 * cannot continue after a failure uses the x*() variants, which call
 * fatal() instead of returning.
 */
#ifndef POPA3D_SYSIO_H
#define POPA3D_SYSIO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* One read(2), retried on EINTR: >0 bytes, 0 at EOF, -1 on error. */
ssize_t io_read(int fd, void *p, size_t n);
/* Read exactly n bytes: 0 on success; -1 on error, or on EOF with errno 0
 * (a short read before EOF counts as an error too). */
int io_read_full(int fd, void *p, size_t n);
/* Write all n bytes, looping over short writes: 0 or -1. */
int io_write_full(int fd, const void *p, size_t n);

/* Milliseconds on CLOCK_MONOTONIC. */
long long io_now_ms(void);
/* poll() one fd for events until deadline_ms (io_now_ms() time base;
 * -1 waits forever): 1 ready, 0 deadline passed, -1 error.  POLLHUP and
 * POLLERR count as ready so that the following read/write reports them. */
int io_wait(int fd, short events, long long deadline_ms);
/* read() once, waiting at most until deadline_ms: >0, 0 EOF, -1 error
 * (errno ETIMEDOUT when the deadline passed). */
ssize_t io_read_deadline(int fd, void *p, size_t n, long long deadline_ms);
/* write all, waiting for the peer at most timeout_ms for each bit of
 * progress (a slow reader is fine, a stalled one is dropped): 0 or -1
 * (errno ETIMEDOUT when a wait ran out).  Works on blocking and
 * non-blocking descriptors. */
int io_write_timeout(int fd, const void *p, size_t n, int timeout_ms);
/* The same for iovcnt pieces in order (iov is used up as it goes). */
int io_writev_timeout(int fd, struct iovec *iov, int iovcnt, int timeout_ms);

int io_set_nonblock(int fd, int on);
int io_set_cloexec(int fd, int on);
/* Close every descriptor >= lowfd except those listed in keep[] (at
 * most IO_KEEP_MAX; negative entries are ignored) and the syslog socket
 * (log_fd()). */
#define IO_KEEP_MAX 16
void io_close_from(int lowfd, const int *keep, size_t nkeep);
/*
 * Wait for our child pid to exit, until deadline_ms (io_now_ms() base;
 * -1 forever): 0 when reaped (*status set), 1 when the deadline passed
 * first (still running, not reaped), -1 on error.  Wakes as soon as the
 * child exits (a pidfd), not at the next tick of a polling loop.
 */
int io_wait_child(pid_t pid, int *status, long long deadline_ms);
/*
 * fork() with a pipe from the child to the parent, both ends
 * close-on-exec, for a child that reports one result: 0 in the child
 * with *fd the write end, the child's pid in the parent with *fd the
 * read end (each closes the other end); -1 with errno set, and nothing
 * left open, when the pipe or the fork failed.
 */
pid_t io_fork_pipe(int *fd);
/* Sleep ms milliseconds, resuming after signals. */
void io_sleep_ms(long long ms);
/*
 * Open a file only root may have put there, for reading (close-on-exec),
 * as OpenSSH checks its keys: symlinks are followed (certbot's
 * live/NAME/privkey.pem -> ../../archive/...), and then every component
 * of the resolved path, from / down to the file, must be owned by root
 * (or by our euid) and writable by neither group nor others; so must
 * the directories holding each symlink, and the symlink itself be
 * root's.  A root-owned sticky directory (/tmp) is allowed: nobody else
 * may rename or remove root's entries in it.  The file must be a
 * regular file.  Returns the descriptor, or -1 with errno set and one
 * line in why naming the file and the component that failed.
 */
int io_open_trusted(const char *path, char *why, size_t whysize);

/*
 * Memory for what only this process may know (the listener's tables
 * about other clients): size bytes, zero-filled, in anonymous pages of
 * their own marked MADV_WIPEONFORK, so that a forked child finds them
 * zero-filled too: nothing of them is copied, neither the bytes nor the
 * page-table entries.  NULL with errno set if there is no memory; a
 * kernel that refuses the mark (Linux < 4.14) is fatal, since every
 * child would then carry the tables.  Freed with io_unmap_wiped and
 * the same size.
 */
void *io_map_wipeonfork(size_t size);
void io_unmap_wiped(void *p, size_t size);

/* Fatal-on-failure forms, for privileged code that must not continue. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
pid_t xfork(void);

#endif
