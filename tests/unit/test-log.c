/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: logging (src/lib/log.c): sanitising, the stderr sink and
 * the syslog client, against a datagram socket of our own in place of
 * /dev/log. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sysio.h"
#include "tap.h"

static char sock_path[108];

/* A syslog daemon stand-in: a datagram socket bound at sock_path. */
static int syslogd(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
	unlink(sock_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("syslogd stand-in");
		exit(99);
	}
	return fd;
}

/* One datagram within 1 s, or "" */
static const char *heard(int fd, char *buf, size_t size)
{
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n = 0;

	buf[0] = '\0';
	if (poll(&p, 1, 1000) == 1)
		n = recv(fd, buf, size - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_syslog(void)
{
	char dir[] = "/tmp/popa3d-test-syslog.XXXXXX", buf[2048], want[64];
	int d, fd;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(99);
	}
	snprintf(sock_path, sizeof sock_path, "%s/log", dir);
	d = syslogd();
	log_set_socket_path(sock_path);
	log_open(0);
	ok(log_fd() >= 0, "connected to the syslog socket at open");
	log_msg(LOG_WARNING, "hello %d user=%s", 5, "bob");
	heard(d, buf, sizeof buf);
	snprintf(want, sizeof want, " popa3d[%ld]: hello 5 user=bob", (long)getpid());
	ok(strncmp(buf, "<20>", 4) == 0, "facility mail, priority warning: <20> (%s)", buf);
	ok(strlen(buf) > 4 + 15 && buf[4 + 3] == ' ' && buf[4 + 6] == ' ' &&
	   buf[4 + 9] == ':' && buf[4 + 12] == ':' && strcmp(buf + 4 + 15, want) == 0,
	   "traditional format: \"<pri>Mmm dd hh:mm:ss popa3d[pid]: text\"");
	ok(strchr(buf, '\n') == NULL, "no newline in the datagram");

	/* a sweep of descriptors keeps it */
	fd = log_fd();
	io_close_from(3, &d, 1);
	ok(log_fd() == fd && fcntl(fd, F_GETFD) >= 0, "io_close_from keeps the syslog socket");
	log_msg(LOG_ERR, "after the sweep");
	ok(strstr(heard(d, buf, sizeof buf), "after the sweep") != NULL,
	   "logging works after the sweep, with no reconnect (%s)", buf);

	/* the syslog daemon restarts: reconnect once, nothing lost */
	close(d);
	d = syslogd();
	log_msg(LOG_ERR, "after a restart");
	ok(strstr(heard(d, buf, sizeof buf), "after a restart") != NULL,
	   "syslogd restarted: reconnected, the line arrives (%s)", buf);

	/* a descriptor closed behind our back and recycled: never written */
	fd = log_fd();
	{
		char tmp[] = "/tmp/popa3d-test-log-recycled.XXXXXX";
		int f = mkstemp(tmp);

		ok(f >= 0 && dup2(f, fd) == fd, "the socket's number now holds a file");
		log_msg(LOG_ERR, "after a recycle");
		ok(strstr(heard(d, buf, sizeof buf), "after a recycle") != NULL,
		   "the line goes to a new syslog socket (%s)", buf);
		ok(log_fd() != fd && lseek(fd, 0, SEEK_END) == 0 && fcntl(fd, F_GETFD) >= 0,
		   "the file holding the old number got nothing and is still open");
		close(fd);
		close(f);
		unlink(tmp);
	}

	/* no syslog daemon: one attempt a second, not one per line */
	close(d);
	unlink(sock_path);
	log_reopen();
	ok(log_fd() < 0, "no socket: not connected");
	log_msg(LOG_ERR, "lost");
	d = syslogd();
	log_msg(LOG_ERR, "too soon");
	log_refresh();
	ok(log_fd() < 0 && heard(d, buf, sizeof buf)[0] == '\0',
	   "a daemon back within the second is not tried yet");
	usleep(1100 * 1000);
	log_refresh();
	ok(log_fd() >= 0, "a second later log_refresh connects");
	log_msg(LOG_ERR, "back");
	ok(strstr(heard(d, buf, sizeof buf), "back") != NULL, "and the line arrives (%s)", buf);
	close(d);
	unlink(sock_path);
	rmdir(dir);
}

int main(void)
{
	char out[LOG_CLEAN_SIZE(64)];
	char small[12];
	char path[] = "/tmp/popa3d-test-log.XXXXXX";
	int fd, saved;
	char got[2048];
	ssize_t n;

	ok(strcmp(log_clean(out, sizeof out, "alice", 5), "alice") == 0, "plain name unchanged");
	ok(strcmp(log_clean(out, sizeof out, "a\r\nb", 4), "a\\x0d\\x0ab") == 0, "CR LF escaped");
	ok(strcmp(log_clean(out, sizeof out, "%n%s", 4), "\\x25n\\x25s") == 0, "percent escaped");
	ok(strcmp(log_clean(out, sizeof out, "a b", 3), "a\\x20b") == 0, "space escaped (keeps key=value parseable)");
	ok(strcmp(log_clean(out, sizeof out, "q\"\\", 3), "q\\x22\\x5c") == 0, "quote and backslash escaped");
	ok(strcmp(log_clean(out, sizeof out, "\0\xff", 2), "\\x00\\xff") == 0, "NUL and high bytes escaped");
	ok(strcmp(log_clean(out, sizeof out, "", 0), "") == 0, "empty");
	ok(strcmp(log_clean(out, sizeof out, "a\xe2\x80\xae" "b", 5), "a\\xe2\\x80\\xaeb") == 0,
	   "a bidi override (U+202E) escaped byte by byte");
	ok(strcmp(log_clean(out, sizeof out, "a\xe2\x80\x8b", 4), "a\\xe2\\x80\\x8b") == 0,
	   "a zero-width space (U+200B) escaped");
	ok(strcmp(log_clean(out, sizeof out, "\xc3\xa9", 2), "\\xc3\\xa9") == 0,
	   "any non-ASCII letter escaped: one form for the log, whatever the client sent");
	log_clean(small, sizeof small, "abcdefghijklmnopqrstuvwxyz", 26);
	ok(strlen(small) < sizeof small && strcmp(small + strlen(small) - 3, "...") == 0,
	   "truncation marked with ... and terminated (%s)", small);
	log_clean(small, sizeof small, "\n\n\n\n\n\n", 6);
	ok(strlen(small) < sizeof small, "escapes never overrun (%s)", small);
	{
		/* forged log line attempt: nothing after a newline survives raw */
		const char *forge = "bob\nMay 1 popa3d[1]: auth ok user=root";

		log_clean(out, sizeof out, forge, strlen(forge));
		ok(strchr(out, '\n') == NULL && strchr(out, ' ') == NULL, "forged line stays on one line");
	}

	/* stderr sink: one line per message, with our ident */
	fd = mkstemp(path);
	ok(fd >= 0, "temp file");
	saved = dup(2);
	dup2(fd, 2);
	log_open(1);
	ok(log_to_stderr() == 1, "stderr enabled");
	log_msg(LOG_INFO, "test message %d user=%s", 7, log_clean(out, sizeof out, "x\ny", 3));
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, got, sizeof got - 1);
	got[n > 0 ? n : 0] = '\0';
	ok(strstr(got, "popa3d[") != NULL, "stderr line has the ident");
	ok(strstr(got, "test message 7 user=x\\x0ay\n") != NULL, "stderr line has the message: %s", got);
	ok(strchr(got, '\n') == got + strlen(got) - 1, "exactly one line");
	close(fd);
	unlink(path);
	test_syslog();
	return tap_done();
}
