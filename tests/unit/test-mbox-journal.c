/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The UPDATE journal (mbox/update.c, mbox/journal.c) under fire.
 *  1. kill -9 at every step of the rewrite, the resume killed too, mail
 *     appended before the next open: it leaves the exact mailbox asked.
 *  2. forged, stale and mutated records: dropped with the file
 *     untouched, or at most bytes of the file moved down and cut.
 *  3. more deletion runs than one record holds: kills all over the
 *     UPDATE leave the mailbox asked for, but for the deletions past
 *     the window the record held, which are undone.
 */
#include "config.h"

#include <signal.h>
#include <sys/wait.h>

#include "mbox-int.h"
#include "tap.h"
#include "test-mbox-box.h"

/* A child that opens, deletes del[0..n), and UPDATEs with a kill at
 * step k. */
static pid_t update_child(const char *p, const int *del, size_t n,
			  size_t chunk, long k, size_t part)
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
		for (i = 0; i < n; i++)
			if (del[i])
				mbox_msg_delete(m, (uint32_t)i);
		mbox_set_copy_chunk(m, chunk);
		mbox_test_fault(k, part);
		_exit(mbox_update(m, why, sizeof(why)) == MBOX_OK ? 0 : 4);
	}
	return pid;
}

/* How many steps a whole UPDATE of this pattern takes. */
static long update_steps(const char *p, const char *data, size_t len,
			 const int *del, size_t n, size_t chunk)
{
	struct mbox_opts o = tm_opts();
	struct mbox *m = NULL;
	char why[256];
	size_t i;
	long steps;

	tm_write(p, data, len);
	backdate(p);
	if (mbox_open(&m, p, &o, why, sizeof(why)) != MBOX_OK)
		exit(99);
	for (i = 0; i < n; i++)
		if (del[i])
			mbox_msg_delete(m, (uint32_t)i);
	mbox_set_copy_chunk(m, chunk);
	mbox_test_fault(0, 0);
	if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
		exit(99);
	steps = mbox_test_fault_steps();
	mbox_close(m);
	return steps;
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

/* Open p in a child killed at one of the first `most' steps of its
 * resume: 1 if the kill came. */
static int resume_killed(const char *p, const char *lock, unsigned most)
{
	int status;
	pid_t pid;

	backdate(p);
	pid = fork();
	if (pid == 0) {
		mbox_test_fault(1 + (long)rnd(most), rnd(1u << 20));
		_exit(open_close(p) == MBOX_OK ? 0 : 3);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		exit(99);
	unlink(tm_path(lock));
	return WIFSIGNALED(status);
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
		steps = update_steps(p, b.data, b.len, del, NMSG, chunk);
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
			pid = update_child(p, del, NMSG, chunk, k, rnd(1u << 20));
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
			/* Kill the resume too, at one of its steps. */
			if (runs % 3 == 0 && has_record(p))
				t.resumed_killed += resume_killed(p, "resume.lock", 40);
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
	pid = update_child(p, del, NMSG, 1024, k, 777);
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
 * More deletion runs than one record holds: NMANY small messages, every
 * other one deleted (3300 runs) or a random third.  The record carries
 * the run in progress and as many of the next as fit, from the first
 * write on; a resume keeps whatever lies past that window.  So a kill
 * anywhere must leave, after the next open, the old mailbox minus the
 * deleted messages that start below the window's end, plus the mail
 * appended since: nothing lost, twice or torn, and exactly the mailbox
 * asked for once the runs left fit.
 */
#define NMANY 6600

struct many {
	char *data;
	size_t len, off[NMANY + 1];
	int del[NMANY];
};

static void many_build(struct many *w)
{
	size_t i;

	w->data = malloc(NMANY * 160);
	w->len = 0;
	if (!w->data)
		exit(99);
	for (i = 0; i < NMANY; i++) {
		w->off[i] = w->len;
		w->len += (size_t)snprintf(w->data + w->len, 160,
					   "From m%zu Mon Jan  1 00:00:00 2024\nSubject: %zu\n\n"
					   "%0*zu\n\n", i, i, (int)(20 + i % 70), i);
	}
	w->off[NMANY] = w->len;
}

/* Where the window of record rec ends in the old layout (SIZE_MAX: it
 * holds every run left), how many deleted messages lie past it, and
 * the record's bytes left unused. */
static uint32_t win_min = UINT32_MAX, win_max;

static size_t window_end(const unsigned char *rec, size_t n, uint32_t *undone,
			 size_t *unused)
{
	struct ur_record r;
	char why[128];
	size_t pos = 0;
	uint64_t at, skip, keep;
	uint32_t i;

	if (ur_parse(rec, n, &r, why, sizeof(why)) < 0) {
		printf("# record does not parse: %s\n", why);
		exit(99);
	}
	*undone = r.undone_msgs;
	*unused = UR_MAX - n;
	if (!r.undone_msgs)
		return SIZE_MAX;
	win_min = r.npairs < win_min ? r.npairs : win_min;
	win_max = r.npairs > win_max ? r.npairs : win_max;
	at = r.src + r.seg;
	for (i = 0; i < r.npairs; i++) {
		(void)ur_get_varint(r.plan, r.planlen, &pos, &skip);
		(void)ur_get_varint(r.plan, r.planlen, &pos, &keep);
		at += skip + keep;
	}
	return (size_t)at;
}

/* One UPDATE of w killed at step k: 1 if the kill came. */
static int many_killed(const char *p, const struct many *w, long k)
{
	int status;
	pid_t pid;

	unlink(p);
	tm_write(p, w->data, w->len);
	backdate(p);
	pid = update_child(p, w->del, NMANY, 4096, k, 333 + (size_t)k);
	if (waitpid(pid, &status, 0) != pid)
		exit(99);
	unlink(tm_path("many.lock"));
	return WIFSIGNALED(status);
}

static void test_window(void)
{
	char p[256], *exp;
	struct many *w = malloc(sizeof(*w));
	int kind, runs = 0, asked = 0, undone_runs = 0, match = 0, honest = 1;
	int full = 1;
	int norec = 0, resumes_killed = 0;

	snprintf(p, sizeof(p), "%s", tm_path("many"));
	if (!w)
		exit(99);
	many_build(w);
	exp = malloc(w->len + 256);
	if (!exp)
		exit(99);
	for (kind = 0; kind < 2; kind++) {
		long steps, k, stride;
		size_t i, nruns = 0;

		for (i = 0; i < NMANY; i++) {
			w->del[i] = kind == 0 ? i % 2 == 0 : rnd(3) == 0;
			nruns += w->del[i] && (i == 0 || !w->del[i - 1]);
		}
		unlink(p);
		steps = update_steps(p, w->data, w->len, w->del, NMANY, 4096);
		stride = steps / 40 + 1;
		printf("# pattern %d: %zu deletion runs, %ld steps\n", kind, nruns, steps);
		/* The first steps, then spread, then the last four. */
		for (k = 1; k <= steps; k = k < 4 ? k + 1 : k >= steps - 4 ? k + 1 :
		     k + stride > steps - 4 ? steps - 4 : k + stride + (long)rnd(3)) {
			unsigned char rec[UR_MAX + 1];
			char extra[160], *got;
			size_t extralen = 0, explen = 0, end = SIZE_MAX, glen, unused = 0;
			uint32_t undone = 0, past = 0;
			ssize_t n;

			if (!many_killed(p, w, k)) {
				printf("# pattern %d step %ld: not killed\n", kind, k);
				continue;
			}
			runs++;
			n = getxattr(p, UR_XATTR, rec, sizeof(rec));
			if (n > 0)
				end = window_end(rec, (size_t)n, &undone, &unused);
			else
				norec++;
			/* The expected mailbox: what the window holds is done. */
			for (i = 0; i < NMANY; i++) {
				if (w->del[i] && n > 0 && w->off[i] < end)
					continue;
				past += w->del[i] && n > 0;
				memcpy(exp + explen, w->data + w->off[i], w->off[i + 1] - w->off[i]);
				explen += w->off[i + 1] - w->off[i];
			}
			/* A window that stops short holds as many runs as fit:
			 * no room left for one more pair (two varints of
			 * these sizes, at most 2 bytes each). */
			if (n > 0 && undone && unused >= 4) {
				printf("# step %ld: window stops with %zu bytes unused\n",
				       k, unused);
				full = 0;
			}
			if (n > 0 && past != undone) {
				printf("# step %ld: record says %u undone, %u past its window\n",
				       k, undone, past);
				honest = 0;
			}
			undone_runs += undone > 0;
			asked += n > 0 && undone == 0;
			if (runs % 2) {
				extralen = (size_t)snprintf(extra, sizeof(extra),
					"From new Mon Jan  1 00:00:00 2024\n\nappended %d\n\n", runs);
				tm_append(p, extra, extralen);
				memcpy(exp + explen, extra, extralen);
				explen += extralen;
			}
			/* Kill the resume too, early in its sweep. */
			if (runs % 4 == 1 && n > 0)
				resumes_killed += resume_killed(p, "many.lock", 12);
			backdate(p);
			mbox_test_fault(0, 0);
			if (open_close(p) != MBOX_OK)
				printf("# pattern %d step %ld: reopen failed\n", kind, k);
			got = tm_read(p, &glen);
			if (got && glen == explen && memcmp(got, exp, glen) == 0 && !has_record(p))
				match++;
			else
				printf("# pattern %d step %ld/%ld: %zu bytes, want %zu\n",
				       kind, k, steps, got ? glen : 0, explen);
			free(got);
		}
	}
	printf("# %d kills: %d before the first record, %d with deletions past the "
	       "window (of %u to %u runs), %d finished as asked; %d resumes killed\n",
	       runs, norec, undone_runs, win_min, win_max, asked, resumes_killed);
	ok(runs >= 80 && undone_runs > 0 && asked > 0,
	   "many runs: %d kills over the whole UPDATE, early ones past the window", runs);
	ok(match == runs, "many runs: the mailbox the window asked for in %d of %d "
	   "(none lost, twice or torn)", match, runs);
	ok(honest, "many runs: the record counts the deletions past its window");
	ok(full, "many runs: a window that stops short has no room for one more run");
	free(exp);
	free(w->data);
	free(w);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	tm_setup();
	if (!xattrs_work()) {
		ok(1, "# SKIP no user extended attributes in %s: journal tests", tm_dir);
		tm_cleanup();
		return tap_done();
	}
	test_resume_steps();
	test_forged();
	test_window();
	tm_cleanup();
	return tap_done();
}
