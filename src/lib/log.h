/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging: syslog with facility LOG_MAIL and ident "popa3d", optionally
 * copied to stderr (--log-stderr).  Two kinds of failure are visible in
 * the code: fatal() for states that must not continue, and ordinary
 * returns plus log_msg() for what a client or a mailbox can cause.
 *
 * Format strings are always literals.  Text that came from outside (user
 * names, addresses, header bytes) goes through log_clean() first, so that
 * CR, LF, '%' and other bytes cannot forge or split log lines.
 */
#ifndef POPA3D_LOG_H
#define POPA3D_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

/*
 * Our own syslog client: one datagram socket to /dev/log, connected at
 * log_open (so it works after chroot) and inherited by every child.
 * io_close_from() keeps it (log_fd), so forked processes neither
 * reconnect nor could a recycled descriptor number ever receive a log
 * line.  When /dev/log is missing (a container logging to stderr) a
 * process tries again at most once a second, not at every line; the
 * listener's log_refresh before each fork makes its children inherit
 * the last attempt.  A send refused because syslogd restarted
 * reconnects once.  Lines go out with send() on the connected socket,
 * never to an address: the pre-auth seccomp filter refuses a send that
 * names one.  glibc's syslog is still opened (without
 * connecting) with the same ident for what PAM modules log.
 */
void log_open(int also_stderr);
/* Close glibc's syslog socket (it reconnects when next used), e.g.
 * before a sweep of descriptors it would not know about. */
void log_libc_reset(void);
/* Reconnect (SIGHUP). */
void log_reopen(void);
/* Connect if not connected and the last attempt is a second old. */
void log_refresh(void);
/* The syslog socket, or -1. */
int log_fd(void);
/* Tests: the socket path instead of /dev/log (takes effect at the next
 * connect; truncated to fit sun_path). */
void log_set_socket_path(const char *path);
int log_to_stderr(void);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Log at LOG_CRIT and _exit(1): for privileged states that must not go on. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Size of a log_clean() result able to hold n input bytes in full. */
#define LOG_CLEAN_SIZE(n) ((n) * 4 + 1)
/*
 * Copy in[0..n) to out as printable ASCII: bytes 0x21..0x7E except '%',
 * '"' and '\\' are kept, everything else becomes \xHH.  So every byte
 * of a non-ASCII code point is escaped too: no bidi override (U+202E)
 * can reorder what an administrator reads, no zero-width character
 * (U+200B) can make two names look alike, no space or quote can forge a
 * key=value field.  Truncated (with "...") to fit outsize; out is always
 * NUL-terminated.  Returns out.  The one sanitiser for every log field
 * that came from a client.
 */
char *log_clean(char *out, size_t outsize, const void *in, size_t n);

#endif
