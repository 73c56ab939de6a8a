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

/* Open syslog (LOG_NDELAY, so it works after chroot) and choose stderr. */
void log_open(int also_stderr);
/* Reopen the syslog connection (SIGHUP). */
void log_reopen(void);
int log_to_stderr(void);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Log at LOG_CRIT and _exit(1): for privileged states that must not go on. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Size of a log_clean() result able to hold n input bytes in full. */
#define LOG_CLEAN_SIZE(n) ((n) * 4 + 1)
/*
 * Copy in[0..n) to out as printable ASCII: bytes 0x21..0x7E except '%',
 * '"' and '\\' are kept, everything else becomes \xHH.  Truncated (with
 * "...") to fit outsize; out is always NUL-terminated.  Returns out.
 */
char *log_clean(char *out, size_t outsize, const void *in, size_t n);

#endif
