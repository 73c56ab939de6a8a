/* Logging to syslog (LOG_MAIL, "popa3d") and optionally stderr; see log.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_stderr;

void log_open(int also_stderr)
{
	log_stderr = also_stderr;
	openlog("popa3d", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_reopen(void)
{
	closelog();
	openlog("popa3d", LOG_PID | LOG_NDELAY, LOG_MAIL);
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
	syslog(prio, "%s", line);
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
