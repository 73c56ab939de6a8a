/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The leader against a hostile pre-auth child: malformed, oversized and
 * truncated frames, a bad request, wrong passwords.  The leader must log
 * a failure, answer nothing it should not, and return normally (never
 * crash).  Each case runs leader_serve() in its own process with a real
 * throwaway child for it to reap, and this test playing the child's side
 * of the socketpair.
 */
#include "config.h"

#include <crypt.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authproto.h"
#include "frame.h"
#include "leader.h"
#include "log.h"
#include "options.h"
#include "sysio.h"
#include "tap.h"

static char shadow_path[] = "/tmp/popa3d-test-leader-shadow.XXXXXX";
static char log_path[] = "/tmp/popa3d-test-leader-log.XXXXXX";

struct run {
	int fd;		/* our end: we are the pre-auth child */
	pid_t leader;
};

static int require_tls;

static struct run start_leader(void)
{
	struct run r;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	r.leader = fork();
	if (r.leader == 0) {
		struct options o;
		pid_t dummy;
		int null = open("/dev/null", O_RDWR);
		int logfd = open(log_path, O_WRONLY | O_APPEND);

		close(sv[0]);
		dup2(logfd, 2);
		log_open(1);
		dummy = fork();
		if (dummy == 0) {
			pause();
			_exit(0);
		}
		options_defaults(&o);
		o.auth = OPT_AUTH_SHADOW;
		o.shadow_file = shadow_path;
		o.fail_delay = 0;
		o.max_failures = 2;
		o.timeout = 5;
		o.require_tls = require_tls;
		_exit(leader_serve(null, null, sv[1], dummy, &o, "192.0.2.7", "test", 0));
	}
	close(sv[1]);
	r.fd = sv[0];
	return r;
}

static int finish(struct run *r)
{
	int st;

	close(r->fd);
	if (waitpid(r->leader, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static char *read_log(void)
{
	static char buf[65536];
	int fd = open(log_path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

static void reset_log(void)
{
	int fd = open(log_path, O_WRONLY | O_TRUNC);

	if (fd >= 0)
		close(fd);
}

static void send_raw(int fd, uint32_t type, uint32_t len, const void *p, size_t n)
{
	unsigned char hdr[8];

	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &len, 4);
	if (write(fd, hdr, 8) != 8 || (n && write(fd, p, n) != (ssize_t)n))
		abort();
}

static int expect_reply(int fd, unsigned want)
{
	struct frame f;
	const char *why;
	const unsigned char *p;
	size_t n;

	if (frame_recv(fd, &f, io_now_ms() + 10000, &why) < 0)
		return 0;
	return f.type == FRAME_AUTH_REPLY && frame_get(&f, &p, &n, 1) == 0 && n == 1 &&
	       p[0] == want && frame_end(&f) == 0;
}

static void send_request(int fd, const char *user, const char *pw)
{
	struct frame f;

	if (authproto_encode_request(&f, FRAME_METHOD_USERPASS, user, strlen(user), pw, strlen(pw)) < 0 ||
	    frame_send(fd, &f) < 0)
		abort();
}

int main(void)
{
	struct run r;
	int st, fd;
	char line[512];
	struct crypt_data cd;
	const char *hash;

	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0)
		tap_skip_all("the auth helper runs the shadow backend as root");
	fd = mkstemp(log_path);
	close(fd);
	fd = mkstemp(shadow_path);
	memset(&cd, 0, sizeof cd);
	hash = crypt_r("right", "$6$saltsaltsalt$", &cd);
	/* dave's account expired on day 1 of 1970 */
	snprintf(line, sizeof line, "carol:%s:19000:0:99999:7:::\ndave:%s:19000:0:99999:7::1:\n",
		 hash, hash);
	ok(fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line), "shadow file written");
	close(fd);

	/* 1: unknown frame type */
	reset_log();
	r = start_leader();
	send_raw(r.fd, 99, 0, NULL, 0);
	st = finish(&r);
	ok(st == LEADER_EXIT_NOLOGIN || st == LEADER_EXIT_AUTHFAIL, "unknown type: leader returns (%d)", st);
	ok(strstr(read_log(), "unknown frame type") != NULL, "unknown type: logged");

	/* 2: oversized length, refused before any payload is read */
	reset_log();
	r = start_leader();
	send_raw(r.fd, FRAME_AUTH_REQUEST, 100000000, NULL, 0);
	st = finish(&r);
	ok(st < 100, "oversized frame: leader returns (%d)", st);
	ok(strstr(read_log(), "longer than its type allows") != NULL, "oversized frame: logged");

	/* 3: truncated payload, then EOF */
	reset_log();
	r = start_leader();
	send_raw(r.fd, FRAME_AUTH_REQUEST, 50, "\0\1\1\0\3abc", 8);
	st = finish(&r);
	ok(st < 100, "truncated frame: leader returns (%d)", st);
	ok(strstr(read_log(), "truncated") != NULL, "truncated frame: logged");

	/* 4: a reply-type frame from the child: not a request */
	reset_log();
	r = start_leader();
	send_raw(r.fd, FRAME_AUTH_REPLY, 3, "\0\1\0", 3);
	st = finish(&r);
	ok(st < 100, "wrong frame type for the state: leader returns (%d)", st);
	ok(strstr(read_log(), "bad request") != NULL, "wrong frame type: logged as a bad request");

	/* 4b: frames of the boundary table (boundary.c) outside their rule */
	reset_log();
	r = start_leader();
	send_raw(r.fd, FRAME_TLS_ACTIVE, 9, "\0\7TLSv1.3", 9);
	st = finish(&r);
	ok(st == LEADER_EXIT_AUTHFAIL && strstr(read_log(), "TLS was not possible") != NULL,
	   "TLS_ACTIVE where TLS was not possible: hostile child (%d)", st);
	reset_log();
	r = start_leader();
	send_raw(r.fd, FRAME_PROXY_SOURCE, 3, "\0\1\0", 3);
	st = finish(&r);
	ok(st == LEADER_EXIT_AUTHFAIL && strstr(read_log(), "without --proxy-protocol") != NULL,
	   "PROXY_SOURCE without --proxy-protocol: hostile child (%d)", st);
	reset_log();
	r = start_leader();
	send_raw(r.fd, FRAME_PREAUTH_END, 5, "\0\1\1\0\0", 5);
	send_raw(r.fd, FRAME_PREAUTH_END, 5, "\0\1\1\0\0", 5);
	st = finish(&r);
	ok(st == LEADER_EXIT_AUTHFAIL && strstr(read_log(), "allowed once") != NULL,
	   "PREAUTH_END twice: hostile child (%d)", st);

	/* 5: well-framed request with an extra field */
	reset_log();
	r = start_leader();
	send_raw(r.fd, FRAME_AUTH_REQUEST, 18, "\0\1\1\0\5carol\0\5right\0\0", 18);
	st = finish(&r);
	ok(st == LEADER_EXIT_AUTHFAIL, "extra field: failed login (%d)", st);
	ok(strstr(read_log(), "bad request") != NULL, "extra field: logged");

	/* 6: a user name with a control character (log-forging attempt) */
	reset_log();
	r = start_leader();
	send_raw(r.fd, FRAME_AUTH_REQUEST, 16, "\0\1\1\0\5ca\nol\0\3pwx", 16);
	st = finish(&r);
	ok(st == LEADER_EXIT_AUTHFAIL, "control char in user: failed login (%d)", st);
	ok(strstr(read_log(), "ca\nol") == NULL, "the raw newline never reaches the log");

	/* 7: wrong passwords: FAIL, then CLOSE at --max-failures */
	reset_log();
	r = start_leader();
	send_request(r.fd, "carol", "wrong");
	ok(expect_reply(r.fd, FRAME_AUTH_FAIL), "wrong password: FAIL reply");
	send_request(r.fd, "nosuchuser", "whatever");
	ok(expect_reply(r.fd, FRAME_AUTH_CLOSE), "second failure at max-failures 2: CLOSE reply");
	st = finish(&r);
	ok(st == LEADER_EXIT_AUTHFAIL, "failed logins: status AUTHFAIL (%d)", st);
	ok(strstr(read_log(), "auth failure user=carol rip=192.0.2.7") != NULL, "failure logged with user and rip");
	ok(strstr(read_log(), "auth failure user=nosuchuser rip=192.0.2.7") != NULL, "unknown user logged alike");
	ok(strstr(read_log(), "wrong") == NULL && strstr(read_log(), "whatever") == NULL, "no password in the log");

	/* 8: right password but no passwd entry (shadow-only account): refused */
	reset_log();
	r = start_leader();
	send_request(r.fd, "carol", "right");
	ok(expect_reply(r.fd, FRAME_AUTH_FAIL), "good password, no passwd account: FAIL reply");
	st = finish(&r);
	ok(st == LEADER_EXIT_AUTHFAIL, "status AUTHFAIL (%d)", st);
	ok(strstr(read_log(), "no such account") != NULL, "reason logged");

	/* 8b: right password, expired account: the child hears what a wrong
	 * password gets, not that the password was right */
	reset_log();
	r = start_leader();
	send_request(r.fd, "dave", "right");
	ok(expect_reply(r.fd, FRAME_AUTH_FAIL), "good password, expired account: FAIL reply, not EXPIRED");
	st = finish(&r);
	ok(st == LEADER_EXIT_AUTHFAIL, "status AUTHFAIL (%d)", st);
	ok(strstr(read_log(), "auth failure user=dave") != NULL && strstr(read_log(), "expired") != NULL,
	   "the reason is in the log only");

	/* 8c: --require-tls, and a child forwards a login without TLS: the
	 * leader refuses it by itself and ends the connection */
	reset_log();
	require_tls = 1;
	r = start_leader();
	send_request(r.fd, "carol", "right");
	ok(!expect_reply(r.fd, FRAME_AUTH_FAIL) , "require-tls: no reply to a clear-text login");
	st = finish(&r);
	require_tls = 0;
	ok(st == LEADER_EXIT_AUTHFAIL, "require-tls: failed login (%d)", st);
	ok(strstr(read_log(), "without TLS under --require-tls") != NULL, "require-tls: logged");
	ok(strstr(read_log(), "auth failure") == NULL, "require-tls: no authentication was tried");

	/* 9: the child just leaves */
	reset_log();
	r = start_leader();
	st = finish(&r);
	ok(st == LEADER_EXIT_NOLOGIN, "child gone without a request: NOLOGIN (%d)", st);

	unlink(shadow_path);
	unlink(log_path);
	return tap_done();
}
