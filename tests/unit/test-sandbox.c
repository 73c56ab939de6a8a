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
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* Probe results a child reports with its exit status; fatal() exits 1,
 * which is how the sandbox refuses. */
enum { PROBE_DENIED = 0, PROBE_NO_SANDBOX = 1, PROBE_ALLOWED = 10 };

typedef int (*probe_fn)(void);

#ifdef HAVE_SECCOMP
#define HAVE_FILTER 1
#else
#define HAVE_FILTER 0
#endif

struct probe_case {
	const char *name;
	probe_fn fn;
};

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

/* Real-time signals queue against the uid's RLIMIT_SIGPENDING, which
 * every pre-auth process shares: not even to itself. */
static int probe_tgkill_self_rt(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return 29;
	return syscall(SYS_tgkill, getpid(), getpid(), SIGRTMIN) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
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

/*
 * A sandboxed child that waits: until EOF on *go when go is given (the
 * caller closes it), else until killed.  Returns once the child has
 * dropped, so /proc shows it sandboxed.
 */
static pid_t start_sandboxed(int *go)
{
	int ready[2], g[2] = { -1, -1 };
	char c;
	pid_t pid;

	if (pipe(ready) < 0 || (go && pipe(g) < 0))
		ta_die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ta_die("fork");
	if (pid == 0) {
		close(ready[0]);
		if (go)
			close(g[1]);
		sandbox_preauth("nobody", empty, probe_maxfd);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (go) {
			while (read(g[0], &c, 1) > 0)
				;
			_exit(0);
		}
		for (;;)
			poll(NULL, 0, -1);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		ta_die("the sandboxed child did not start");
	close(ready[0]);
	if (go) {
		close(g[0]);
		*go = g[1];
	}
	return pid;
}

/*
 * RLIMIT_NOFILE of a sandboxed child, read by the parent from
 * /proc/PID/limits while the child waits (the filter allows neither
 * getrlimit nor fcntl(F_DUPFD) to look from the inside).
 */
static long sandboxed_nofile(void)
{
	char path[64], line[256];
	long soft = -1, hard = -2;
	int go, st;
	pid_t pid = start_sandboxed(&go);
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/limits", (long)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Max open files %ld %ld", &soft, &hard) == 2)
			break;
	if (f)
		fclose(f);
	close(go);
	if (waitpid(pid, &st, 0) < 0)
		ta_die("waitpid");
	return soft == hard ? soft : -1;
}

/*
 * Reaching other processes of the pre-auth uid (the other clients'
 * children, the TLS relays of logged-in users) through the kernel's
 * asynchronous I/O signals: sbx_a and sbx_b are the two ends of a
 * socketpair the child holds, victim another sandboxed child.
 */
static int sbx_a = -1, sbx_b = -1;
static pid_t victim, victim_pgrp;

static int probe_setown(void)
{
	return fcntl(sbx_a, F_SETOWN, victim) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_setown_pgrp(void)
{
	return fcntl(sbx_a, F_SETOWN, -victim_pgrp) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_setown_ex(void)
{
	struct f_owner_ex o = { F_OWNER_PID, victim };

	return fcntl(sbx_a, F_SETOWN_EX, &o) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_setsig(void)
{
	return fcntl(sbx_a, F_SETSIG, SIGKILL) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_async(void)
{
	return fcntl(sbx_a, F_SETFL, O_ASYNC | O_NONBLOCK) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_setlease(void)
{
	return fcntl(sbx_a, F_SETLEASE, F_RDLCK) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_notify(void)
{
	return fcntl(sbx_a, F_NOTIFY, DN_MODIFY) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_dupfd(void)
{
	return fcntl(sbx_a, F_DUPFD, 0) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

/* The whole attack of issue 14: owner, signal, O_ASYNC, one write. */
static int probe_signal_attack(void)
{
	int r = 0;

	r |= fcntl(sbx_a, F_SETOWN, victim);
	r |= fcntl(sbx_a, F_SETSIG, SIGKILL);
	r |= fcntl(sbx_a, F_SETFL, O_ASYNC | O_NONBLOCK);
	if (write(sbx_b, "x", 1) != 1)
		r = -1;
	return r < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

/* A test "syslogd" on a path, and an abstract-namespace socket that a
 * subverted child must not reach (the chroot does not hide it). */
static int fake_syslog = -1, abstract_sock = -1;
static char fake_syslog_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct sockaddr_un abstract_sa;
static socklen_t abstract_len;

static int probe_sendto_abstract(void)
{
	static const char forged[] = "<13>Jan  1 00:00:00 popa3d[1]: forged";

	return sendto(log_fd(), forged, sizeof forged - 1, 0,
		      (const struct sockaddr *)&abstract_sa, abstract_len) < 0 ?
	       PROBE_DENIED : PROBE_ALLOWED;
}

static int probe_sendmsg_abstract(void)
{
	struct iovec iov = { (void *)(uintptr_t)"forged", 6 };
	struct msghdr mh;

	memset(&mh, 0, sizeof mh);
	mh.msg_name = &abstract_sa;
	mh.msg_namelen = abstract_len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	return sendmsg(log_fd(), &mh, 0) < 0 ? PROBE_DENIED : PROBE_ALLOWED;
}

/* The log client on its connected socket, and send() on a socket. */
static int probe_log(void)
{
	log_msg(LOG_NOTICE, "sandbox log probe %ld", (long)getpid());
	return send(sbx_b, "y", 1, MSG_NOSIGNAL) == 1 ? PROBE_ALLOWED : 27;
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
	/* the one fcntl change the code makes (io_set_nonblock) */
	if (io_set_nonblock(p[1], 1) < 0 || io_set_nonblock(p[1], 0) < 0)
		return 28;
	frame_init(&f, FRAME_AUTH_REPLY);
	if (frame_put_byte(&f, FRAME_AUTH_OK) < 0 || frame_send(p[1], &f) < 0)
		return 21;
	if (frame_recv(p[0], &f, io_now_ms() + 2000, &why) < 0)
		return 22;
	if (getuid() == 0 || geteuid() == 0)
		return 23;
	return PROBE_ALLOWED;
}

/* 1 if pid is still running (not exited, not killed). */
static int still_alive(pid_t pid)
{
	int st;

	return waitpid(pid, &st, WNOHANG) == 0;
}

static void stop_victim(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/* Nothing waiting on s (a datagram socket): 1. */
static int nothing_received(int s)
{
	char b[512];

	return recv(s, b, sizeof b, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/*
 * Issue 14, findings 3 and 4: nothing the child can do reaches another
 * process of its uid or another socket on the host.  Each refusal must
 * come from the filter (SIGSYS), not from the kernel finding the call
 * pointless.
 */
static void test_preauth_reach(const char *how)
{
	static const struct probe_case killed[] = {
		{ "fcntl(F_SETOWN, another pre-auth child)", probe_setown },
		{ "fcntl(F_SETOWN, -process group)", probe_setown_pgrp },
		{ "fcntl(F_SETOWN_EX)", probe_setown_ex },
		{ "fcntl(F_SETSIG, SIGKILL)", probe_setsig },
		{ "fcntl(F_SETFL, O_ASYNC)", probe_async },
		{ "fcntl(F_SETLEASE)", probe_setlease },
		{ "fcntl(F_NOTIFY)", probe_notify },
		{ "fcntl(F_DUPFD)", probe_dupfd },
		{ "tgkill() of a real-time signal to itself", probe_tgkill_self_rt },
		{ "sendto() an abstract AF_UNIX name on the syslog socket", probe_sendto_abstract },
		{ "sendmsg() with an address", probe_sendmsg_abstract },
	};
	int sv[2], sig, r;
	char got[512];
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		ta_die("socketpair");
	sbx_a = sv[0];
	sbx_b = sv[1];
	victim = start_sandboxed(NULL);	/* another client's pre-auth child */
	victim_pgrp = getpgrp();
	/* The children's syslog socket is connected to our "syslogd" (only
	 * here: nobody reads it elsewhere, and a full queue blocks). */
	log_set_socket_path(fake_syslog_path);
	log_refresh();
	if (log_fd() < 0)
		ta_die("cannot connect to the test syslog socket");
	if (!HAVE_FILTER) {
		ok(1, "# SKIP no seccomp: a subverted pre-auth child can signal its uid's processes");
	} else {
		for (size_t i = 0; i < sizeof killed / sizeof killed[0]; i++) {
			r = run_probe("nobody", empty, killed[i].fn, &sig);
			ok(r == PROBE_DENIED && sig == SIGSYS, "pre-auth child, %s: %s killed by the "
			   "filter (status %d, signal %d)", how, killed[i].name, r, sig);
		}
		r = run_probe("nobody", empty, probe_signal_attack, &sig);
		ok(r == PROBE_DENIED && still_alive(victim), "pre-auth child, %s: F_SETOWN + F_SETSIG + "
		   "O_ASYNC + write against another pre-auth child: refused, and it survives", how);
		ok(nothing_received(abstract_sock), "pre-auth child, %s: the abstract socket got "
		   "nothing", how);
	}
	/* the earlier probes' lines (and refusals) first: a full queue drops */
	while (recv(fake_syslog, got, sizeof got, MSG_DONTWAIT) > 0)
		;
	r = run_probe("nobody", empty, probe_log, &sig);
	n = recv(fake_syslog, got, sizeof got - 1, MSG_DONTWAIT);
	got[n > 0 ? n : 0] = '\0';
	ok(r == PROBE_ALLOWED && strstr(got, "popa3d[") && strstr(got, "sandbox log probe"),
	   "pre-auth child, %s: the log client still works, on its connected socket "
	   "(status %d, fd %d: %.60s)", how, r, log_fd(), got);
	while (recv(sbx_a, got, sizeof got, MSG_DONTWAIT) > 0)
		;
	stop_victim(victim);
	log_set_socket_path("/dev/log");
	log_refresh();
	close(sv[0]);
	close(sv[1]);
}

static void test_preauth(const char *how)
{
	static const struct probe_case denied[] = {
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

	{
		long n = sandboxed_nofile();

		ok(n == probe_maxfd + 1, "pre-auth child, %s: RLIMIT_NOFILE is the given highest "
		   "descriptor + 1 (%ld)", how, n);
	}
	test_preauth_reach(how);

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
	ok(ta_capture_has(&cap, "writable by nobody else"),
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
	   strstr(buf_cstr(&err), "writable by nobody else"), "prepare: world-writable directory refused (%s)",
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
	int n;

	if (geteuid() != 0)
		tap_skip_all("the sandbox tests need root");
	if (!getpwnam("nobody"))
		tap_skip_all("no user nobody");
	log_open(1);
	ta_tmpdir(empty, sizeof empty, "sbx-empty");
	ta_tmpdir(empty_log, sizeof empty_log, "sbx-log");
	{
		/* Not on 3 and 4: test_preauth puts its pipe there. */
		int hold3 = open("/dev/null", O_RDONLY), hold4 = open("/dev/null", O_RDONLY);
		struct sockaddr_un sa;

		memset(&sa, 0, sizeof sa);
		sa.sun_family = AF_UNIX;
		if (strlen(empty_log) + sizeof "/log" > sizeof sa.sun_path)
			ta_die("temporary directory name too long for a socket");
		memcpy(sa.sun_path, empty_log, strlen(empty_log));
		memcpy(sa.sun_path + strlen(empty_log), "/log", sizeof "/log");
		fake_syslog = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fake_syslog < 0 || bind(fake_syslog, (struct sockaddr *)&sa, sizeof sa) < 0)
			ta_die("syslog socket");
		memcpy(fake_syslog_path, sa.sun_path, sizeof fake_syslog_path);
		memset(&abstract_sa, 0, sizeof abstract_sa);
		abstract_sa.sun_family = AF_UNIX;
		n = snprintf(abstract_sa.sun_path + 1, sizeof abstract_sa.sun_path - 1,
			     "popa3d-test-sandbox-%ld", (long)getpid());
		abstract_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
		abstract_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (abstract_sock < 0 ||
		    bind(abstract_sock, (struct sockaddr *)&abstract_sa, abstract_len) < 0)
			ta_die("abstract socket");
		if (fake_syslog <= 4 || abstract_sock <= 4)
			ta_die("descriptors 3 and 4 were not free");
		close(hold3);
		close(hold4);
	}
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
