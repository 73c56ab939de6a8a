/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The privilege drops, for real, as root: every case forks a child that
 * drops and then probes, and the parent judges by the child's wait
 * status (a forbidden system call either fails or kills the child with
 * SIGSYS) or by the /proc/self/status lines the child sends back.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/random.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "buf.h"
#include "frame.h"
#include "log.h"
#include "sandbox.h"
#include "sysio.h"
#include "test-auth.h"

static char empty[TA_PATH], empty_log[TA_PATH];
/* What run_probe's children pass as their highest descriptor (above
 * any the test holds), and so the RLIMIT_NOFILE they must end up with. */
static int probe_maxfd = 32;
static int probe_nofile;

/* Probe results a child reports with its exit status; fatal() exits 1,
 * which is how the sandbox refuses. */
enum { PROBE_DENIED = 0, PROBE_NO_SANDBOX = 1, PROBE_ALLOWED = 10 };

typedef int (*probe_fn)(void);

/* Run probe in a sandboxed child: "denied" when it returned DENIED or
 * died of SIGSYS; *sig tells which. */
static int run_probe(const char *user, const char *dir, probe_fn probe, int *sig)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ta_die("fork");
	if (pid == 0) {
		sandbox_preauth(user, dir, probe_maxfd);
		_exit(probe());
	}
	if (waitpid(pid, &st, 0) < 0)
		ta_die("waitpid");
	*sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	if (WIFSIGNALED(st))
		return WTERMSIG(st) == SIGSYS ? PROBE_DENIED : -WTERMSIG(st);
	return WEXITSTATUS(st);
}

static int probe_open_shadow(void)
{
	return open("/etc/shadow", O_RDONLY) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_open_dot(void)
{
	return open(".", O_RDONLY | O_DIRECTORY) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_socket(void)
{
	return socket(AF_INET, SOCK_STREAM, 0) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return pid < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_exec(void)
{
	execl("/bin/true", "true", (char *)NULL);
	return PROBE_DENIED;
}

static int probe_setuid(void)
{
	return setuid(0) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_kill(void)
{
	return kill(1, 0) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

/* abort() may signal its own process only: never a neighbour. */
static int probe_tgkill_other(void)
{
	pid_t parent = getppid();

	return syscall(SYS_tgkill, parent, parent, 0) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_exec_memory(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_escape_chroot(void)
{
	return access("/etc/passwd", F_OK) < 0 && access("/tmp", F_OK) < 0 ?
	       PROBE_DENIED : PROBE_ALLOWED;
}

/* RLIMIT_NOFILE is the highest descriptor held plus one (seen through
 * F_DUPFD, which the filter allows: getrlimit it does not). */
static int probe_nofile_limit(void)
{
	int below = fcntl(0, F_DUPFD, probe_nofile - 1);
	int at = fcntl(0, F_DUPFD, probe_nofile);

	return below == probe_nofile - 1 && at < 0 && errno == EINVAL ? PROBE_ALLOWED : 31;
}

/* What AUTHORIZATION does: allocate, format, read and write descriptors
 * it holds, poll, read clocks, sleep, log, send a frame.  Must survive. */
static int probe_normal_work(void)
{
	struct timespec ts = { 0, 1000000 };
	struct frame f;
	unsigned char *big;
	const char *why;
	char line[64];
	unsigned char rnd[16];
	time_t now;
	struct tm tm;
	/* the pipe was opened before the drop, on 3 and 4 (test_preauth) */
	int p[2] = { 3, 4 };

	big = malloc(1 << 20);
	if (!big)
		return 20;
	memset(big, 'x', 1 << 20);
	free(big);
	snprintf(line, sizeof line, "uid %ld", (long)getuid());
	log_msg(LOG_DEBUG, "sandbox probe: %s", line);
	fprintf(stderr, "# sandbox probe on stderr: %s\n", line);
	fflush(stderr);
	now = time(NULL);
	if (!localtime_r(&now, &tm))
		return 24;
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return 25;
	nanosleep(&ts, NULL);
	(void)io_now_ms();
	if (io_wait(p[0], POLLIN, io_now_ms() + 1) != 0)
		return 26;
	frame_init(&f, FRAME_AUTH_REPLY);
	if (frame_put_byte(&f, FRAME_AUTH_OK) < 0 || frame_send(p[1], &f) < 0)
		return 21;
	if (frame_recv(p[0], &f, io_now_ms() + 2000, &why) < 0)
		return 22;
	if (getuid() == 0 || geteuid() == 0)
		return 23;
	return PROBE_ALLOWED;
}

static void test_preauth(const char *how)
{
	static const struct {
		const char *name;
		probe_fn fn;
	} denied[] = {
		{ "open(\"/etc/shadow\")", probe_open_shadow },
		{ "open(\".\") inside the chroot", probe_open_dot },
		{ "socket()", probe_socket },
		{ "fork()", probe_fork },
		{ "execve()", probe_exec },
		{ "setuid(0)", probe_setuid },
		{ "kill(1, 0)", probe_kill },
		{ "tgkill() on another process", probe_tgkill_other },
		{ "mmap(PROT_EXEC)", probe_exec_memory },
		{ "paths outside the chroot", probe_escape_chroot },
	};
	int sig, r, p[2];

	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		r = run_probe("nobody", empty, denied[i].fn, &sig);
		ok(r == PROBE_DENIED, "pre-auth child, %s: %s denied (%s)", how, denied[i].name,
		   sig ? "killed by SIGSYS" : "call failed");
	}

	probe_nofile = probe_maxfd + 1;
	r = run_probe("nobody", empty, probe_nofile_limit, &sig);
	ok(r == PROBE_ALLOWED, "pre-auth child, %s: RLIMIT_NOFILE is the given highest "
	   "descriptor + 1 (status %d)", how, r);

	/* The pipe sits on descriptors 3 and 4, as the leader's would. */
	if (pipe(p) < 0 || dup2(p[0], 3) < 0 || dup2(p[1], 4) < 0)
		ta_die("pipe");
	if (p[0] != 3 && p[0] != 4)
		close(p[0]);
	if (p[1] != 3 && p[1] != 4)
		close(p[1]);
	r = run_probe("nobody", empty, probe_normal_work, &sig);
	ok(r == PROBE_ALLOWED, "pre-auth child, %s: malloc, log, sleep, frames on its pipe all work "
	   "(status %d)", how, r);
	close(3);
	close(4);

	/* A crash must look like a crash (SIGABRT), not like a sandbox kill. */
	fflush(stdout);
	{
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			sandbox_preauth("nobody", empty, probe_maxfd);
			abort();
		}
		ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) &&
		   WTERMSIG(st) == SIGABRT, "pre-auth child, %s: abort() still raises SIGABRT", how);
	}
}

static void test_preauth_refusals(void)
{
	char bad[TA_PATH], file[TA_PATH], link[TA_PATH];
	int sig;

	ok(run_probe("root", empty, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "pre-auth user root refused");
	ok(run_probe("p3d-no-such-user", empty, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "unknown pre-auth user refused");
	struct ta_capture cap;

	ta_tmpdir(bad, sizeof bad, "sbx-bad");
	if (chmod(bad, 0777) < 0)
		ta_die("chmod");
	ta_capture_start(&cap, empty_log);
	ok(run_probe("nobody", bad, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "world-writable chroot refused");
	ok(ta_capture_has(&cap, "not writable by group or others"),
	   "the refusal says why in the log");
	if (chmod(bad, 0775) < 0)
		ta_die("chmod");
	ok(run_probe("nobody", bad, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "group-writable chroot refused");
	if (chmod(bad, 0755) < 0 || chown(bad, 65534, 65534) < 0)
		ta_die("chown");
	ok(run_probe("nobody", bad, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "chroot owned by another user refused");
	if (chown(bad, 0, 0) < 0)
		ta_die("chown");
	ta_write(bad, "planted", "x");
	ta_capture_start(&cap, empty_log);
	ok(run_probe("nobody", bad, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "non-empty chroot refused");
	ok(ta_capture_has(&cap, "must be empty"), "log: the chroot must be empty");
	ta_path(file, sizeof file, bad, "planted");
	ok(run_probe("nobody", file, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "a file as chroot refused");
	ta_path(link, sizeof link, bad, "link");
	unlink(file);
	if (symlink(empty, link) < 0)
		ta_die("symlink");
	ok(run_probe("nobody", link, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "a symlink as chroot refused (O_NOFOLLOW)");
	ok(run_probe("nobody", "/nonexistent/empty", probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "missing chroot refused");
	ta_rmtree(bad);
}

/* The listener's preparation: user and directory checked once, fully;
 * each child then repeats the cheap part (owner and mode). */
static void test_preauth_prepare(void)
{
	char dir[TA_PATH], file[TA_PATH];
	struct buf err;
	int sig;

	buf_init(&err, 256);
	ok(sandbox_preauth_prepare("root", empty, &err) < 0 &&
	   strstr(buf_cstr(&err), "uid or gid 0"), "prepare: pre-auth user root refused (%s)",
	   buf_cstr(&err));
	buf_reset(&err);
	ok(sandbox_preauth_prepare("p3d-no-such-user", empty, &err) < 0 &&
	   strstr(buf_cstr(&err), "p3d-no-such-user"), "prepare: unknown user refused (%s)",
	   buf_cstr(&err));
	buf_reset(&err);
	ta_tmpdir(dir, sizeof dir, "sbx-prep");
	ta_write(dir, "planted", "x");
	ok(sandbox_preauth_prepare("nobody", dir, &err) < 0 &&
	   strstr(buf_cstr(&err), "must be empty"), "prepare: non-empty directory refused (%s)",
	   buf_cstr(&err));
	buf_reset(&err);
	ta_path(file, sizeof file, dir, "planted");
	unlink(file);
	if (chmod(dir, 0777) < 0)
		ta_die("chmod");
	ok(sandbox_preauth_prepare("nobody", dir, &err) < 0 &&
	   strstr(buf_cstr(&err), "not writable"), "prepare: world-writable directory refused (%s)",
	   buf_cstr(&err));
	buf_reset(&err);
	ok(sandbox_preauth_prepare("nobody", "/nonexistent/empty", &err) < 0 &&
	   strstr(buf_cstr(&err), "/nonexistent/empty"), "prepare: missing directory refused (%s)",
	   buf_cstr(&err));
	buf_reset(&err);
	/* A refused preparation keeps the one before (a refused SIGHUP). */
	ok(run_probe("nobody", empty, probe_open_shadow, &sig) == PROBE_DENIED,
	   "after refused preparations the prepared child still runs sandboxed");

	if (chmod(dir, 0755) < 0)
		ta_die("chmod");
	ok(sandbox_preauth_prepare("nobody", dir, &err) == 0, "prepare: a good directory (%s)",
	   buf_cstr(&err));
	ok(run_probe("nobody", dir, probe_open_shadow, &sig) == PROBE_DENIED,
	   "prepared child runs sandboxed");
	/* Owner and mode are still looked at by every child. */
	if (chmod(dir, 0777) < 0)
		ta_die("chmod");
	ok(run_probe("nobody", dir, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "prepared directory made world-writable later: the child refuses");
	if (chmod(dir, 0755) < 0)
		ta_die("chmod");
	/* A child for another user or directory does the whole check. */
	ta_write(empty, "planted", "x");
	ok(run_probe("nobody", empty, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "a directory other than the prepared one is read in the child: non-empty refused");
	ta_path(file, sizeof file, empty, "planted");
	unlink(file);
	ok(run_probe("root", dir, probe_open_shadow, &sig) == PROBE_NO_SANDBOX,
	   "a user other than the prepared one is looked up in the child: root refused");
	ok(sandbox_preauth_prepare("nobody", empty, &err) == 0, "prepare again for the test chroot");
	ta_rmtree(dir);
	buf_free(&err);
}

/* Drop to name in a child that first holds root's groups plus mail, and
 * send back the Uid/Gid/Groups lines of /proc/self/status and whether it
 * is still dumpable and can get root back. */
static int become(const char *name, char *out, size_t size)
{
	int p[2], st;
	pid_t pid;
	ssize_t n;
	size_t got = 0;

	if (pipe(p) < 0)
		ta_die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ta_die("fork");
	if (pid == 0) {
		struct group *mail = getgrnam("mail");
		gid_t leader[2] = { 0, mail ? mail->gr_gid : 8 };
		struct passwd *pw = getpwnam(name);
		char line[4096];	/* a whole Groups: line, 70 groups and more */
		FILE *f;

		close(p[0]);
		if (setgroups(2, leader) < 0 || !pw)
			_exit(3);
		sandbox_become_user(pw);	/* fatal() exits 1 */
		f = fopen("/proc/self/status", "r");
		if (!f)
			_exit(4);
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) ||
			    !strncmp(line, "Groups:", 7))
				if (write(p[1], line, strlen(line)) < 0)
					_exit(5);
		fclose(f);
		snprintf(line, sizeof line, "dumpable=%d setuid0=%d\n",
			 prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), setuid(0) == 0);
		if (write(p[1], line, strlen(line)) < 0)
			_exit(5);
		_exit(0);
	}
	close(p[1]);
	while (got + 1 < size && (n = read(p[0], out + got, size - got - 1)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	if (waitpid(pid, &st, 0) < 0)
		ta_die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* "Groups:" line as a set: 1 if gid is in it. */
static int has_group(const char *status, long gid)
{
	const char *g = strstr(status, "Groups:");
	char *end;

	if (!g)
		return 0;
	g += 7;
	while (*g && *g != '\n') {
		long v = strtol(g, &end, 10);

		if (end == g) {
			g++;
			continue;
		}
		if (v == gid)
			return 1;
		g = end;
	}
	return 0;
}

static void test_become_user(void)
{
	char status[8192], name[32], want[128];
	struct group *mail = getgrnam("mail");
	long mail_gid = mail ? (long)mail->gr_gid : 8;
	struct passwd *pw;
	int r;

	r = become("nobody", status, sizeof status);
	ok(r == 0, "become nobody: child exited %d", r);
	ok(strstr(status, "Uid:\t65534\t65534\t65534\t65534\n") != NULL,
	   "become nobody: real, effective, saved and fs uid all 65534");
	ok(strstr(status, "Gid:\t65534\t65534\t65534\t65534\n") != NULL,
	   "become nobody: all gids 65534");
	ok(has_group(status, 65534) && !has_group(status, 0) && !has_group(status, mail_gid),
	   "become nobody: groups are nobody's only (root's and mail dropped)");
	ok(strstr(status, "dumpable=0 setuid0=0") != NULL,
	   "become nobody: not dumpable, setuid(0) fails");

	snprintf(name, sizeof name, "p3dsb%ld", (long)getpid());
	{
		const char *add[] = { "/usr/sbin/useradd", "-M", "-N", "-G", "mail", "-s",
				"/usr/sbin/nologin", name, NULL };

		if (ta_run_retry(add, NULL) != 0) {
			ok(0, "useradd -G mail %s", name);
			return;
		}
	}
	pw = getpwnam(name);
	r = become(name, status, sizeof status);
	ok(r == 0 && pw, "become %s (member of mail): child exited %d", name, r);
	snprintf(want, sizeof want, "Uid:\t%ld\t%ld\t%ld\t%ld\n", pw ? (long)pw->pw_uid : -1L,
		 pw ? (long)pw->pw_uid : -1L, pw ? (long)pw->pw_uid : -1L,
		 pw ? (long)pw->pw_uid : -1L);
	ok(strstr(status, want) != NULL, "become %s: uids", name);
	ok(pw && has_group(status, (long)pw->pw_gid) && has_group(status, mail_gid) &&
	   !has_group(status, 0), "become %s: own primary group and mail, not root's", name);
	ta_user_del(name);

	/* More groups than the first getgrouplist() call has room for. */
	{
		char gname[40], list[70 * 40] = "";
		int made = 0, all = 1;

		for (int i = 0; i < 70; i++) {
			const char *gadd[] = { "/usr/sbin/groupadd", gname, NULL };

			snprintf(gname, sizeof gname, "p3dg%ld-%d", (long)getpid() % 100000, i);
			if (ta_run_retry(gadd, NULL) != 0)
				break;
			made++;
			if (i)
				strncat(list, ",", sizeof list - strlen(list) - 1);
			strncat(list, gname, sizeof list - strlen(list) - 1);
		}
		if (made == 70) {
			const char *add[] = { "/usr/sbin/useradd", "-M", "-N", "-G", list, "-s",
					"/usr/sbin/nologin", name, NULL };

			if (ta_run_retry(add, NULL) == 0) {
				r = become(name, status, sizeof status);
				for (int i = 0; i < 70; i++) {
					struct group *gr;

					snprintf(gname, sizeof gname, "p3dg%ld-%d", (long)getpid() % 100000, i);
					gr = getgrnam(gname);
					if (!gr || !has_group(status, (long)gr->gr_gid))
						all = 0;
				}
				ok(r == 0 && all, "become %s (70 groups): every group set", name);
				ta_user_del(name);
			} else {
				ok(0, "useradd -G <70 groups> %s", name);
			}
		} else {
			ok(0, "groupadd 70 groups (%d made)", made);
		}
		for (int i = 0; i < made; i++) {
			const char *gdel[] = { "/usr/sbin/groupdel", gname, NULL };

			snprintf(gname, sizeof gname, "p3dg%ld-%d", (long)getpid() % 100000, i);
			(void)ta_run_retry(gdel, NULL);
		}
	}

	ok(become("root", status, sizeof status) == 1, "become root refused (fatal)");
}

int main(void)
{
	if (geteuid() != 0)
		tap_skip_all("the sandbox tests need root");
	if (!getpwnam("nobody"))
		tap_skip_all("no user nobody");
	log_open(1);
	ta_tmpdir(empty, sizeof empty, "sbx-empty");
	ta_tmpdir(empty_log, sizeof empty_log, "sbx-log");
	test_preauth("filter built in the child");
	/* The listener's way: compiled once, loaded with the child's pid. */
#ifdef HAVE_SECCOMP
	ok(sandbox_prepare() == 1, "seccomp filter compiled once, its pid slot found");
#else
	ok(sandbox_prepare() == 0, "no seccomp: nothing to prepare");
#endif
	test_preauth("filter prepared by the parent");
	{
		struct buf err;

		buf_init(&err, 256);
		ok(sandbox_preauth_prepare("nobody", empty, &err) == 0,
		   "pre-auth user and chroot prepared (%s)", buf_cstr(&err));
		buf_free(&err);
	}
	/* The leader's way: ids looked up once, the highest descriptor given. */
	probe_maxfd = 64;
	test_preauth("user, chroot and filter prepared");
	test_preauth_prepare();
	test_preauth_refusals();
	test_become_user();
	ta_rmtree(empty);
	ta_rmtree(empty_log);
	return tap_done();
}
