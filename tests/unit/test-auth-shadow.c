/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The shadow(5) + crypt(3) backend, directly and through the auth helper,
 * against a shadow file the test writes (yescrypt and SHA-512 hashes made
 * with libcrypt here), and, as root, against a real account created with
 * useradd + chpasswd and found through getspnam().
 */
#include "config.h"

#include <crypt.h>
#include <sys/stat.h>
#include <time.h>

#include "auth.h"
#include "authhelper.h"
#include "test-auth.h"

static char dir[TA_PATH], shadow[TA_PATH];

static void hash(const char *prefix, const char *pw, char *out, size_t size)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *h;

	memset(&cd, 0, sizeof cd);
	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof setting) ||
	    !(h = crypt_rn(pw, setting, &cd, sizeof cd)) || strlen(h) >= size)
		ta_die("crypt");
	memcpy(out, h, strlen(h) + 1);
}

static enum auth_result check(const char *file, const char *user, const char *pw,
			      char *final, const char **reason)
{
	struct auth_request rq = { .user = user, .secret = pw, .rhost = "192.0.2.1",
				   .shadow_file = file };

	return auth_shadow_check(&rq, final, FRAME_USER_MAX + 1, reason);
}

static void write_shadow(void)
{
	char yes[CRYPT_OUTPUT_SIZE], sha[CRYPT_OUTPUT_SIZE], text[8192];
	long today = (long)(time(NULL) / 86400);

	hash("$y$", "correct horse", yes, sizeof yes);
	hash("$6$", "s3cret pass", sha, sizeof sha);
	/* name:hash:lstchg:min:max:warn:inact:expire: */
	snprintf(text, sizeof text,
		 "root:*:19000:0:99999:7:::\n"
		 "yes:%s:%ld:0:99999:7:::\n"
		 "sha:%s:%ld::::::\n"
		 "locked:!%s:%ld:0:99999:7:::\n"
		 "star:*:%ld:0:99999:7:::\n"
		 "empty::%ld:0:99999:7:::\n"
		 "expired:%s:%ld:0:99999:7::%ld:\n"
		 "later:%s:%ld:0:99999:7::%ld:\n"
		 "mustchange:%s:0:0:99999:7:::\n"
		 "aged:%s:%ld:0:30:7:::\n"
		 "badhash:xyz:%ld:0:99999:7:::\n",
		 yes, today - 1, sha, today - 1, sha, today - 1, today - 1, today - 1,
		 sha, today - 10, today - 1, sha, today - 10, today + 100,
		 sha, sha, today - 100, today - 1);
	ta_write(dir, "shadow", text);
	ta_path(shadow, sizeof shadow, dir, "shadow");
}

static void test_backend(void)
{
	char final[FRAME_USER_MAX + 1], fail_reason[64];
	const char *reason;
	char longpw[600];

	ok(check(shadow, "yes", "correct horse", final, &reason) == AUTH_RESULT_OK &&
	   strcmp(final, "yes") == 0, "yescrypt: right password, final user \"%s\"", final);
	ok(check(shadow, "sha", "s3cret pass", final, &reason) == AUTH_RESULT_OK &&
	   strcmp(final, "sha") == 0, "SHA-512: right password");
	ok(check(shadow, "yes", "correct horsE", final, &reason) == AUTH_RESULT_FAIL &&
	   final[0] == '\0', "yescrypt: wrong password fails, no final user");
	snprintf(fail_reason, sizeof fail_reason, "%s", reason);
	ok(check(shadow, "sha", "s3cret pas", final, &reason) == AUTH_RESULT_FAIL,
	   "SHA-512: a prefix of the password fails");
	ok(check(shadow, "sha", "", final, &reason) == AUTH_RESULT_FAIL,
	   "SHA-512: empty password fails");
	ok(check(shadow, "nosuchuser", "correct horse", final, &reason) == AUTH_RESULT_FAIL,
	   "unknown user fails");
	ok(strcmp(reason, fail_reason) == 0,
	   "unknown user and wrong password give one reason (\"%s\")", reason);
	ok(check(shadow, "locked", "s3cret pass", final, &reason) == AUTH_RESULT_FAIL,
	   "'!'-locked account refuses its right password");
	ok(strcmp(reason, fail_reason) == 0, "locked account: same reason as a wrong password");
	ok(check(shadow, "star", "*", final, &reason) == AUTH_RESULT_FAIL,
	   "'*' account refuses everything");
	ok(check(shadow, "empty", "", final, &reason) == AUTH_RESULT_FAIL,
	   "empty hash refuses the empty password");
	ok(check(shadow, "empty", "x", final, &reason) == AUTH_RESULT_FAIL,
	   "empty hash refuses any password");
	ok(check(shadow, "expired", "s3cret pass", final, &reason) == AUTH_RESULT_EXPIRED &&
	   final[0] == '\0', "sp_expire in the past: EXPIRED (%s)", reason);
	ok(check(shadow, "expired", "wrong", final, &reason) == AUTH_RESULT_FAIL,
	   "expired account with a wrong password: plain FAIL (state not revealed)");
	ok(check(shadow, "later", "s3cret pass", final, &reason) == AUTH_RESULT_OK,
	   "sp_expire in the future: OK");
	ok(check(shadow, "mustchange", "s3cret pass", final, &reason) == AUTH_RESULT_EXPIRED,
	   "sp_lstchg 0 (must change): EXPIRED (%s)", reason);
	ok(check(shadow, "aged", "s3cret pass", final, &reason) == AUTH_RESULT_EXPIRED,
	   "password older than sp_max: EXPIRED (%s)", reason);
	ok(check(shadow, "badhash", "xyz", final, &reason) == AUTH_RESULT_FAIL,
	   "malformed hash: FAIL, never a match");
	memset(longpw, 'a', sizeof longpw - 1);
	longpw[sizeof longpw - 1] = '\0';
	ok(check(shadow, "yes", longpw, final, &reason) == AUTH_RESULT_FAIL,
	   "password over crypt's 512-byte limit: FAIL");
}

static void test_file_errors(void)
{
	char final[FRAME_USER_MAX + 1], link[TA_PATH], missing[TA_PATH];
	const char *reason;

	ta_path(link, sizeof link, dir, "shadow-link");
	if (symlink(shadow, link) < 0)
		ta_die("symlink");
	ok(check(link, "yes", "correct horse", final, &reason) == AUTH_RESULT_TEMPFAIL,
	   "shadow file that is a symlink is refused (O_NOFOLLOW): %s", reason);
	ta_path(missing, sizeof missing, dir, "missing");
	ok(check(missing, "yes", "correct horse", final, &reason) == AUTH_RESULT_TEMPFAIL,
	   "missing shadow file: TEMPFAIL, not FAIL");
}

static enum auth_result helper(const char *file, const char *user, const char *pw,
			       int timeout_ms, struct authhelper_res *res)
{
	struct authhelper_req rq = { .user = user, .secret = pw,
				     .backend = AUTHHELPER_SHADOW, .rhost = "192.0.2.1",
				     .shadow_file = file,
				     .timeout_ms = timeout_ms ? timeout_ms : ta_auth_timeout_ms() };

	return authhelper_run(&rq, res);
}

static void test_helper(void)
{
	struct authhelper_res res;
	char fifo[TA_PATH], toolong[FRAME_SECRET_MAX + 2];

	ok(helper(shadow, "yes", "correct horse", 0, &res) == AUTH_RESULT_OK &&
	   res.result == AUTH_RESULT_OK && strcmp(res.user, "yes") == 0,
	   "helper: yescrypt user authenticated as \"%s\"", res.user);
	ok(helper(shadow, "yes", "nope", 0, &res) == AUTH_RESULT_FAIL && res.user[0] == '\0',
	   "helper: wrong password FAIL (%s)", res.reason);
	ok(helper(shadow, "ghost", "nope", 0, &res) == AUTH_RESULT_FAIL,
	   "helper: unknown user FAIL (%s)", res.reason);
	ok(helper(shadow, "mustchange", "s3cret pass", 0, &res) == AUTH_RESULT_EXPIRED,
	   "helper: EXPIRED travels through the frame");
	ok(helper(dir, "yes", "correct horse", 0, &res) == AUTH_RESULT_TEMPFAIL,
	   "helper: unreadable shadow (a directory) is TEMPFAIL (%s)", res.reason);

	/* Opening a FIFO with no writer blocks: a hung backend. */
	ta_path(fifo, sizeof fifo, dir, "fifo");
	if (mkfifo(fifo, 0600) < 0)
		ta_die("mkfifo");
	ok(helper(fifo, "yes", "correct horse", 300, &res) == AUTH_RESULT_TEMPFAIL &&
	   strstr(res.reason, "timed out"),
	   "helper: a hung backend is killed at the deadline (%s)", res.reason);

	ok(helper(shadow, "../yes", "correct horse", 0, &res) == AUTH_RESULT_TEMPFAIL,
	   "helper: refuses an invalid user name before forking (%s)", res.reason);
	memset(toolong, 'a', sizeof toolong - 1);
	toolong[sizeof toolong - 1] = '\0';
	ok(helper(shadow, "yes", toolong, 0, &res) == AUTH_RESULT_TEMPFAIL,
	   "helper: refuses an over-long secret (%s)", res.reason);
}

static void test_real_user(void)
{
	char name[32], final[FRAME_USER_MAX + 1];
	struct authhelper_res res;
	const char *reason;

	if (geteuid() != 0) {
		ok(1, "# SKIP real account test needs root");
		return;
	}
	snprintf(name, sizeof name, "p3dsh%ld", (long)getpid());
	if (ta_user_add(name, "Real pw 1") != 0) {
		ok(0, "useradd/chpasswd %s", name);
		ta_user_del(name);
		return;
	}
	ok(check(NULL, name, "Real pw 1", final, &reason) == AUTH_RESULT_OK &&
	   strcmp(final, name) == 0, "getspnam: real account, right password");
	ok(check(NULL, name, "Real pw 2", final, &reason) == AUTH_RESULT_FAIL,
	   "getspnam: real account, wrong password");
	ok(helper(NULL, name, "Real pw 1", 0, &res) == AUTH_RESULT_OK &&
	   strcmp(res.user, name) == 0, "helper + getspnam: real account");
	ta_user_del(name);
	ok(check(NULL, name, "Real pw 1", final, &reason) == AUTH_RESULT_FAIL,
	   "getspnam: deleted account fails");
}

int main(void)
{
	ta_tmpdir(dir, sizeof dir, "shadow");
	write_shadow();
	test_backend();
	test_file_errors();
	test_helper();
	test_real_user();
	ta_rmtree(dir);
	return tap_done();
}
