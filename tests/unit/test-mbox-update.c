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
#include "test-mbox-util.h"

static int has_record(const char *p);

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define NMSG 120

struct box {
	char *data;
	size_t len;
	size_t off[NMSG + 1];	/* raw start of each message; off[NMSG] = len */
};

static void build_box(struct box *b)
{
	size_t cap = 4 << 20, i;

	b->data = malloc(cap);
	b->len = 0;
	if (!b->data)
		exit(99);
	for (i = 0; i < NMSG; i++) {
		unsigned lines = 1 + rnd(i % 7 == 0 ? 400 : 20), k;

		b->off[i] = b->len;
		b->len += (size_t)snprintf(b->data + b->len, cap - b->len,
					   "From m%zu Mon Jan  1 00:00:00 2024\n"
					   "Message-ID: <%zu@test>\nSubject: message %zu\n\n",
					   i, i, i);
		for (k = 0; k < lines; k++)
			b->len += (size_t)snprintf(b->data + b->len, cap - b->len,
						   "message %zu line %u: the quick brown fox\n",
						   i, k);
		b->data[b->len++] = '\n';
	}
	b->off[NMSG] = b->len;
}

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return memmem(hay, hlen, needle, nlen);
}

/*
 * An mtime in the current second makes UPDATE wait for the next one
 * (update.c); an old mtime keeps the rewrite itself the part we kill.
 */
static void backdate(const char *p)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 60;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, p, ts, 0) < 0)
		exit(99);
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

#include "journal.h"

/* The file an uninterrupted UPDATE leaves, plus the mail appended since. */
static char *expected(const struct box *b, const int *del, const char *extra,
		      size_t extralen, size_t *explen)
{
	char *exp = malloc(b->len + extralen + 1);
	size_t i, n = 0;

	if (!exp)
		exit(99);
	for (i = 0; i < NMSG; i++)
		if (!del[i]) {
			memcpy(exp + n, b->data + b->off[i], b->off[i + 1] - b->off[i]);
			n += b->off[i + 1] - b->off[i];
		}
	memcpy(exp + n, extra, extralen);
	*explen = n + extralen;
	return exp;
}

/* Deletion patterns the sweeps must survive: small and large gaps,
 * many runs, only a cut. */
static void pattern(const struct box *b, int kind, int *del)
{
	size_t i, small = 0;

	for (i = 0; i < NMSG; i++) {
		del[i] = 0;
		if (b->off[i + 1] - b->off[i] < b->off[small + 1] - b->off[small] &&
		    i < NMSG / 4)
			small = i;
	}
	switch (kind) {
	case 0:		/* the smallest early message: a tiny gap, long overlaps */
		del[small] = 1;
		break;
	case 1:		/* every 10th */
		for (i = 0; i < NMSG; i += 10)
			del[i] = 1;
		break;
	case 2:		/* a random third, and one early */
		for (i = 0; i < NMSG; i++)
			del[i] = rnd(3) == 0;
		del[rnd(NMSG / 4)] = 1;
		break;
	case 3:		/* the last: only a cut */
		del[NMSG - 1] = 1;
		break;
	case 4:		/* all but a few at the end */
		for (i = 0; i < NMSG - 3; i++)
			del[i] = 1;
		break;
	default:	/* the first: the default UPDATE of a POP3 client */
		del[0] = 1;
		break;
	}
}
#define NPATTERN 6

static int has_record(const char *p)
{
	return getxattr(p, UR_XATTR, NULL, 0) >= 0;
}

/* A child that opens, deletes, and UPDATEs with a kill at step k. */
static pid_t update_child(const char *p, const int *del, size_t chunk,
			  long k, size_t part)
{
	pid_t pid = fork();

	if (pid < 0)
		exit(99);
	if (pid == 0) {
		struct mbox_opts o = tm_opts();
		struct mbox *m = NULL;
		char why[256];
		size_t i;

		if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
			_exit(2);
		for (i = 0; i < NMSG; i++)
			if (del[i])
				mbox_msg_delete(m, (uint32_t)i);
		mbox_set_copy_chunk(m, chunk);
		mbox_test_fault(k, part);
		_exit(mbox_update(m, why, sizeof(why)) == MBOX_OK ? 0 : 4);
	}
	return pid;
}

/* How many steps a whole UPDATE of this pattern takes. */
static long update_steps(const char *p, const struct box *b, const int *del,
			 size_t chunk)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	size_t i;
	long n;

	tm_write(p, b->data, b->len);
	backdate(p);
	if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
		exit(99);
	for (i = 0; i < NMSG; i++)
		if (del[i])
			mbox_msg_delete(m, (uint32_t)i);
	mbox_set_copy_chunk(m, chunk);
	mbox_test_fault(0, 0);
	if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
		exit(99);
	n = mbox_test_fault_steps();
	mbox_close(m);
	return n;
}

static int open_close(const char *p)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	int rc = mbox_open(&m, p, &o, why, sizeof(why));

	if (rc != MBOX_OK)
		printf("# open: %s\n", why);
	mbox_close(m);
	return rc;
}

/* Classify what a run left against what it should have. */
struct tally {
	int runs, exact, lost, dup, torn, records, resumed_killed;
};

static void judge(struct tally *t, const char *p, const struct box *b,
		  const int *del, const char *extra, size_t extralen,
		  const char *label)
{
	size_t len, explen, i, pos = 0;
	char *got = tm_read(p, &len), *exp = expected(b, del, extra, extralen, &explen);

	t->runs++;
	if (got && len == explen && memcmp(got, exp, len) == 0) {
		t->exact++;
	} else {
		/* Name the damage: a kept message missing, twice, or torn. */
		for (i = 0; got && i < NMSG; i++) {
			size_t n = b->off[i + 1] - b->off[i];
			const char *f, *g2;

			if (del[i])
				continue;
			f = memmem(got, len, b->data + b->off[i], n);
			if (!f) {
				t->lost++;
				continue;
			}
			g2 = memmem(f + 1, len - (size_t)(f + 1 - got), b->data + b->off[i], n);
			if (g2)
				t->dup++;
			if ((size_t)(f - got) < pos)
				t->torn++;
			pos = (size_t)(f - got) + n;
		}
		printf("# %s: %zu bytes, want %zu\n", label, len, explen);
	}
	free(got);
	free(exp);
}

static long next_kill(long k, long steps, long stride)
{
	long next = k + stride + (stride > 1 ? (long)rnd(2) : 0);

	if (k >= steps - 3)
		return k + 1;
	return next > steps - 3 ? steps - 3 : next;
}

/*
 * kill -9 at every step of the rewrite (each record write, each copy,
 * the cut, the record's removal), a copy dying after a random prefix
 * of its bytes; mail appended before the next open in every other run,
 * and the resume itself killed in every third.  The next open must
 * leave exactly the mailbox the UPDATE was asked for.
 */
static void test_resume_steps(void)
{
	struct box b;
	char p[256];
	struct tally t;
	int kind, runs = 0, none[NMSG];

	snprintf(p, sizeof(p), "%s", tm_path("resume"));
	memset(none, 0, sizeof(none));

	memset(&t, 0, sizeof(t));
	build_box(&b);
	for (kind = 0; kind < NPATTERN; kind++) {
		int del[NMSG];
		size_t chunk = 512 + rnd(8192);
		long steps, k, stride;

		pattern(&b, kind, del);
		steps = update_steps(p, &b, del, chunk);
		stride = steps > 60 ? steps / 60 : 1;
		/* Spread over the steps, and always the last four: the last
		 * copy, the cut record, the cut and the record's removal. */
		for (k = 1; k <= steps; k = next_kill(k, steps, stride)) {
			char extra[256], label[64];
			size_t extralen = 0;
			int status, rec;
			pid_t pid;

			unlink(p);
			tm_write(p, b.data, b.len);
			backdate(p);
			pid = update_child(p, del, chunk, k, rnd(1u << 20));
			if (waitpid(pid, &status, 0) != pid)
				exit(99);
			unlink(tm_path("resume.lock"));
			if (!WIFSIGNALED(status)) {
				printf("# pattern %d step %ld: child status %d\n", kind, k, status);
				t.runs++;
				continue;
			}
			/* Killed before its first record: the UPDATE never began. */
			rec = has_record(p);
			t.records += rec;
			if (runs % 2) {
				extralen = (size_t)snprintf(extra, sizeof(extra),
					"From new%d Mon Jan  1 00:00:00 2024\n"
					"Subject: appended after the kill\n\nbody %d\n\n",
					runs, runs);
				tm_append(p, extra, extralen);
			}
			if (runs % 3 == 0 && has_record(p)) {
				/* Kill the resume too, at one of its steps. */
				backdate(p);
				pid = fork();
				if (pid == 0) {
					mbox_test_fault(1 + (long)rnd(40), rnd(1u << 20));
					_exit(open_close(p) == MBOX_OK ? 0 : 3);
				}
				if (pid < 0 || waitpid(pid, &status, 0) != pid)
					exit(99);
				unlink(tm_path("resume.lock"));
				t.resumed_killed += WIFSIGNALED(status);
			}
			/* The login comes later: no wait for the clock (update.c). */
			backdate(p);
			mbox_test_fault(0, 0);
			if (open_close(p) != MBOX_OK)
				printf("# pattern %d step %ld: reopen failed\n", kind, k);
			snprintf(label, sizeof(label), "pattern %d step %ld/%ld", kind, k, steps);
			judge(&t, p, &b, rec ? del : none, extra, extralen, label);
			if (has_record(p))
				printf("# %s: record left after the open\n", label);
			runs++;
		}
	}
	printf("# %d runs killed at a step, %d left a record, %d resumes killed too\n",
	       t.runs, t.records, t.resumed_killed);
	ok(t.runs >= 200, "kill at a step: %d runs over %d deletion patterns", t.runs, NPATTERN);
	ok(t.exact == t.runs, "kill at a step, then open: exact mailbox in %d of %d runs",
	   t.exact, t.runs);
	ok(t.lost == 0 && t.dup == 0 && t.torn == 0,
	   "kill at a step: %d lost, %d duplicated, %d torn", t.lost, t.dup, t.torn);
	free(b.data);
}

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

/* The record a kill at step k of a first-message UPDATE leaves. */
static ssize_t capture_record(const char *p, const struct box *b, long k,
			      unsigned char *rec, size_t cap)
{
	int del[NMSG], status;
	pid_t pid;

	pattern(b, 5, del);
	unlink(p);
	tm_write(p, b->data, b->len);
	backdate(p);
	pid = update_child(p, del, 1024, k, 777);
	if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status))
		exit(99);
	unlink(tm_path("forged.lock"));
	return getxattr(p, UR_XATTR, rec, cap);
}

/* Open with record rec on file content data: 1 if the record was
 * dropped and the file left byte for byte as it was. */
static int dropped_untouched(const char *p, const void *data, size_t len,
			     const unsigned char *rec, size_t reclen)
{
	size_t glen;
	char *got;
	int same;

	unlink(p);
	tm_write(p, data, len);
	backdate(p);
	if (setxattr(p, UR_XATTR, rec, reclen, 0) < 0)
		exit(99);
	if (open_close(p) != MBOX_OK)
		return 0;
	got = tm_read(p, &glen);
	same = got && glen == len && memcmp(got, data, len) == 0;
	free(got);
	return same && !has_record(p);
}

static uint64_t birth_of(const char *p)
{
	struct statx sx;

	if (statx(AT_FDCWD, p, 0, STATX_BTIME, &sx) < 0 || !(sx.stx_mask & STATX_BTIME))
		return 0;
	return (uint64_t)sx.stx_btime.tv_sec * 1000000000u + sx.stx_btime.tv_nsec;
}

static void reseal(unsigned char *rec, size_t n)
{
	uint64_t h = ur_hash(UR_HASH_INIT, rec, n - 8);
	int i;

	for (i = 0; i < 8; i++)
		rec[n - 8 + i] = (unsigned char)(h >> (8 * i));
}

/*
 * Records that do not describe the file: from another file (a copy of
 * the mailbox with its attributes), for a file another program has
 * rewritten or cut since, garbage, and a genuine record with fields
 * changed and the checksum made right.  All are dropped without a
 * byte of the file changing; mutants that pass the checks may only
 * move bytes of the file downward and cut it.
 */
static void test_forged(void)
{
	struct box b, other;
	char p[256];
	unsigned char rec[UR_MAX + 1], bad[UR_MAX + 1];
	ssize_t n;
	struct ur_record r;
	char why[128];
	int i, drop_ok = 1, mut_ok = 1, accepted = 0, status;

	snprintf(p, sizeof(p), "%s", tm_path("forged"));
	build_box(&b);
	build_box(&other);
	n = capture_record(p, &b, 12, rec, sizeof(rec));
	ok(n > 0 && ur_parse(rec, (size_t)n, &r, why, sizeof(why)) == 0,
	   "a kill mid-UPDATE leaves a record that parses (%zd bytes)", n);
	if (n <= 0)
		return;

	/* Same bytes, another file: a copy made with its attributes, or a
	 * new file that got the inode number back after an unlink. */
	{
		char q[256];
		int fd;

		snprintf(q, sizeof(q), "%s", tm_path("forged-keep"));
		fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0600);	/* hold the inode */
		if (fd < 0)
			exit(99);
		ok(dropped_untouched(p, b.data, b.len, rec, (size_t)n),
		   "record of another file: dropped, file untouched");
		close(fd);
		unlink(q);
		ok(dropped_untouched(p, b.data, b.len, rec, (size_t)n),
		   "record of a file unlinked since: dropped, file untouched");
	}
	/* The same inode rewritten by another program. */
	{
		struct stat st;
		size_t glen;
		char *got;

		tm_write(p, other.data, other.len);
		backdate(p);
		if (stat(p, &st) < 0)
			exit(99);
		memcpy(bad, rec, (size_t)n);
		for (i = 0; i < 8; i++) {
			bad[8 + i] = (unsigned char)((uint64_t)st.st_ino >> (8 * i));
			bad[16 + i] = (unsigned char)(birth_of(p) >> (8 * i));
		}
		reseal(bad, (size_t)n);
		if (setxattr(p, UR_XATTR, bad, (size_t)n, 0) < 0)
			exit(99);
		ok(open_close(p) == MBOX_OK, "rewritten by another program: opens");
		got = tm_read(p, &glen);
		ok(got && glen == other.len && memcmp(got, other.data, glen) == 0 &&
		   !has_record(p), "rewritten by another program: record dropped, file untouched");
		free(got);
		/* Cut short by another program. */
		tm_write(p, b.data, b.len / 3);
		backdate(p);
		if (setxattr(p, UR_XATTR, bad, (size_t)n, 0) < 0)
			exit(99);
		ok(open_close(p) == MBOX_OK, "cut short by another program: opens");
		got = tm_read(p, &glen);
		ok(got && glen == b.len / 3 && memcmp(got, b.data, glen) == 0 &&
		   !has_record(p), "cut short by another program: record dropped, file untouched");
		free(got);
	}
	/* Garbage of every length up to the limit, and one past it. */
	for (i = 0; i < 40; i++) {
		size_t len = i == 0 ? UR_MAX + 1 : 1 + rnd(UR_MAX);
		size_t k;

		for (k = 0; k < len; k++)
			bad[k] = (unsigned char)rnd(256);
		if (i % 2 && len > 4)
			memcpy(bad, "P3U1", 4);
		if (i % 4 == 1 && len >= UR_FIXED)
			reseal(bad, len);
		if (!dropped_untouched(p, b.data, b.len, bad, len)) {
			drop_ok = 0;
			printf("# garbage %d (%zu bytes) not dropped\n", i, len);
		}
	}
	ok(drop_ok, "40 garbage records: dropped, file untouched");

	/* Mutants of the genuine record (for this very file), resealed. */
	for (i = 0; i < 300; i++) {
		struct stat st;
		size_t glen;
		char *got;
		int flips = 1 + (int)rnd(3), f;

		unlink(p);
		tm_write(p, b.data, b.len);
		backdate(p);
		if (stat(p, &st) < 0)
			exit(99);
		memcpy(bad, rec, (size_t)n);
		for (f = 0; f < 8; f++) {
			bad[8 + f] = (unsigned char)((uint64_t)st.st_ino >> (8 * f));
			bad[16 + f] = (unsigned char)(birth_of(p) >> (8 * f));
		}
		for (f = 0; f < flips; f++) {
			/* Mostly the offsets and lengths; sometimes anything. */
			size_t at = rnd(4) ? 24 + rnd(64) : 4 + rnd((unsigned)n - 12);

			bad[at] ^= (unsigned char)(1u << rnd(8));
		}
		reseal(bad, (size_t)n);
		if (setxattr(p, UR_XATTR, bad, (size_t)n, 0) < 0)
			exit(99);
		/* One that passes may move bytes so that the file no longer
		 * starts with a From_ line: the owner's doing, refused as an
		 * mbox (the file is never longer, the record always gone). */
		status = open_close(p);
		got = tm_read(p, &glen);
		if (!got || glen > b.len || has_record(p))
			mut_ok = 0;
		else if (glen != b.len || memcmp(got, b.data, glen) != 0)
			accepted++;
		else if (status != MBOX_OK)
			mut_ok = 0;	/* dropped, yet the file refused */
		free(got);
	}
	printf("# %d of 300 mutants passed the checks and moved bytes\n", accepted);
	ok(mut_ok, "300 mutated records: file never longer, record gone, dropped ones change nothing");
	free(b.data);
	free(other.data);
}

/*
 * More deletion runs than one record holds (every other message of
 * 2400): the journal starts once the runs left fit.  A kill before
 * that leaves no record and the duplicated span of old; after it, the
 * next open finishes exactly.
 */
#define NMANY 2400
static void test_partial_journal(void)
{
	char p[256], *data, *exp;
	size_t off[NMANY + 1], len = 0, explen = 0, i;
	int k, steps, runs = 0, with = 0, exact = 0, without = 0, span_ok = 1;

	snprintf(p, sizeof(p), "%s", tm_path("many"));
	data = malloc(NMANY * 256);
	exp = malloc(NMANY * 256);
	if (!data || !exp)
		exit(99);
	for (i = 0; i < NMANY; i++) {
		off[i] = len;
		len += (size_t)snprintf(data + len, 256,
					"From m%zu Mon Jan  1 00:00:00 2024\nSubject: %zu\n\n"
					"%0*zu\n\n", i, i, (int)(100 + i % 50), i);
	}
	off[NMANY] = len;
	for (i = 1; i < NMANY; i += 2) {
		memcpy(exp + explen, data + off[i], off[i + 1] - off[i]);
		explen += off[i + 1] - off[i];
	}
	for (k = 0, steps = 0; k <= steps && runs < 80; k += steps / 60 + 1, runs++) {
		struct mbox_opts o = tm_opts();
		struct mbox *m = NULL;
		char why[256], *got;
		size_t glen, f = 0;
		int status, rec;
		pid_t pid;

		unlink(p);
		tm_write(p, data, len);
		backdate(p);
		pid = fork();
		if (pid == 0) {
			if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
				_exit(2);
			for (i = 0; i < NMANY; i += 2)
				mbox_msg_delete(m, (uint32_t)i);
			mbox_set_copy_chunk(m, 4096);
			mbox_test_fault(k, 333);
			if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
				_exit(4);
			_exit(mbox_test_fault_steps() > 250 ? 250 : 1);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			exit(99);
		unlink(tm_path("many.lock"));
		if (k == 0) {
			/* The calibration run: count the steps of a whole UPDATE. */
			steps = WIFEXITED(status) && WEXITSTATUS(status) == 250 ? 0 : -1;
			if (steps < 0)
				break;
			tm_write(p, data, len);
			backdate(p);
			if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
				exit(99);
			for (i = 0; i < NMANY; i += 2)
				mbox_msg_delete(m, (uint32_t)i);
			mbox_set_copy_chunk(m, 4096);
			mbox_test_fault(0, 0);
			if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
				exit(99);
			steps = (int)mbox_test_fault_steps();
			mbox_close(m);
			continue;
		}
		rec = has_record(p);
		got = tm_read(p, &glen);
		if (!got)
			exit(99);
		if (!rec) {
			/* Old behaviour: new layout up to f, the old file after. */
			without++;
			while (f < glen && f < explen && got[f] == exp[f])
				f++;
			if (glen != len || memcmp(got + f, data + f, glen - f) != 0)
				span_ok = 0;
			free(got);
			continue;
		}
		free(got);
		with++;
		backdate(p);
		if (open_close(p) != MBOX_OK)
			continue;
		got = tm_read(p, &glen);
		exact += got && glen == explen && memcmp(got, exp, glen) == 0;
		free(got);
	}
	printf("# %d steps; %d kills before the journal started, %d after\n",
	       steps, without, with);
	ok(steps > 0 && without > 0 && with > 0,
	   "many runs: the journal started partway (%d steps)", steps);
	ok(span_ok, "many runs: kills before the journal lose no byte");
	ok(exact == with, "many runs: kills after it are finished exactly (%d of %d)",
	   exact, with);
	free(data);
	free(exp);
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

/* The journal needs user attributes where the tests run (tmpfs has
 * them only from Linux 6.6 on). */
static int xattrs_work(void)
{
	const char *p = tm_path("probe");
	int r;

	tm_write(p, "x", 1);
	r = setxattr(p, "user.popa3d.probe", "1", 1, 0);
	unlink(p);
	return r == 0;
}

int main(void)
{
	int journal;

	signal(SIGPIPE, SIG_IGN);
	tm_setup();
	journal = xattrs_work();
	test_kill();
	if (journal) {
		test_resume_steps();
		test_forged();
		test_partial_journal();
	} else {
		ok(1, "# SKIP no user extended attributes in %s: journal tests", tm_dir);
	}
	test_xattr_refused();
	test_write_error(journal);
	test_no_needless_writes();
	test_concurrent();
	tm_cleanup();
	return tap_done();
}
