/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PAM backend through real Linux-PAM, without touching /etc/pam.d:
 * pam_start_confdir() reads stacks this test writes under /tmp, built
 * from pam_matrix (libpam-wrapper: a user:password:service file), stock
 * modules (pam_deny, pam_succeed_if, pam_echo, pam_permit) and our own
 * tests/pam/pam_test_conv.so (conversation edge cases, PAM_USER renames).
 * Each case runs both in-process (auth_pam_check) and through the auth
 * helper (fork + frame).  As root it also runs the shipped pam.d/popa3d
 * with the system's common-auth/common-account against a real account.
 */
#include "config.h"

#include <limits.h>

#include "auth.h"
#include "authhelper.h"
#include "log.h"
#include "test-auth.h"

static char dir[TA_PATH], matrix[TA_PATH], convmod[PATH_MAX];

static int find_matrix(void)
{
	static const char *const where[] = {
		"/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so",
		"/usr/lib/aarch64-linux-gnu/pam_wrapper/pam_matrix.so",
		"/usr/lib64/pam_wrapper/pam_matrix.so",
		"/usr/lib/pam_wrapper/pam_matrix.so",
	};

	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		if (access(where[i], R_OK) == 0) {
			snprintf(matrix, sizeof matrix, "%s", where[i]);
			return 0;
		}
	}
	return -1;
}

/* One service file: "%M" stands for pam_matrix with our passdb, "%C" for
 * pam_test_conv.so. */
static void stack(const char *service, const char *text)
{
	char out[4096], passdb[TA_PATH];
	size_t o = 0;

	ta_path(passdb, sizeof passdb, dir, "passdb");
	for (const char *p = text; *p; p++) {
		int n;

		if (p[0] == '%' && p[1] == 'M')
			n = snprintf(out + o, sizeof out - o, "%s passdb=%s", matrix, passdb), p++;
		else if (p[0] == '%' && p[1] == 'C')
			n = snprintf(out + o, sizeof out - o, "%s", convmod), p++;
		else
			n = snprintf(out + o, sizeof out - o, "%c", *p);
		if (n < 0 || (size_t)n >= sizeof out - o)
			ta_die("stack too long");
		o += (size_t)n;
	}
	ta_write(dir, service, out);
}

static enum auth_result pam(const char *service, const char *user, const char *pw,
			    char *final, const char **reason)
{
	struct auth_request rq = { .user = user, .secret = pw, .rhost = "192.0.2.7",
				   .service = service, .pam_confdir = dir };

	return auth_pam_check(&rq, final, FRAME_USER_MAX + 1, reason);
}

static enum auth_result helper(const char *service, const char *user, const char *pw,
			       struct authhelper_res *res)
{
	struct authhelper_req rq = { .user = user, .secret = pw, .backend = AUTHHELPER_PAM,
				     .rhost = "192.0.2.7", .service = service,
				     .pam_confdir = dir, .timeout_ms = ta_auth_timeout_ms() };

	return authhelper_run(&rq, res);
}

static void setup(void)
{
	const char *top = getenv("top_builddir");

	ta_tmpdir(dir, sizeof dir, "pam");
	char rel[TA_PATH];

	/* PAM takes a relative module path as relative to its own module
	 * directory: the stacks need an absolute one. */
	snprintf(rel, sizeof rel, "%s/tests/pam/pam_test_conv.so", top ? top : ".");
	if (!realpath(rel, convmod))
		ta_die(rel);
	ta_write(dir, "passdb",
		 "alice:wonder land:matrix\n"
		 "bob:builder:otherservice\n"
		 "carol:pw carol:matrix\n");
	stack("matrix", "auth required %M\naccount required %M\n");
	/* pam_matrix's account part only lets a user use the service named
	 * in the passdb: bob is "otherservice", so matrix refuses him. */
	stack("denyacct", "auth required %M\naccount required pam_deny.so\n");
	stack("notbob", "auth required %M\n"
	      "account required pam_succeed_if.so quiet user notin alice\n");
	stack("rename", "auth required %M\nauth required %C rename=carol\n"
	      "account required pam_permit.so\n");
	stack("badname", "auth required %M\nauth required %C rename=../etc\n"
	      "account required pam_permit.so\n");
	stack("chatty", "auth optional pam_echo.so popa3d-test-echo %u\n"
	      "auth required %C style=4 ask style=3 ask\n"
	      "auth required %M\naccount required pam_permit.so\n");
	stack("delayfn", "auth required %C delayfn\nauth required %M\n"
	      "account required pam_permit.so\n");
	stack("conv32", "auth required %C num=32 style=1 ask want=pw\n"
	      "account required pam_permit.so\n");
	stack("conv0", "auth required %C num=0 ask\naccount required pam_permit.so\n");
	stack("conv33", "auth required %C num=33 ask\naccount required pam_permit.so\n");
	stack("convbin", "auth required %C style=7 ask\naccount required pam_permit.so\n");
	stack("echoon", "auth required %C style=2 ask want=dave\n"
	      "account required pam_permit.so\n");
	stack("forge", "auth required %C forge\nauth required %M\n"
	      "account required pam_permit.so\n");
	stack("exit0", "auth required %C exit=0\naccount required pam_permit.so\n");
	stack("exit3", "auth required %C exit=3\naccount required pam_permit.so\n");
	stack("crash", "auth required %C crash\naccount required pam_permit.so\n");
	stack("broken", "auth required /nonexistent/pam_nothing.so\n"
	      "account required pam_permit.so\n");
}

static void test_matrix(void)
{
	char final[FRAME_USER_MAX + 1], fail_reason[64];
	struct authhelper_res res;
	const char *reason;

	ok(pam("matrix", "alice", "wonder land", final, &reason) == AUTH_RESULT_OK &&
	   strcmp(final, "alice") == 0, "pam_matrix: right password, final user \"%s\"", final);
	ok(pam("matrix", "alice", "wonderland", final, &reason) == AUTH_RESULT_FAIL &&
	   final[0] == '\0', "pam_matrix: wrong password FAIL (%s)", reason);
	snprintf(fail_reason, sizeof fail_reason, "%s", reason);
	ok(pam("matrix", "mallory", "wonder land", final, &reason) == AUTH_RESULT_FAIL,
	   "pam_matrix: unknown user FAIL");
	ok(strcmp(reason, fail_reason) == 0,
	   "unknown user and wrong password: one reason (\"%s\")", reason);
	ok(pam("matrix", "alice", "", final, &reason) == AUTH_RESULT_FAIL,
	   "empty password FAIL");
	ok(pam("matrix", "bob", "builder", final, &reason) == AUTH_RESULT_EXPIRED,
	   "pam_matrix account refuses bob for this service: EXPIRED (%s)", reason);
	ok(pam("denyacct", "alice", "wonder land", final, &reason) == AUTH_RESULT_EXPIRED,
	   "account pam_deny: EXPIRED");
	ok(pam("denyacct", "alice", "bad", final, &reason) == AUTH_RESULT_FAIL,
	   "account pam_deny with a wrong password: FAIL (account state not revealed)");
	ok(pam("notbob", "alice", "wonder land", final, &reason) == AUTH_RESULT_EXPIRED,
	   "account pam_succeed_if refusal: EXPIRED");
	ok(pam("notbob", "carol", "pw carol", final, &reason) == AUTH_RESULT_OK,
	   "account pam_succeed_if lets carol in");
	ok(pam("broken", "alice", "wonder land", final, &reason) != AUTH_RESULT_OK,
	   "a stack with a missing module never succeeds");

	ok(helper("matrix", "alice", "wonder land", &res) == AUTH_RESULT_OK &&
	   strcmp(res.user, "alice") == 0, "helper: pam_matrix success");
	ok(helper("matrix", "alice", "x", &res) == AUTH_RESULT_FAIL && res.user[0] == '\0',
	   "helper: wrong password FAIL (%s)", res.reason);
	snprintf(fail_reason, sizeof fail_reason, "%s", res.reason);
	ok(helper("matrix", "mallory", "x", &res) == AUTH_RESULT_FAIL &&
	   strcmp(res.reason, fail_reason) == 0, "helper: unknown user, same answer");
	ok(helper("matrix", "bob", "builder", &res) == AUTH_RESULT_EXPIRED,
	   "helper: account refusal is EXPIRED");
	/* Through the helper only: libpam 1.5.2 leaks on this pam_start
	 * failure, which LeakSanitizer would pin on the test process. */
	ok(helper("nosuchservice", "alice", "wonder land", &res) == AUTH_RESULT_TEMPFAIL,
	   "a service without a stack is TEMPFAIL, never OK (%s)", res.reason);
}

static void test_rename(void)
{
	char final[FRAME_USER_MAX + 1];
	struct authhelper_res res;
	const char *reason;

	ok(pam("rename", "alice", "wonder land", final, &reason) == AUTH_RESULT_OK &&
	   strcmp(final, "carol") == 0, "module renamed PAM_USER: final user \"%s\"", final);
	ok(helper("rename", "alice", "wonder land", &res) == AUTH_RESULT_OK &&
	   strcmp(res.user, "carol") == 0, "helper: final user is the renamed \"%s\"", res.user);
	ok(helper("rename", "alice", "nope", &res) == AUTH_RESULT_FAIL && res.user[0] == '\0',
	   "helper: rename after a failed password gives no user");
	ok(helper("badname", "alice", "wonder land", &res) == AUTH_RESULT_TEMPFAIL &&
	   res.user[0] == '\0', "helper: a module renaming to \"../etc\" is refused (%s)",
	   res.reason);
}

static void test_conversation(void)
{
	char final[FRAME_USER_MAX + 1];
	struct authhelper_res res;
	struct ta_capture cap;
	const char *reason;

	ta_capture_start(&cap, dir);
	ok(pam("chatty", "alice", "wonder land", final, &reason) == AUTH_RESULT_OK,
	   "info and error messages in the conversation: still OK");
	ok(ta_capture_has(&cap, "pam_test_conv:\\x20question"), "the module's message was logged");
	ta_capture_start(&cap, dir);
	ok(helper("chatty", "alice", "wonder land", &res) == AUTH_RESULT_OK,
	   "helper: chatty stack OK");
	ok(ta_capture_has(&cap, "pam_test_conv:\\x20question"), "helper: message logged too");
	/* The user name in that line came from the client: quotes, '%',
	 * backslash, bidi and zero-width code points are escaped. */
	ta_capture_start(&cap, dir);
	ok(pam("chatty", "q\"%\\\xe2\x80\xae\xe2\x80\x8bz", "x", final, &reason) == AUTH_RESULT_FAIL,
	   "chatty stack, hostile user name: FAIL");
	ok(ta_capture_has(&cap, "for q\\x22\\x25\\x5c\\xe2\\x80\\xae\\xe2\\x80\\x8bz:"),
	   "the user name in the module's log line is escaped");
	ta_capture_start(&cap, dir);
	(void)pam("chatty", "q\"%\\\xe2\x80\xae\xe2\x80\x8bz", "x", final, &reason);
	ok(!ta_capture_has(&cap, "\xe2\x80\xae"), "no raw bidi override reaches the log");
	/* libpam's own failure delay (pam_unix asks 2 s) is taken over, so
	 * the leader's deadline is the only one. */
	ok(pam("delayfn", "alice", "wonder land", final, &reason) == AUTH_RESULT_OK,
	   "PAM_FAIL_DELAY is set before pam_authenticate (%s)", reason);
	ok(helper("delayfn", "alice", "wrong", &res) == AUTH_RESULT_FAIL,
	   "helper: PAM_FAIL_DELAY set, wrong password is a plain FAIL");

	ok(pam("conv32", "alice", "pw", final, &reason) == AUTH_RESULT_OK,
	   "32 password prompts at once (PAM_MAX_NUM_MSG) all answered");
	ok(pam("conv32", "alice", "other", final, &reason) == AUTH_RESULT_FAIL,
	   "the answers really are the password");
	ok(pam("echoon", "dave", "pw", final, &reason) == AUTH_RESULT_OK &&
	   strcmp(final, "dave") == 0, "PAM_PROMPT_ECHO_ON is answered with the user name");
	ok(pam("conv0", "alice", "pw", final, &reason) == AUTH_RESULT_TEMPFAIL,
	   "num_msg 0: conversation error, TEMPFAIL");
	ok(pam("conv33", "alice", "pw", final, &reason) == AUTH_RESULT_TEMPFAIL,
	   "num_msg 33 (> PAM_MAX_NUM_MSG): conversation error, TEMPFAIL");
	ok(pam("convbin", "alice", "pw", final, &reason) == AUTH_RESULT_TEMPFAIL,
	   "unknown message style: conversation error, TEMPFAIL");
	ok(helper("conv33", "alice", "pw", &res) == AUTH_RESULT_TEMPFAIL,
	   "helper: conversation error stays TEMPFAIL");
}

/* Modules that misbehave inside the helper: the leader must believe
 * nothing but one well-formed frame followed by a clean exit. */
static void test_bad_helper(void)
{
	struct authhelper_res res = { .reason = "" };

	ok(helper("forge", "alice", "wonder land", &res) == AUTH_RESULT_TEMPFAIL &&
	   res.user[0] == '\0', "module forges an \"OK mallory\" frame before the real one: "
	   "TEMPFAIL (%s)", res.reason);
	ok(helper("forge", "alice", "bad", &res) == AUTH_RESULT_TEMPFAIL && res.user[0] == '\0',
	   "forged OK with a wrong password: still no login (%s)", res.reason);
	ok(helper("exit0", "alice", "wonder land", &res) == AUTH_RESULT_TEMPFAIL,
	   "helper exits 0 without a frame: TEMPFAIL (%s)", res.reason);
	ok(helper("exit3", "alice", "wonder land", &res) == AUTH_RESULT_TEMPFAIL,
	   "helper exits 3 without a frame: TEMPFAIL (%s)", res.reason);
	/* under ASan the SIGSEGV becomes a report and exit status 1 */
	ok(helper("crash", "alice", "wonder land", &res) == AUTH_RESULT_TEMPFAIL &&
	   (strstr(res.reason, "signal") || strstr(res.reason, "failed")),
	   "helper dies of SIGSEGV: TEMPFAIL (%s)", res.reason);
}

static int copy_file(const char *from, const char *todir, const char *name)
{
	char text[65536];
	FILE *f = fopen(from, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	ta_write(todir, name, text);
	return 0;
}

static void test_shipped_policy(void)
{
	char name[32], src[TA_PATH], final[FRAME_USER_MAX + 1];
	const char *top = getenv("top_srcdir");
	struct authhelper_res res;
	const char *reason;

	if (geteuid() != 0) {
		ok(1, "# SKIP the shipped policy with pam_unix needs root");
		return;
	}
	if (!top) {
		ok(1, "# SKIP top_srcdir not set (run through make check)");
		return;
	}
	snprintf(src, sizeof src, "%s/pam.d/popa3d", top);
	if (copy_file(src, dir, "popa3d") < 0 ||
	    copy_file("/etc/pam.d/common-auth", dir, "common-auth") < 0 ||
	    copy_file("/etc/pam.d/common-account", dir, "common-account") < 0) {
		ok(0, "copy pam.d/popa3d and the system's common-* stacks");
		return;
	}
	snprintf(name, sizeof name, "p3dpam%ld", (long)getpid());
	if (ta_user_add(name, "Unix pw 9") != 0) {
		ok(0, "useradd/chpasswd %s", name);
		ta_user_del(name);
		return;
	}
	ok(pam("popa3d", name, "Unix pw 9", final, &reason) == AUTH_RESULT_OK &&
	   strcmp(final, name) == 0, "pam.d/popa3d + pam_unix: real account in");
	ok(pam("popa3d", name, "Unix pw 8", final, &reason) == AUTH_RESULT_FAIL,
	   "pam.d/popa3d + pam_unix: wrong password FAIL");
	ok(helper("popa3d", name, "Unix pw 9", &res) == AUTH_RESULT_OK &&
	   strcmp(res.user, name) == 0, "helper + pam.d/popa3d: real account in");
	ok(helper("popa3d", "p3dnobodyhere", "Unix pw 9", &res) == AUTH_RESULT_FAIL,
	   "helper + pam.d/popa3d: unknown user FAIL");
	ta_user_del(name);
}

int main(void)
{
	if (!auth_pam_available())
		tap_skip_all("built without PAM");
#ifndef HAVE_PAM_START_CONFDIR
	tap_skip_all("libpam has no pam_start_confdir");
#endif
	if (find_matrix() < 0)
		tap_skip_all("pam_matrix.so (libpam-wrapper) not installed");
	log_open(1);
	setup();
	test_matrix();
	test_rename();
	test_conversation();
	test_bad_helper();
	test_shipped_policy();
	ta_rmtree(dir);
	return tap_done();
}
