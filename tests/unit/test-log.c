/* Unit tests: logging (src/lib/log.c): sanitising and the stderr sink. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

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
	return tap_done();
}
