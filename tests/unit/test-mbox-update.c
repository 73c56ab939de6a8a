/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * UPDATE under fire.
 *  1. kill -9 at random moments of an in-place rewrite (>= 100 runs):
 *     every kept message must still be in the file, whole and in order
 *     (duplicated spans are allowed), and the file must still parse.
 *  2. a write error (full disk) in the middle of the rewrite, made real
 *     with a seccomp filter: UPDATE must stop, report MBOX_ERR_SYS and
 *     leave the file untruncated with every byte of every kept message.
 *  3. a deliverer appending under fcntl locks in a loop while sessions
 *     open, delete and update: no message lost, none duplicated.
 *  4. where user attributes are refused: UPDATE as without a journal.
 * The journal's own tests are in test-mbox-journal.c.
 */
#include "config.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "mbox-int.h"
#include "tap.h"
#include "test-mbox-box.h"

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return memmem(hay, hlen, needle, nlen);
}
static void test_kill(void)
{
	struct box b;
	const char *p = tm_path("victim");
	int it, completed = 0, killed = 0, all_ok = 1, parse_ok = 1, exact_ok = 1;
	int bytes_ok = 1, whole_ok = 1, layout_exact = 0, inflight = 0;
	char *exp;
	long long full_us = 0;

	build_box(&b);
	exp = malloc(b.len);
	if (!exp)
		exit(99);
	for (it = -3; it < 120; it++) {
		int del[NMSG], pfd[2], status, split = 0;
		pid_t pid;
		char c, *got;
		size_t len, i, pos = 0, explen = 0;
		struct mbox_opts o = tm_opts();
		struct mbox *m = NULL;
		char why[256];
		long long t0;

		for (i = 0; i < NMSG; i++)
			del[i] = rnd(3) == 0;
		del[rnd(NMSG / 4)] = 1;		/* always one early deletion */
		tm_write(p, b.data, b.len);
		backdate(p);
		if (pipe(pfd) < 0)
			exit(99);
		pid = fork();
		if (pid < 0)
			exit(99);
		if (pid == 0) {
			close(pfd[0]);
			if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
				_exit(2);
			for (i = 0; i < NMSG; i++)
				if (del[i])
					mbox_msg_delete(m, (uint32_t)i);
			/* Many small writes: many moments to be killed in. */
			mbox_set_copy_chunk(m, 256 + rnd(4096));
			if (write(pfd[1], "x", 1) != 1)
				_exit(3);
			_exit(mbox_update(m, why, sizeof(why)) == MBOX_OK ? 0 : 4);
		}
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			c = 0;
		close(pfd[0]);
		t0 = now_us();
		if (it < 0) {
			/* Calibration runs: how long does a whole update take? */
			waitpid(pid, &status, 0);
			full_us = now_us() - t0;
			continue;
		}
		if (full_us > 0)
			usleep((useconds_t)rnd((unsigned)full_us + 1));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			completed++;
		else if (WIFSIGNALED(status))
			killed++;
		else
			all_ok = 0;
		unlink(tm_path("victim.lock"));	/* the dead child's dotlock */

		got = tm_read(p, &len);
		if (!got)
			exit(99);
		/* What a finished UPDATE leaves: the kept raw messages. */
		explen = 0;
		for (i = 0; i < NMSG; i++) {
			size_t n = b.off[i + 1] - b.off[i];

			if (!del[i]) {
				memcpy(exp + explen, b.data + b.off[i], n);
				explen += n;
			}
		}
		/*
		 * No byte lost: the file is the new layout up to some offset k
		 * and the old file from k on (or the new layout alone once
		 * truncated).
		 */
		if (len == explen && memcmp(got, exp, len) == 0) {
			layout_exact++;
		} else {
			size_t k = 0;

			while (k < len && k < explen && got[k] == exp[k])
				k++;
			if (len != b.len || memcmp(got + k, b.data + k, len - k) != 0) {
				bytes_ok = 0;
				printf("# iteration %d: not new-prefix + old-suffix\n", it);
			}
		}
		/*
		 * Whole messages: all but at most the one being copied when
		 * the kill came, whose bytes are all there (above) but may
		 * hold a duplicated span where the copy stopped.
		 */
		for (i = 0; i < NMSG; i++) {
			const char *f;
			size_t n = b.off[i + 1] - b.off[i];

			if (del[i])
				continue;
			f = find(got + pos, len - pos, b.data + b.off[i], n);
			if (!f) {
				split++;
				continue;
			}
			pos = (size_t)(f - got) + n;
		}
		if (split > 1) {
			whole_ok = 0;
			printf("# iteration %d: %d messages not whole\n", it, split);
		}
		if (split == 1)
			inflight++;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		    (len != explen || memcmp(got, exp, len) != 0))
			exact_ok = 0;
		free(got);
		backdate(p);
		if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK) {
			parse_ok = 0;
			printf("# iteration %d: reopen: %s\n", it, why);
		}
		mbox_close(m);
	}
	printf("# %d runs killed, %d completed; a whole update took %lld us\n",
	       killed, completed, full_us);
	printf("# %d left the final layout, %d had one message in flight\n",
	       layout_exact, inflight);
	ok(bytes_ok, "kill -9 x120: no byte lost (new layout up to k, old file after k)");
	ok(whole_ok, "kill -9 x120: every kept message whole and in order but the one in flight");
	ok(all_ok, "kill -9 x120: children died by the signal or finished cleanly");
	ok(parse_ok, "kill -9 x120: the file still parses as an mbox");
	ok(exact_ok, "kill -9 x120: completed runs left exactly the kept messages");
	ok(killed + completed == 120, "kill -9 x120: every child accounted for");
	free(b.data);
	free(exp);
}

#if defined(__x86_64__)
/* From now on, pwrite() at or beyond offset `from' fails with ENOSPC. */
static int fail_pwrite_from(unsigned from)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pwrite64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* args[3] is the offset; its low word comes first (x86-64). */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, from, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSPC),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* From now on, pwrite() below offset `from' fails with EPERM. */
static int fail_pwrite_below(unsigned from)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pwrite64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, from, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void test_write_error(int journal)
{
	struct box b;
	const char *p = tm_path("full");
	int round, bytes_ok = 1, whole_ok = 1, refused_ok = 1, size_ok = 1;
	int finished_ok = 1;

	build_box(&b);
	for (round = 0; round < 20; round++) {
		int status, split = 0;
		pid_t pid;
		size_t len, i, pos = 0, k = 0, explen = 0;
		char *got, *exp = malloc(b.len);
		/* A write failing somewhere in the new layout's range. */
		unsigned from = (unsigned)(b.off[1] + rnd((unsigned)(b.len - 2 * b.off[1] - 4096)));

		if (!exp)
			exit(99);
		tm_write(p, b.data, b.len);
		backdate(p);
		pid = fork();
		if (pid == 0) {
			struct mbox_opts o = tm_opts();
			struct mbox *m = NULL;
			char why[256];

			if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
				_exit(2);
			mbox_msg_delete(m, 0);
			mbox_set_copy_chunk(m, 4096);
			if (fail_pwrite_from(from) < 0)
				_exit(3);
			if (mbox_update(m, why, sizeof(why)) != MBOX_ERR_SYS ||
			    !strstr(why, "No space"))
				_exit(4);
			/* Never a second attempt on a half-rewritten file. */
			_exit(mbox_update(m, why, sizeof(why)) == MBOX_ERR_CHANGED ? 0 : 5);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			refused_ok = 0;
			printf("# round %d: child status %d\n", round, status);
		}
		unlink(tm_path("full.lock"));
		got = tm_read(p, &len);
		if (!got)
			exit(99);
		if (len != b.len)
			size_ok = 0;
		for (i = 1; i < NMSG; i++) {
			memcpy(exp + explen, b.data + b.off[i], b.off[i + 1] - b.off[i]);
			explen += b.off[i + 1] - b.off[i];
		}
		while (k < len && k < explen && got[k] == exp[k])
			k++;
		if (len != b.len || memcmp(got + k, b.data + k, len - k) != 0)
			bytes_ok = 0;
		for (i = 1; i < NMSG; i++) {
			const char *f = find(got + pos, len - pos, b.data + b.off[i],
					     b.off[i + 1] - b.off[i]);

			if (!f) {
				split++;
				continue;
			}
			pos = (size_t)(f - got) + (b.off[i + 1] - b.off[i]);
		}
		if (split > 1)
			whole_ok = 0;
		free(got);
		/* An open that cannot finish it either (the disk still full)
		 * serves the mailbox as it is and keeps the record. */
		if (round == 0 && journal) {
			pid = fork();
			if (pid == 0) {
				struct mbox_opts o = tm_opts();
				struct mbox *m = NULL;
				char why[256];

				if (fail_pwrite_from(0) < 0)
					_exit(3);
				_exit(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK ? 0 : 4);
			}
			unlink(tm_path("full.lock"));
			got = tm_read(p, &len);
			ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			   WEXITSTATUS(status) == 0 && has_record(p) && got && len == b.len,
			   "full disk at the next open too: served as it is, record kept");
			free(got);
		}
		/* The record left behind lets the next open finish the job. */
		{
			struct mbox_opts o = tm_opts();
			struct mbox *m = NULL;
			char why[256];

			backdate(p);
			if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
				finished_ok = 0;
			mbox_close(m);
			got = tm_read(p, &len);
			if (journal && (!got || len != explen || memcmp(got, exp, len) != 0)) {
				finished_ok = 0;
				printf("# round %d: not finished at the next open\n", round);
			}
			free(got);
		}
		free(exp);
	}
	ok(finished_ok, "full disk x20: the next open finishes the UPDATE exactly");
	ok(refused_ok, "full disk x20: UPDATE stops with MBOX_ERR_SYS and says why");
	ok(size_ok, "full disk x20: the mailbox is not truncated");
	ok(bytes_ok, "full disk x20: no byte lost (new layout up to k, old file after)");
	ok(whole_ok, "full disk x20: every kept message whole but the one cut");
	free(b.data);
}

/*
 * What UPDATE must not write: with every pwrite below `from' failing,
 * an UPDATE that honours "bytes before the first deleted message are
 * never written" still succeeds.  Returns the child's verdict.
 */
static int update_without_writes_below(const char *p, unsigned from,
				       const char *del)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct mbox_opts o = tm_opts();
		struct mbox *m = NULL;
		char why[256];

		if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
			_exit(2);
		if (del[0])	/* one message number, or none */
			mbox_msg_delete(m, (uint32_t)atoi(del));
		/* Fail writes at [0, from): offsets >= 0 fail unless >= from. */
		if (fail_pwrite_below(from) < 0)
			_exit(3);
		_exit(mbox_update(m, why, sizeof(why)) == MBOX_OK ? 0 : 4);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	unlink(tm_path("nowrite.lock"));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_no_needless_writes(void)
{
	struct box b;
	const char *p = tm_path("nowrite");
	char *got;
	size_t len;
	char last[16], mid[16];

	build_box(&b);
	snprintf(last, sizeof(last), "%d", NMSG - 1);
	snprintf(mid, sizeof(mid), "%d", NMSG / 2);

	tm_write(p, b.data, b.len);
	backdate(p);
	ok(update_without_writes_below(p, (unsigned)b.len + 1, "") == 0,
	   "nothing deleted: UPDATE writes nothing");
	got = tm_read(p, &len);
	ok(got && len == b.len && memcmp(got, b.data, len) == 0, "nothing deleted: file intact");
	free(got);

	tm_write(p, b.data, b.len);
	backdate(p);
	ok(update_without_writes_below(p, (unsigned)b.len + 1, last) == 0,
	   "last deleted: UPDATE only truncates (no write at all)");
	got = tm_read(p, &len);
	ok(got && len == b.off[NMSG - 1] && memcmp(got, b.data, len) == 0,
	   "last deleted: file is the others, exactly");
	free(got);

	tm_write(p, b.data, b.len);
	backdate(p);
	ok(update_without_writes_below(p, (unsigned)b.off[NMSG / 2], mid) == 0,
	   "middle deleted: no write before it");
	got = tm_read(p, &len);
	ok(got && len == b.len - (b.off[NMSG / 2 + 1] - b.off[NMSG / 2]) &&
	   memcmp(got, b.data, b.off[NMSG / 2]) == 0 &&
	   memcmp(got + b.off[NMSG / 2], b.data + b.off[NMSG / 2 + 1],
		  b.len - b.off[NMSG / 2 + 1]) == 0, "middle deleted: file exact");
	free(got);
	free(b.data);
}
#else
static void test_write_error(int journal)
{
	(void)journal;
	ok(1, "full disk: the seccomp filter is written for x86-64 only (skipped)");
}

static void test_no_needless_writes(void)
{
	ok(1, "needless writes: the seccomp filter is written for x86-64 only (skipped)");
}
#endif

/* Deliver n messages "D-k" under an fcntl write lock, like exim does. */
static void deliverer(const char *p, int n)
{
	int k;

	for (k = 0; k < n; k++) {
		char msg[128];
		int len = snprintf(msg, sizeof(msg),
				   "From d Mon Jan  1 00:00:00 2024\nX-Marker: D-%d\n\nbody D-%d\n\n",
				   k, k);
		int fd = open(p, O_WRONLY | O_APPEND);
		struct flock fl;

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0 ||
		    write(fd, msg, (size_t)len) != len || close(fd) < 0)
			_exit(1);
		usleep(1000 + (useconds_t)rnd(2000));
	}
	_exit(0);
}

static int marker_of(struct mbox *m, uint32_t i, char *out, size_t outsize)
{
	struct tm_sink s;
	char *x;

	tm_sink_init(&s, 4096);
	if (mbox_send(m, i, 0, tm_sink_write, &s) != MBOX_OK || !s.buf) {
		tm_sink_free(&s);
		return -1;
	}
	x = strstr(s.buf, "X-Marker: ");
	if (!x) {
		tm_sink_free(&s);
		return -1;
	}
	x += 10;
	snprintf(out, outsize, "%.*s", (int)strcspn(x, "\r\n"), x);
	tm_sink_free(&s);
	return 0;
}

#define NDELIVER 100
#define NINITIAL 20

static void test_concurrent(void)
{
	const char *p = tm_path("busy");
	char seen_del[NINITIAL + NDELIVER];	/* 1: we deleted it */
	int counts[NINITIAL + NDELIVER];
	int k, updates = 0, upd_ok = 1, status, done = 0;
	pid_t pid;
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	uint32_t i;

	memset(seen_del, 0, sizeof(seen_del));
	memset(counts, 0, sizeof(counts));
	tm_write(p, "", 0);
	for (k = 0; k < NINITIAL; k++) {
		char msg[128];
		int len = snprintf(msg, sizeof(msg),
				   "From i Mon Jan  1 00:00:00 2024\nX-Marker: I-%d\n\nbody I-%d\n\n",
				   k, k);

		tm_append(p, msg, (size_t)len);
	}
	o.lock_timeout = 5;
	pid = fork();
	if (pid < 0)
		exit(99);
	if (pid == 0)
		deliverer(p, NDELIVER);
	while (!done) {
		done = waitpid(pid, &status, WNOHANG) == pid;
		if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK) {
			printf("# open: %s\n", why);
			upd_ok = 0;
			break;
		}
		for (i = 0; i < mbox_count(m); i++) {
			char mk[32];
			int idx;

			if (rnd(3) != 0)
				continue;
			if (marker_of(m, i, mk, sizeof(mk)) < 0) {
				upd_ok = 0;
				continue;
			}
			idx = mk[0] == 'I' ? atoi(mk + 2) : NINITIAL + atoi(mk + 2);
			if (idx < 0 || idx >= NINITIAL + NDELIVER)
				continue;
			seen_del[idx] = 1;
			mbox_msg_delete(m, i);
		}
		if (mbox_update(m, why, sizeof(why)) != MBOX_OK) {
			printf("# update: %s\n", why);
			upd_ok = 0;
		}
		mbox_close(m);
		m = NULL;
		updates++;
		usleep(20000);
	}
	ok(done && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "deliverer finished its %d deliveries", NDELIVER);
	ok(upd_ok, "%d sessions opened, deleted and updated alongside it", updates);

	ok(mbox_open(&m, p, &o, why, sizeof(why)) == MBOX_OK && m, "final open");
	if (!m)
		return;
	for (i = 0; i < mbox_count(m); i++) {
		char mk[32];
		int idx;

		if (marker_of(m, i, mk, sizeof(mk)) < 0)
			continue;
		idx = mk[0] == 'I' ? atoi(mk + 2) : NINITIAL + atoi(mk + 2);
		if (idx >= 0 && idx < NINITIAL + NDELIVER)
			counts[idx]++;
	}
	mbox_close(m);
	{
		int lost = 0, dup = 0, resurrected = 0;

		for (k = 0; k < NINITIAL + NDELIVER; k++) {
			if (seen_del[k] && counts[k])
				resurrected++;
			else if (!seen_del[k] && counts[k] == 0)
				lost++;
			else if (counts[k] > 1)
				dup++;
		}
		ok(lost == 0, "concurrent: no kept message lost (%d)", lost);
		ok(dup == 0, "concurrent: no message duplicated (%d)", dup);
		ok(resurrected == 0, "concurrent: no deleted message back (%d)", resurrected);
	}
}

#if defined(__x86_64__)
/* From now on, the attribute calls on descriptors fail as on a
 * filesystem without user attributes. */
static int refuse_xattrs(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fsetxattr, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fgetxattr, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fremovexattr, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Where attributes are refused: UPDATE works as before the journal,
 * and a kill leaves what it left before (no byte lost, no record). */
static void test_xattr_refused(void)
{
	struct box b;
	char p[256];
	int del[NMSG], round, exact_ok = 1, kill_ok = 1, status;

	snprintf(p, sizeof(p), "%s", tm_path("noattr"));
	build_box(&b);
	for (round = 0; round < 21; round++) {
		long k = round == 0 ? 0 : 1 + (long)rnd(60);
		size_t len, explen, f = 0;
		char *got, *exp;
		pid_t pid;

		pattern(&b, round % NPATTERN, del);
		unlink(p);
		tm_write(p, b.data, b.len);
		backdate(p);
		pid = fork();
		if (pid == 0) {
			struct mbox_opts o = tm_opts();
			struct mbox *m = NULL;
			char why[256];
			size_t i;

			if (refuse_xattrs() < 0 ||
			    mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
				_exit(2);
			for (i = 0; i < NMSG; i++)
				if (del[i])
					mbox_msg_delete(m, (uint32_t)i);
			mbox_set_copy_chunk(m, 2048);
			mbox_test_fault(k, rnd(1u << 20));
			_exit(mbox_update(m, why, sizeof(why)) == MBOX_OK ? 0 : 4);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			exit(99);
		unlink(tm_path("noattr.lock"));
		got = tm_read(p, &len);
		exp = expected(&b, del, "", 0, &explen);
		if (!got)
			exit(99);
		if (round == 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
			    len != explen || memcmp(got, exp, len) != 0 || has_record(p))
				exact_ok = 0;
		} else {
			while (f < len && f < explen && got[f] == exp[f])
				f++;
			if (!WIFSIGNALED(status) || has_record(p) || len != b.len ||
			    memcmp(got + f, b.data + f, len - f) != 0)
				kill_ok = 0;
		}
		free(got);
		free(exp);
	}
	ok(exact_ok, "attributes refused: UPDATE still leaves exactly the kept messages");
	ok(kill_ok, "attributes refused: a kill leaves new[:k] + old[k:] and no record");
	free(b.data);
}
#else
static void test_xattr_refused(void)
{
	ok(1, "attributes refused: the seccomp filter is written for x86-64 only (skipped)");
}
#endif

int main(void)
{
	int journal;

	signal(SIGPIPE, SIG_IGN);
	tm_setup();
	journal = xattrs_work();
	test_kill();
	test_xattr_refused();
	test_write_error(journal);
	test_no_needless_writes();
	test_concurrent();
	tm_cleanup();
	return tap_done();
}
