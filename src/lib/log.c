/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: every process.
 * Logging to syslog (LOG_MAIL, "popa3d") and optionally stderr; see log.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* After a failed connect, no new attempt for this long (per process;
 * the listener's attempts, made before it forks, are inherited). */
#define LOG_RETRY_MS 1000

static int log_stderr;
static int log_sock = -1;
static long long log_retry_at;
static char log_path[sizeof(((struct sockaddr_un *)0)->sun_path)] = "/dev/log";

/* Not io_now_ms(): that one calls fatal() on failure, which logs. */
static long long log_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_connect(void)
{
	struct sockaddr_un sa;
	int fd;

	log_retry_at = log_now_ms() + LOG_RETRY_MS;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, log_path, sizeof log_path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return;
	}
	log_sock = fd;
}

static void log_disconnect(void)
{
	if (log_sock >= 0)
		close(log_sock);
	log_sock = -1;
}

void log_open(int also_stderr)
{
	log_stderr = also_stderr;
	/* glibc's syslog stays set up for what PAM modules log themselves
	 * (same ident and pid); it connects when they first do. */
	openlog("popa3d", LOG_PID, LOG_MAIL);
	log_disconnect();
	log_connect();
}

void log_libc_reset(void)
{
	closelog();
	openlog("popa3d", LOG_PID, LOG_MAIL);
}

void log_reopen(void)
{
	closelog();
	log_disconnect();
	log_connect();
}

void log_refresh(void)
{
	if (log_sock < 0 && log_now_ms() >= log_retry_at)
		log_connect();
}

int log_fd(void)
{
	return log_sock;
}

void log_set_socket_path(const char *path)
{
	size_t n = strlen(path);

	if (n >= sizeof log_path)
		n = sizeof log_path - 1;
	memset(log_path, 0, sizeof log_path);
	memcpy(log_path, path, n);
	log_disconnect();
	log_retry_at = 0;
}

/* One datagram in the traditional format, as glibc's syslog() sends it:
 * "<pri>Mmm dd hh:mm:ss popa3d[pid]: text". */
static void log_syslog(int prio, const char *line)
{
	char dgram[1200], stamp[32];
	struct tm tm;
	time_t now;
	int n;

	if (log_sock < 0) {
		if (log_now_ms() < log_retry_at)
			return;
		log_connect();
		if (log_sock < 0)
			return;
	}
	now = time(NULL);
	if (!localtime_r(&now, &tm) || !strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm))
		stamp[0] = '\0';
	n = snprintf(dgram, sizeof dgram, "<%d>%s popa3d[%ld]: %s", LOG_MAIL | LOG_PRI(prio),
		     stamp, (long)getpid(), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof dgram)
		n = (int)sizeof dgram - 1;
	for (int tries = 0; tries < 2; tries++) {
		ssize_t r = send(log_sock, dgram, (size_t)n, MSG_NOSIGNAL);

		if (r >= 0 || errno == EINTR || errno == EAGAIN || errno == ENOBUFS)
			return;
		/* Not ours any more: forget it, never close another's. */
		if (errno == EBADF || errno == ENOTSOCK)
			log_sock = -1;
		else
			log_disconnect();	/* the syslog daemon restarted */
		log_connect();
		if (log_sock < 0)
			return;
	}
}

int log_to_stderr(void)
{
	return log_stderr;
}

void log_vmsg(int prio, const char *fmt, va_list ap)
{
	int saved = errno;
	char line[1024];

	/* Format once: glibc's vsnprintf knows %m, so both sinks agree. */
	vsnprintf(line, sizeof line, fmt, ap);
	log_syslog(prio, line);
	if (log_stderr) {
		char stamp[32];
		struct tm tm;
		time_t now = time(NULL);

		if (!localtime_r(&now, &tm) ||
		    !strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm))
			stamp[0] = '\0';
		fprintf(stderr, "%s popa3d[%ld]: %s\n", stamp, (long)getpid(), line);
		fflush(stderr);
	}
	errno = saved;
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	_exit(1);
}

char *log_clean(char *out, size_t outsize, const void *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t o = 0, i;

	if (outsize == 0)
		return out;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
		int plain = c > 0x20 && c < 0x7f && c != '%' && c != '"' && c != '\\';
		size_t need = plain ? 1 : 4;

		/* keep room for "..." and the terminator if we must stop */
		if (o + need + (i + 1 < n ? 3 : 0) >= outsize) {
			if (o + 3 < outsize) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
