/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the mbox engine's writes and refusals: UPDATE results
 * (with appends racing it), locking against other holders, Debian's
 * unwritable spool, a read-only mailbox, unsafe files (symlink, FIFO,
 * hard link, directory, another owner) and the size limits.  Runs as
 * root in CI (chown and another uid are needed for the owner checks;
 * those parts skip otherwise).
 */
#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "mbox-int.h"
#include "tap.h"
#include "test-mbox-util.h"

static void update_case(const char *name, const char *dels, const char *want,
			size_t wlen)
{
	const char *p = tm_path("upd");
	struct mbox *m;
	char why[256];
	char *got;
	size_t len, i;

	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, name);
	if (!m)
		return;
	for (i = 0; dels[i]; i++)
		mbox_msg_delete(m, (uint32_t)(dels[i] - '1'));
	ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "%s: update ok (%s)", name, why);
	ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "%s: a second update is a no-op", name);
	mbox_close(m);
	got = tm_read(p, &len);
	ok(got && len == wlen && memcmp(got, want, wlen) == 0, "%s: file exact", name);
	free(got);
}

static void test_update(void)
{
	const char *p = tm_path("upd");
	struct mbox *m;
	struct stat a, b;
	char why[256], *got;
	size_t len;

	update_case("update none", "", S(tm_base_box));
	update_case("update first", "1",
		    S("From b\nS: 2\n\nbody two\n\nFrom c\nS: 3\n\nbody three\n\n"));
	update_case("update middle", "2",
		    S("From a\nS: 1\n\nbody one\n\nFrom c\nS: 3\n\nbody three\n\n"));
	update_case("update last", "3",
		    S("From a\nS: 1\n\nbody one\n\nFrom b\nS: 2\n\nbody two\n\n"));
	update_case("update first+last", "13", S("From b\nS: 2\n\nbody two\n\n"));
	update_case("update all", "123", "", 0);

	/* Nothing deleted: the file is not even opened for writing. */
	tm_write(p, S(tm_base_box));
	ok(stat(p, &a) == 0, "update none: stat");
	m = tm_open_ok(p, "update none/mtime");
	usleep(20000);
	ok(m && mbox_update(m, why, sizeof(why)) == MBOX_OK, "update none: ok");
	ok(stat(p, &b) == 0 && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
	   a.st_mtim.tv_nsec == b.st_mtim.tv_nsec, "update none: mtime untouched");
	mbox_close(m);

	/* Deleting: the mtime moves to another second. */
	tm_write(p, S(tm_base_box));
	ok(stat(p, &a) == 0, "update mtime: stat");
	m = tm_open_ok(p, "update mtime");
	if (m) {
		mbox_msg_delete(m, 1);
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "update mtime: ok");
		ok(stat(p, &b) == 0 && b.st_mtim.tv_sec != a.st_mtim.tv_sec,
		   "update mtime: second changed");
		mbox_close(m);
	}

	/* Mail that arrived during the session survives the update. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "update+append");
	if (m) {
		mbox_msg_delete(m, 0);
		tm_append(p, S("From d\nS: 4\n\nnew\n\n"));
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "update+append: ok (%s)", why);
		mbox_close(m);
		got = tm_read(p, &len);
		ok(got && len == sizeof("From b\nS: 2\n\nbody two\n\nFrom c\nS: 3\n\nbody three\n\n"
					"From d\nS: 4\n\nnew\n\n") - 1 &&
		   strcmp(got, "From b\nS: 2\n\nbody two\n\nFrom c\nS: 3\n\nbody three\n\n"
			  "From d\nS: 4\n\nnew\n\n") == 0, "update+append: appended mail kept");
		free(got);
	}

	/* Deleting the last message with appended mail behind it. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "update last+append");
	if (m) {
		mbox_msg_delete(m, 2);
		tm_append(p, S("From d\nS: 4\n\nnew\n"));
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "update last+append: ok");
		mbox_close(m);
		got = tm_read(p, &len);
		ok(got && strcmp(got, "From a\nS: 1\n\nbody one\n\nFrom b\nS: 2\n\nbody two\n\n"
				 "From d\nS: 4\n\nnew\n") == 0, "update last+append: exact");
		free(got);
	}

	/* A tiny copy chunk gives the same result. */
	tm_write(p, S(tm_base_box));
	m = tm_open_ok(p, "update chunked");
	if (m) {
		mbox_set_copy_chunk(m, 3);
		mbox_msg_delete(m, 0);
		ok(mbox_update(m, why, sizeof(why)) == MBOX_OK, "update chunked: ok");
		mbox_close(m);
		got = tm_read(p, &len);
		ok(got && strcmp(got, "From b\nS: 2\n\nbody two\n\nFrom c\nS: 3\n\nbody three\n\n") == 0,
		   "update chunked: exact");
		free(got);
	}
}

/* A child takes a lock of the given kind and holds it until killed. */
static pid_t hold_lock(const char *path, int kind)
{
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe(pfd) < 0)
		exit(99);
	pid = fork();
	if (pid < 0)
		exit(99);
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		struct flock fl;

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd < 0 || (kind == 0 && fcntl(fd, F_SETLK, &fl) < 0) ||
		    (kind == 1 && flock(fd, LOCK_EX) < 0))
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		exit(99);
	close(pfd[0]);
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void test_locking(void)
{
	const char *p = tm_path("locked");
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	pid_t pid;
	struct timespec ts[2];

	tm_write(p, S(tm_base_box));
	pid = hold_lock(p, 0);
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_INUSE && !m,
	   "fcntl lock held elsewhere: INUSE (%s)", why);
	ok(access(tm_path("locked.lock"), F_OK) < 0, "INUSE: our dotlock removed");
	o.lock_methods = MBOX_LOCK_FLOCK | MBOX_LOCK_DOT;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m,
	   "fcntl lock held, flock only: opens");
	mbox_close(m);
	m = NULL;
	reap(pid);

	pid = hold_lock(p, 1);
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_INUSE && !m,
	   "flock held elsewhere: INUSE (%s)", why);
	reap(pid);

	/* Open first, then the lock is taken elsewhere: UPDATE waits, fails. */
	o = tm_opts();
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "open before lock");
	if (m) {
		pid = hold_lock(p, 0);
		mbox_msg_delete(m, 0);
		ok(mbox_update(m, why, sizeof(why)) == MBOX_ERR_INUSE,
		   "update with lock held elsewhere: INUSE");
		reap(pid);
		mbox_close(m);
		m = NULL;
	}

	/* A fresh dotlock blocks; a stale one is removed. */
	tm_write(tm_path("locked.lock"), "", 0);
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_INUSE && !m,
	   "fresh dotlock: INUSE (%s)", why);
	ok(access(tm_path("locked.lock"), F_OK) == 0, "fresh dotlock: left alone");
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 3600;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ok(utimensat(AT_FDCWD, tm_path("locked.lock"), ts, 0) == 0, "age the dotlock");
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "stale dotlock: opens (%s)", why);
	ok(access(tm_path("locked.lock"), F_OK) < 0, "stale dotlock: removed");
	mbox_close(m);
	m = NULL;
	o.lock_methods = MBOX_LOCK_FCNTL;
	tm_write(tm_path("locked.lock"), "", 0);
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m,
	   "dotlock not configured: ignored");
	mbox_close(m);
	unlink(tm_path("locked.lock"));
}

/*
 * Debian's /var/mail: root:mail 2775, the user not in group mail.  As
 * the user we cannot create the dotlock and must go on without it.
 */
static void test_unwritable_spool(void)
{
	char spool[300], box[320];
	pid_t pid;
	int status;
	uid_t uid = 65534;

	if (geteuid() != 0) {
		ok(1, "unwritable spool: needs root (skipped)");
		return;
	}
	snprintf(spool, sizeof(spool), "%s/spool", tm_dir);
	snprintf(box, sizeof(box), "%s/user", spool);
	if (mkdir(spool, 02775) < 0 || chmod(spool, 02775) < 0 ||
	    chmod(tm_dir, 0755) < 0)
		exit(99);
	tm_write(box, S(tm_base_box));
	if (chown(box, uid, 0) < 0)
		exit(99);
	pid = fork();
	if (pid == 0) {
		struct mbox_opts o;
		struct mbox *m = NULL;
		char why[256];

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(uid) < 0)
			_exit(2);
		mbox_opts_default(&o);
		o.owner = uid;
		o.lock_timeout = 1;
		if (mbox_open(&m, box, &o, why, sizeof(why)) != MBOX_OK)
			_exit(3);
		mbox_msg_delete(m, 0);
		if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
			_exit(4);
		mbox_close(m);
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "unwritable spool: opens and updates without dotlock (%d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	{
		size_t len;
		char *got = tm_read(box, &len);

		ok(got && strncmp(got, "From b\n", 7) == 0, "unwritable spool: update applied");
		free(got);
	}
	ok(access(tm_path("spool/user.lock"), F_OK) < 0, "unwritable spool: no dotlock left");
}

/* A mailbox the user may read but not write: served, UPDATE refused. */
static void test_readonly(void)
{
	const char *p = tm_path("ro");
	pid_t pid;
	int status = -1;
	char *got;
	size_t len;

	if (geteuid() != 0) {
		ok(1, "read-only mailbox: needs root (skipped)");
		return;
	}
	tm_write(p, S(tm_base_box));
	if (chown(p, 65534, 65534) < 0 || chmod(p, 0400) < 0 || chmod(tm_dir, 0755) < 0)
		exit(99);
	pid = fork();
	if (pid == 0) {
		struct mbox_opts o;
		struct mbox *m = NULL;
		struct tm_sink s;
		char why[256];

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		mbox_opts_default(&o);
		o.owner = 65534;
		o.lock_timeout = 1;
		if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK || mbox_count(m) != 3)
			_exit(3);
		tm_sink_init(&s, 0);
		if (mbox_send(m, 1, -1, tm_sink_write, &s) != MBOX_OK ||
		    s.total != mbox_msg_size(m, 1))
			_exit(4);
		if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
			_exit(5);	/* nothing deleted: fine */
		mbox_msg_delete(m, 0);
		if (mbox_update(m, why, sizeof(why)) != MBOX_ERR_SYS)
			_exit(6);
		mbox_close(m);
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0,
	   "read-only mailbox: served, UPDATE with deletions refused (%d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	got = tm_read(p, &len);
	ok(got && len == sizeof(tm_base_box) - 1 && memcmp(got, tm_base_box, len) == 0,
	   "read-only mailbox: untouched");
	free(got);
}

static void test_unsafe(void)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	const char *p = tm_path("safe");

	tm_write(p, S(tm_base_box));
	ok(symlink(p, tm_path("sym")) == 0, "make symlink");
	ok(mbox_open(&m, tm_path("sym"), &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "symlink refused (%s)", why);
	ok(mkfifo(tm_path("fifo"), 0600) == 0, "make fifo");
	ok(mbox_open(&m, tm_path("fifo"), &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "FIFO refused without blocking (%s)", why);
	ok(link(p, tm_path("hard")) == 0, "make hard link");
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "hard-linked file refused (%s)", why);
	unlink(tm_path("hard"));
	ok(mkdir(tm_path("dir"), 0700) == 0 &&
	   mbox_open(&m, tm_path("dir"), &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "directory refused");
	o.owner = getuid() + 1;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
	   "wrong owner refused (%s)", why);
	if (geteuid() == 0) {
		o = tm_opts();
		ok(chown(p, 12345, 0) == 0 &&
		   mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_UNSAFE && !m,
		   "file chowned to another user refused");
		o.owner = 12345;
		ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m,
		   "same file for its owner opens");
		mbox_close(m);
		m = NULL;
	}
}

static void test_limits(void)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	const char *p = tm_path("limits");

	tm_write(p, S(tm_base_box));
	o.max_messages = 2;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_LIMIT && !m && why[0],
	   "max_messages 2 with 3: LIMIT (%s)", why);
	o.max_messages = 3;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "max_messages 3 with 3: ok");
	mbox_close(m);
	m = NULL;
	o = tm_opts();
	o.max_size = sizeof(tm_base_box) - 2;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_ERR_LIMIT && !m,
	   "max_size one byte short: LIMIT (%s)", why);
	o.max_size = sizeof(tm_base_box) - 1;
	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "max_size exact: ok");
	mbox_close(m);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	tm_setup();
	test_update();
	test_locking();
	test_unsafe();
	test_limits();
	test_unwritable_spool();
	test_readonly();
	tm_cleanup();
	return tap_done();
}
