/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader, the key holder, the pre-auth child
 * (as root, up to the drop).
 * Privilege drops for the pre-auth child, the key holder and the session;
 * see sandbox.h.
 *
 * Runs as root until the drop is done.  It must never leave a process
 * half-dropped (any failure after the first change is fatal()), never
 * chroot into a directory someone else could fill, and never keep a
 * supplementary group of the leader (root's groups, or mail).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_SECCOMP
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#endif

#include "buf.h"
#include "log.h"
#include "sandbox.h"
#include "sysio.h"

/*
 * What is wrong with fd as the chroot, or NULL.  It must be a root-owned
 * directory that only root may write: a writable one is something the
 * pre-auth child could plant in.  With full, it must also hold nothing
 * (anything in it the child could read); that needs a directory read,
 * so it is done once per configuration (sandbox_preauth_prepare), and
 * each child repeats only the fstat, as OpenSSH does for its privsep
 * directory: nobody but root can fill a directory that passes it.
 */
static const char *sandbox_dir_problem(int fd, int full)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int dfd, extra = 0;

	if (fstat(fd, &st) < 0)
		return "cannot stat it";
	if (!S_ISDIR(st.st_mode))
		return "must be a directory";
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return "must be owned by root and writable by nobody else";
	if (!full)
		return NULL;
	dfd = dup(fd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return "cannot read it";
	}
	errno = 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			extra = 1;
	if (errno)
		extra = 1;
	closedir(d);
	return extra ? "must be empty" : NULL;
}

static void sandbox_rlimit(int what, rlim_t n, const char *name)
{
	struct rlimit rl = { n, n };

	if (setrlimit(what, &rl) < 0)
		fatal("sandbox: setrlimit %s: %m", name);
}

/* The ids must be ours in all three slots, and root must be out of reach. */
static void sandbox_verify(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		fatal("sandbox: getresuid: %m");
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		fatal("sandbox: ids did not change");
	if (setuid(0) != -1 || setgid(0) != -1)
		fatal("sandbox: root is still reachable after the drop");
}

static void sandbox_drop_ids(uid_t uid, gid_t gid)
{
	if (setresgid(gid, gid, gid) < 0)
		fatal("sandbox: setresgid: %m");
	if (setresuid(uid, uid, uid) < 0)
		fatal("sandbox: setresuid: %m");
}

#ifdef HAVE_SECCOMP
/*
 * What the pre-auth child (and the TLS relay it becomes) may do: talk on
 * the descriptors it already holds (client socket, pipe to the leader,
 * the relay's socketpair, syslog), allocate memory, read clocks, sleep,
 * exit.  Nothing that reaches another process or a name in any
 * namespace: no kill, no ptrace, no socket or open, no send with an
 * address (an abstract AF_UNIX name ignores the chroot), no fcntl that
 * makes the kernel signal someone (F_SETOWN + F_SETSIG + O_ASYNC could
 * kill every process of the pre-auth uid: the other clients' children
 * and the TLS relays of logged-in users).  Every rule says why it is
 * there; tests/unit/test-sandbox.c runs each refusal against the real
 * filter.  The sanitizer build adds what ASan/UBSan need to report.
 */
static const int sandbox_allowed[] = {
	SCMP_SYS(read),		/* the client, the leader's frames, the relay */
	SCMP_SYS(write),	/* the same, and OpenSSL's socket BIO */
	SCMP_SYS(writev),	/* io_writev_timeout when the peer is a pipe */
	SCMP_SYS(recvfrom),	/* recv(MSG_PEEK): one line at a time */
	SCMP_SYS(shutdown),	/* the relay passes a half-close on */
	SCMP_SYS(close),	/* its own descriptors only */
	SCMP_SYS(lseek),	/* stdio may seek its stream; moves only its own offset */
	SCMP_SYS(fstat),	/* stdio and OpenSSL look at their descriptors */
	SCMP_SYS(newfstatat),	/* glibc's fstat; paths resolve in the empty chroot */
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(pselect6),	/* deadlines */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),	/* clocks */
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),	/* io_sleep_ms's naps */
	SCMP_SYS(alarm), SCMP_SYS(setitimer),	/* timers signal this process only */
	SCMP_SYS(restart_syscall),	/* the kernel's, after a signal */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),	/* own signals */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),	/* malloc */
	SCMP_SYS(futex),	/* glibc and OpenSSL locks; no memory shared with others */
	SCMP_SYS(getpid), SCMP_SYS(gettid),	/* log lines, abort() */
	SCMP_SYS(getrandom),	/* OpenSSL's random numbers */
	SCMP_SYS(sched_yield),	/* glibc's spin locks */
	SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),	/* libraries ask who they are */
#ifdef POPA3D_SANITIZERS
	SCMP_SYS(sigaltstack), SCMP_SYS(prctl), SCMP_SYS(getrlimit),
	SCMP_SYS(prlimit64), SCMP_SYS(readlink), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getppid), SCMP_SYS(uname),
#endif
};

/* Refused with EACCES rather than death: glibc tries them on its own
 * (syslog reconnecting after a syslogd restart, a late locale or time zone
 * file) and copes with the error.  Either way the call does not happen. */
static const int sandbox_refused[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(socket), SCMP_SYS(connect),
};

/*
 * F_SETFL can change O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME and
 * O_NONBLOCK; the code changes only O_NONBLOCK (io_set_nonblock).
 * O_ASYNC is the one that matters: with F_SETOWN it would signal others.
 */
#define SANDBOX_SETFL_DENIED ((scmp_datum_t)(O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME))

/*
 * Only abort() may signal, and only this process: the rule names the
 * pid.  A filter prepared ahead of time names this stand-in instead,
 * patched to the child's pid when it loads (no pid or syscall number
 * comes near it, and sandbox_prepare checks it occurs exactly once).
 */
#define SANDBOX_PID_SLOT 0x7ffe5eccUL

/* The key holder's control socket (sandbox_keyholder), or -1. */
static int sandbox_recv_fd = -1;

static scmp_filter_ctx sandbox_build(scmp_datum_t self)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t i;
	int rc = 0;

	if (!ctx)
		return NULL;
	/* A tree of comparisons instead of a list: the kernel runs the
	 * filter for every syscall number when it loads (its cache), and
	 * the child for each call it makes. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (i = 0; rc == 0 && i < sizeof sandbox_allowed / sizeof sandbox_allowed[0]; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_allowed[i], 0);
	for (i = 0; rc == 0 && i < sizeof sandbox_refused / sizeof sandbox_refused[0]; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), sandbox_refused[i], 0);
	/* send() on a connected socket (the client, syslog), never to an
	 * address: sendto's destination must be NULL.  sendmsg and recvmsg
	 * are not allowed at all (their address is behind a pointer). */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1,
				      SCMP_A4(SCMP_CMP_EQ, 0));
	/* The key holder takes channels (SCM_RIGHTS) from root leaders on
	 * its control socket, and on that descriptor only: recvmsg's own
	 * address is where the sender's is written, never where data goes. */
	if (rc == 0 && sandbox_recv_fd >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sandbox_recv_fd));
	/* fcntl: read the status flags, and set them without O_ASYNC and
	 * friends.  No F_SETOWN(_EX), F_SETSIG, F_SETLEASE, F_NOTIFY,
	 * F_DUPFD, locks or pipe sizes. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, F_GETFL));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 2,
				      SCMP_A1(SCMP_CMP_EQ, F_SETFL),
				      SCMP_A2(SCMP_CMP_MASKED_EQ, SANDBOX_SETFL_DENIED, 0));
	/* Memory, but never executable memory: no JIT, no shellcode page. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* abort(): SIGABRT to this process.  No other signal, not even to
	 * itself: queued real-time signals count against the uid's limit,
	 * which every pre-auth process shares. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
				      SCMP_A0(SCMP_CMP_EQ, self), SCMP_A2(SCMP_CMP_EQ, SIGABRT));
	if (rc != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

/* The filter compiled once by sandbox_prepare, and where its pid goes. */
static struct sock_filter *sandbox_prog;
static unsigned short sandbox_prog_len;
static size_t sandbox_prog_slot;

int sandbox_prepare(void)
{
	scmp_filter_ctx ctx = sandbox_build(SANDBOX_PID_SLOT);
	struct sock_filter *f = NULL;
	size_t n = 0, slot = 0, hits = 0;
	off_t len;
	int fd = -1;

	if (!ctx)
		goto out;
	fd = memfd_create("popa3d-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) != 0)
		goto out;
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % (off_t)sizeof *f != 0 || len / (off_t)sizeof *f > BPF_MAXINSNS)
		goto out;
	n = (size_t)len / sizeof *f;
	f = malloc((size_t)len);
	if (!f || pread(fd, f, (size_t)len, 0) != (ssize_t)len)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (f[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && f[i].k == SANDBOX_PID_SLOT) {
			slot = i;
			hits++;
		}
	if (hits == 1) {
		sandbox_prog = f;
		sandbox_prog_len = (unsigned short)n;
		sandbox_prog_slot = slot;
		f = NULL;
	}
out:
	/* Any surprise: each child compiles its own filter. */
	if (!sandbox_prog)
		log_msg(LOG_WARNING, "sandbox: no precompiled seccomp filter; each pre-auth child builds its own");
	free(f);
	if (fd >= 0)
		close(fd);
	if (ctx)
		seccomp_release(ctx);
	return sandbox_prog != NULL;
}

static void sandbox_seccomp(void)
{
	scmp_filter_ctx ctx;
	int rc;

	if (sandbox_prog && sandbox_recv_fd < 0) {
		/* Our own copy since fork: patch the pid in, load. */
		struct sock_fprog fp;

		sandbox_prog[sandbox_prog_slot].k = (uint32_t)getpid();
		fp.len = sandbox_prog_len;
		fp.filter = sandbox_prog;
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) < 0)
			fatal("sandbox: seccomp filter: %m");
		return;
	}
	ctx = sandbox_build((scmp_datum_t)getpid());
	if (!ctx)
		fatal("sandbox: cannot build the seccomp filter");
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		errno = -rc;
		fatal("sandbox: seccomp filter: %m");
	}
}
#else
int sandbox_prepare(void)
{
	return 0;
}
#endif

/* The pre-auth identity resolved by sandbox_preauth_prepare, for the
 * user and directory it was resolved for. */
static struct {
	int set;
	uid_t uid;
	gid_t gid;
	char *user, *dir;
} sandbox_prep;

static const char *sandbox_preauth_ids(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(user);

	if (!pw)
		return "no such user (create it: adduser --system --group --no-create-home)";
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return "must not be root or in group root (uid or gid 0)";
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return NULL;
}

static int sandbox_open_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int sandbox_preauth_prepare(const char *user, const char *empty_dir, struct buf *err)
{
	const char *why, *dir_why = NULL;
	uid_t uid;
	gid_t gid;
	char *u, *d;
	int fd;

	/* both checked, so that popa3d -t names both problems at once */
	why = sandbox_preauth_ids(user, &uid, &gid);
	if (why)
		buf_printf(err, "--user %s: %s", user, why);
	fd = sandbox_open_dir(empty_dir);
	if (fd < 0)
		buf_printf(err, "%s--empty-dir %s: not a directory (%s)", why ? "\n" : "",
			   empty_dir, strerror(errno));
	else if ((dir_why = sandbox_dir_problem(fd, 1)) != NULL)
		buf_printf(err, "%s--empty-dir %s: %s", why ? "\n" : "", empty_dir, dir_why);
	if (fd >= 0)
		close(fd);
	if (why || fd < 0 || dir_why)
		return -1;
	u = xstrdup(user);
	d = xstrdup(empty_dir);
	free(sandbox_prep.user);
	free(sandbox_prep.dir);
	sandbox_prep.user = u;
	sandbox_prep.dir = d;
	sandbox_prep.uid = uid;
	sandbox_prep.gid = gid;
	sandbox_prep.set = 1;
	return 0;
}

void sandbox_preauth(const char *user, const char *empty_dir, int maxfd)
{
	const char *why;
	uid_t uid;
	gid_t gid;
	int fd, prepared;

	prepared = sandbox_prep.set && strcmp(sandbox_prep.user, user) == 0 &&
	    strcmp(sandbox_prep.dir, empty_dir) == 0;
	if (prepared) {
		uid = sandbox_prep.uid;
		gid = sandbox_prep.gid;
	} else if ((why = sandbox_preauth_ids(user, &uid, &gid)) != NULL) {
		fatal("sandbox: the pre-auth user %s: %s", user, why);
	}
	fd = sandbox_open_dir(empty_dir);
	if (fd < 0)
		fatal("sandbox: cannot open the empty directory %s: %m", empty_dir);
	why = sandbox_dir_problem(fd, !prepared);
	if (why)
		fatal("sandbox: the empty directory %s %s", empty_dir, why);
	/* The directory checked is the directory entered: fchdir on the
	 * same descriptor, no second path lookup to race. */
	if (fchdir(fd) < 0)
		fatal("sandbox: fchdir %s: %m", empty_dir);
	close(fd);
	if (maxfd < 2)
		fatal("sandbox: no highest descriptor given (%d)", maxfd);
	if (chroot(".") < 0 || chdir("/") < 0)
		fatal("sandbox: chroot %s: %m", empty_dir);
	if (setgroups(0, NULL) < 0)
		fatal("sandbox: setgroups: %m");
	sandbox_drop_ids(uid, gid);
	sandbox_verify(uid, gid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("sandbox: prctl: %m");
	/* A write to a regular file (a redirected stderr) then fails with
	 * EFBIG instead of killing the child. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		fatal("sandbox: signal: %m");
	sandbox_rlimit(RLIMIT_CORE, 0, "RLIMIT_CORE");
	sandbox_rlimit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE");
	sandbox_rlimit(RLIMIT_NPROC, 0, "RLIMIT_NPROC");
	/* No descriptor above those held now: even without seccomp the child
	 * cannot pile up sockets or files. */
	sandbox_rlimit(RLIMIT_NOFILE, (rlim_t)maxfd + 1, "RLIMIT_NOFILE");
#ifdef HAVE_SECCOMP
	sandbox_seccomp();
#endif
}

void sandbox_keyholder(const char *user, const char *empty_dir, int maxfd, int ctl_fd)
{
#ifdef HAVE_SECCOMP
	sandbox_recv_fd = ctl_fd;
#else
	(void)ctl_fd;
#endif
	sandbox_preauth(user, empty_dir, maxfd);
}

void sandbox_null_stdio(int in_fd, int out_fd, int keep_stderr)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		fatal("sandbox: /dev/null: %m");
	for (int fd = 0; fd <= 2; fd++) {
		if (fd == in_fd || fd == out_fd || fd == null || (fd == 2 && keep_stderr))
			continue;
		if (dup2(null, fd) < 0)
			fatal("sandbox: dup2 /dev/null: %m");
	}
	if (null > 2)
		close(null);
}

/* Every group the user is in; -1 if any is group 0 or the list fails. */
static int sandbox_user_groups(const struct passwd *pw, gid_t **out, int *count)
{
	int n = 64;
	gid_t *g = xcalloc((size_t)n, sizeof *g);

	/* Each call walks the whole group database: one is enough unless
	 * the user has more than 64 groups. */
	if (getgrouplist(pw->pw_name, pw->pw_gid, g, &n) < 0) {
		free(g);
		if (n <= 64 || n > 65536)
			return -1;
		g = xcalloc((size_t)n, sizeof *g);
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &n) < 0) {
			free(g);
			return -1;
		}
	}
	if (n <= 0) {
		free(g);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (g[i] == 0) {
			free(g);
			return -1;
		}
	}
	*out = g;
	*count = n;
	return 0;
}

void sandbox_nss_preload(const char *user)
{
	struct passwd *pw = getpwnam(user);
	gid_t g[16];
	int n = 16;

	/* The result is not used: the lookup itself is the point. */
	if (pw)
		(void)getgrouplist(pw->pw_name, pw->pw_gid, g, &n);
}

void sandbox_become_user(const struct passwd *pw)
{
	gid_t *groups, *now;
	int n, m;

	if (!pw || pw->pw_uid == 0 || pw->pw_gid == 0)
		fatal("sandbox: refusing a session with uid or gid 0");
	if (sandbox_user_groups(pw, &groups, &n) < 0)
		fatal("sandbox: refusing a session for %s: member of group 0, "
		      "or no group list", pw->pw_name);
	/* The list checked is the list set: no second lookup to differ. */
	if (setgroups((size_t)n, groups) < 0)
		fatal("sandbox: setgroups: %m");
	sandbox_drop_ids(pw->pw_uid, pw->pw_gid);
	sandbox_verify(pw->pw_uid, pw->pw_gid);
	m = getgroups(0, NULL);
	if (m != n)
		fatal("sandbox: supplementary groups did not change");
	now = xcalloc((size_t)m, sizeof *now);
	if (getgroups(m, now) != m)
		fatal("sandbox: getgroups: %m");
	for (int i = 0; i < m; i++)
		if (now[i] == 0)
			fatal("sandbox: group 0 survived the drop");
	free(now);
	free(groups);
	/* A password passed through this process: no core, no ptrace by
	 * the user's other processes. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("sandbox: prctl: %m");
	sandbox_rlimit(RLIMIT_CORE, 0, "RLIMIT_CORE");
}
