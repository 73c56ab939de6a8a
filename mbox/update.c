/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * UPDATE (RFC 1939 section 6): remove the deleted messages by rewriting
 * the mailbox in place.  Runs as the mail user.  There is no temporary
 * file: in Debian's /var/mail the user may not create one, and a rename
 * would lose the MTA's lock and the file's identity anyway.
 *
 * Why kill -9 at any moment loses no byte of a kept message:
 *  - bytes before the first deleted message are never written;
 *  - from there on, kept runs (raw bytes: From_ line, content,
 *    separator) are copied downward in file order, then the mail that
 *    arrived during the session; the destination is always below the
 *    source (dst < src once a message was skipped);
 *  - a copy step reads a chunk [src, src+n) into memory, then writes it
 *    to [dst, dst+n).  The write only overwrites old bytes in [dst, src),
 *    which are deleted bytes or kept bytes whose new copy is already
 *    complete below dst, or, when the ranges overlap, bytes of this very
 *    chunk at x >= src whose new home x - (src - dst) lies before them:
 *    the kernel fills a regular file's pages in ascending order, so a
 *    write cut short by SIGKILL has written a prefix, and a byte at x is
 *    overwritten only after its new copy at x - (src - dst) exists;
 *  - so at every instant each kept byte is at its old or its new place:
 *    the file is the new layout up to some offset f and the old file from
 *    f on, a duplicated span between them;
 *  - ftruncate comes last, after every byte is in its new place, and only
 *    cuts the stale tail; fsync then makes it durable.
 *
 * Why the next opener can finish the job (mbox_resume, before the scan,
 * under the exclusive lock): before a write we store a record in the
 * extended attribute user.popa3d.update of the mailbox itself (the user
 * may not create files in the spool, but may set attributes on the file;
 * journal.c has the format).  It names the file (inode and birth
 * time), the step (src, dst, the chunk's length), what is left of the
 * kept run at src, a window of the next (skip, keep) runs, and, for a
 * chunk that overlaps its own source, where the write in flight got:
 * replaying a chunk from its
 * start after a partial write would read source bytes it already
 * overwrote.  For each block of at most min(gap, 4 KiB) bytes of the
 * overlap (gap = src - dst) the record holds the first and the last
 * byte the write changes, old and new value.  The written part is a
 * prefix, so the samples read "written" up to some point and "old"
 * after it, and the restart point q is either the first unwritten
 * sample (no byte between the last written sample and it changes) or,
 * when a block's first sample is written and its last one not, the
 * byte after the first: the cut is then inside that block, less than
 * gap bytes on, and every source byte at or after q + gap is intact.
 * The restart is itself a sweep that writes its own records, so a kill
 * during it is finished by the next opener in turn.  Chunks are bounded
 * by gap plus the blocks the record has room for.  A write needs no
 * record of its own while the last one can be redone as it stands: no
 * write since reached its src (so every old byte a resume from it
 * reads is intact, and a chunk copied again lands where it already
 * went) and no pair taken since lies past its window (sweep_stale).
 * With a wide gap that is most writes; no byte is written twice.
 * Before the cut, a last record holds the new end and a hash of the
 * first bytes past it: a later opener that finds the file still that
 * long and those bytes unchanged moves any mail appended since and
 * cuts; otherwise the cut happened and the bytes are new mail (only
 * mail that reproduced those 4 KiB at that very offset, delivered after
 * a kill between the cut and the record's removal, could fool it;
 * doc/mbox.md).
 *
 * The record is the user's to forge.  It is used only if it parses
 * strictly (journal.c), names this inode, every offset it would read
 * lies in the file, every run it names starts at a From_ line of the
 * untouched old layout, and its samples are consistent with the file;
 * anything else is logged once and removed, and the file is served as
 * it is (a duplicated span, as without a record).  A record that passes
 * can only move bytes of this file downward and cut it: never read or
 * write outside it, never make it longer.  Such a record can still drop
 * bytes (whatever it calls the stale span below src), but only a writer
 * of the file can set it, and a writer of the file can drop them anyway;
 * no secret could tell our records from the user's, since the session
 * that writes them runs as the user.
 *
 * The window: a record has room for some 400 to 1700 runs, by their
 * sizes, beside the samples (journal.h), and a 1 GiB mailbox with every
 * 10th message deleted has thousands.  Every record holds the run in
 * progress and as many of the next runs as fit, and the journal is on
 * from the first write, so a kill always finds the chunk in flight
 * inside what its record describes.  A resume does what the record
 * says and treats everything past the window's last run as the tail:
 * kept, moved down as one block.  So a kill while more runs were left
 * than the window held undoes the deletions beyond it (those messages
 * stay, as RFC 1939 allows for a session that did not end its UPDATE;
 * a message not asked for is never deleted), and the record counts
 * them so that the resume can log how many.  The window advances with
 * the rewrite, so a kill once the runs left fit finishes exactly.
 * Samples come first (the chunk size is the rewrite's speed), the
 * window gets the rest of the record.
 *
 * Where attributes are refused, UPDATE runs as above without a record
 * and says so in one log line: a kill then leaves the duplicated span.
 * This covers process death, not power loss: the page cache writes
 * data and the attribute back in any order, so after a crash the record
 * may be ahead of or behind the data on disk; the checks above refuse
 * most such records but cannot promise to.  A failing write (full disk,
 * I/O error) stops the copy before the cut, leaving the record for the
 * next opener.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "mbox-int.h"
#include "sysio.h"

/*
 * Where each pair of the whole plan starts in its varints, and what
 * the pairs from there on delete: the window a record can hold from
 * pair i is the pairs up to the last mark within reach, and what lies
 * past it is what a kill would leave undeleted.
 */
struct sweep_mark {
	size_t off;
	uint64_t del_bytes;
	uint32_t del_msgs;
};

/*
 * Where a rewrite stands: the next old byte to move (src), its new
 * place (dst), what is left of the kept run at src (seg; 0 once only
 * the tail is left), then the remaining (skip, keep) pairs as varints,
 * then the tail: everything from there to the end of the file is kept.
 */
struct sweep {
	struct mbox *m;
	int journal;			/* records before the writes */
	int pending;			/* the first record is still to come */
	uint64_t ino, birth;
	uint64_t src, dst, seg;
	const unsigned char *plan;	/* remaining pairs */
	size_t planlen;
	uint32_t npairs;
	const struct sweep_mark *marks;	/* UPDATE: per pair; resume: NULL */
	uint32_t pidx;			/* pairs taken so far */
	uint64_t undone_bytes;		/* resume: as its record said */
	uint32_t undone_msgs;
	int rec_ok;			/* the last record may still serve */
	uint64_t rec_src;		/* its src: old bytes from here are intact */
	uint32_t rec_pend;		/* pairs its window holds, counted from 0 */
	uint64_t moved;			/* bytes written */
};

/* Testing only (mbox_test_fault): die at the n-th write-like step. */
static long fault_at, fault_steps;
static size_t fault_part;

void mbox_test_fault(long kill_at, size_t part)
{
	fault_at = kill_at;
	fault_part = part;
	fault_steps = 0;
}

long mbox_test_fault_steps(void)
{
	return fault_steps;
}

/* Before each step that changes the file or its record; a write dies
 * after a prefix of part % (n + 1) bytes, as a kill inside it would. */
static void update_fault(int fd, const unsigned char *p, size_t n, uint64_t off)
{
	fault_steps++;
	if (fault_at <= 0 || fault_steps != fault_at)
		return;
	if (p && fault_part % (n + 1))
		(void)!pwrite(fd, p, fault_part % (n + 1), (off_t)off);
	(void)raise(SIGKILL);
}

static int update_pwrite(int fd, const unsigned char *p, size_t n, uint64_t off)
{
	update_fault(fd, p, n, off);
	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static ssize_t update_pread(int fd, unsigned char *p, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * The inode number alone is reused by the next file created after an
 * unlink; with its birth time, a record restored or left on a new file
 * does not pass for this one's.  0 where the filesystem has none.
 */
static uint64_t update_birth(int fd)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) < 0 ||
	    !(sx.stx_mask & STATX_BTIME))
		return 0;
	return (uint64_t)sx.stx_btime.tv_sec * 1000000000u + sx.stx_btime.tv_nsec;
}

/* Take the next pair once the kept run at src is done.  The plan was
 * checked (ur_parse, or built from the index): the varints are sound. */
static void sweep_next(struct sweep *sw)
{
	while (sw->seg == 0 && sw->npairs) {
		size_t pos = 0;
		uint64_t skip = 0, keep = 0;

		(void)ur_get_varint(sw->plan, sw->planlen, &pos, &skip);
		(void)ur_get_varint(sw->plan, sw->planlen, &pos, &keep);
		sw->plan += pos;
		sw->planlen -= pos;
		sw->npairs--;
		sw->pidx++;
		sw->src += skip;
		sw->seg = keep;
	}
}

static int sweep_set(struct sweep *sw, const struct ur_record *r)
{
	unsigned char buf[UR_MAX];
	size_t n = ur_encode(r, buf);

	if (n == 0) {
		errno = E2BIG;
		return -1;
	}
	update_fault(sw->m->fd, NULL, 0, 0);
	return fsetxattr(sw->m->fd, UR_XATTR, buf, n, 0);
}

/*
 * How many sampled blocks the record has room for.  UPDATE's own sweep
 * gives them all they need and windows its plan into the rest (a
 * chunk's size is the rewrite's speed; the window, only how much of a
 * killed UPDATE the next login can finish); a resumed sweep must keep
 * its whole plan, which fit its record.
 */
static uint32_t sweep_sig_room(const struct sweep *sw)
{
	size_t room = UR_MAX - UR_FIXED;

	if (!sw->marks) {
		if (sw->planlen > room)
			return 0;
		room -= sw->planlen;
	}
	room /= 8;
	return room < UR_SIG_MAX ? (uint32_t)room : UR_SIG_MAX;
}

/*
 * The plan the record holds: as many of the next pairs as fit in room
 * bytes (all of a resumed sweep's), and what the pairs beyond delete.
 * Whatever lies beyond the window is the tail to a resume: kept.
 */
static void sweep_window(const struct sweep *sw, size_t room,
			 struct ur_record *r)
{
	const struct sweep_mark *mk = sw->marks;
	uint32_t lo, hi;
	size_t base;

	r->plan = sw->plan;
	if (!mk) {
		r->planlen = sw->planlen;
		r->npairs = sw->npairs;
		r->undone_bytes = sw->undone_bytes;
		r->undone_msgs = sw->undone_msgs;
		return;
	}
	/* The last mark in [pidx, pidx + npairs] within room of pidx. */
	base = mk[sw->pidx].off;
	lo = sw->pidx;
	hi = sw->pidx + sw->npairs;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (mk[mid].off - base <= room)
			lo = mid;
		else
			hi = mid - 1;
	}
	r->planlen = mk[lo].off - base;
	r->npairs = lo - sw->pidx;
	r->undone_bytes = mk[lo].del_bytes;
	r->undone_msgs = mk[lo].del_msgs;
}

/*
 * The record for moving win[0, got) from src to dst: the position, the
 * plan, and for each block of the destination that overlaps the source
 * the first and last byte the write changes, with old and new values.
 */
static int sweep_record(struct sweep *sw, size_t got)
{
	struct ur_record r;
	const unsigned char *w = sw->m->win;
	uint64_t gap = sw->src - sw->dst;
	size_t over = got > gap ? got - (size_t)gap : 0, a;

	memset(&r, 0, sizeof(r));
	r.ino = sw->ino;
	r.birth = sw->birth;
	r.src = sw->src;
	r.dst = sw->dst;
	r.seg = sw->seg;
	r.len = (uint32_t)got;
	if (got)
		r.blk = gap < UR_BLOCK ? (uint32_t)gap : UR_BLOCK;
	/* Old byte at src + i is w[i]; the new one is w[gap + i]. */
	for (a = 0; a < over; a += r.blk, r.nsig++) {
		struct ur_sig *s = &r.sig[r.nsig];
		size_t n = over - a < r.blk ? over - a : r.blk, i, j;
		const unsigned char *o = w + a, *nw = w + gap + a;

		/* memcmp over 64-byte pieces first: a mailbox of look-alike
		 * messages can agree with itself across the gap for long. */
		for (i = 0; i + 64 <= n && memcmp(o + i, nw + i, 64) == 0; i += 64)
			;
		for (; i < n && o[i] == nw[i]; i++)
			;
		if (i == n) {
			s->e = s->l = UR_NONE;
			continue;
		}
		for (j = n; j - i >= 64 && memcmp(o + j - 64, nw + j - 64, 64) == 0; j -= 64)
			;
		for (j--; o[j] == nw[j]; j--)
			;
		s->e = (uint16_t)i;
		s->e_old = o[i];
		s->e_new = nw[i];
		s->l = (uint16_t)j;
		s->l_old = o[j];
		s->l_new = nw[j];
	}
	sweep_window(sw, UR_MAX - UR_FIXED - (size_t)r.nsig * 8, &r);
	if (sweep_set(sw, &r) < 0)
		return -1;
	sw->rec_ok = 1;
	sw->rec_src = sw->src;
	sw->rec_pend = sw->pidx + r.npairs;
	return 0;
}

/*
 * Whether the chunk of got bytes at src needs a record of its own.  The
 * last record still serves while no write since reached its src (every
 * old byte it would read is intact, so redoing its chunks is harmless)
 * and the pairs taken since are inside its window (else a resume would
 * keep what they delete).  A chunk overlapping its own source always
 * needs one: its samples.  With a wide gap this skips most records.
 */
static int sweep_stale(const struct sweep *sw, size_t got)
{
	return !sw->rec_ok || sw->dst + got > sw->rec_src ||
	    sw->pidx > sw->rec_pend;
}

static int xattr_refused(int e)
{
	return e == ENOTSUP || e == EOPNOTSUPP || e == ENOSPC || e == E2BIG ||
	    e == ERANGE || e == EDQUOT || e == EPERM || e == EACCES;
}

/*
 * Move everything the plan keeps down to dst, chunk by chunk.  With the
 * journal on, a chunk overlapping its own source is at most gap bytes
 * plus as many sampled blocks as the record holds (see the head
 * comment).  0, or -1 with errno (ESPIPE: the file ended too soon).
 */
static int sweep_run(struct sweep *sw)
{
	struct mbox *m = sw->m;
	size_t chunk = m->chunk && m->chunk < m->winsize ? m->chunk : m->winsize;

	for (;;) {
		int tail;
		size_t want = chunk;
		ssize_t got;
		uint64_t gap;

		sweep_next(sw);
		if (sw->pending) {
			/* The first record says whether the file takes them. */
			sw->pending = 0;
			if (sweep_record(sw, 0) == 0)
				sw->journal = 1;
			else if (!xattr_refused(errno))
				return -1;
			else
				log_msg(LOG_WARNING, "mbox: update journal off: "
					"extended attributes refused (%m); a kill "
					"now leaves a duplicated span");
		}
		tail = sw->seg == 0;
		if (!tail && sw->seg < want)
			want = (size_t)sw->seg;
		gap = sw->src - sw->dst;
		if (sw->journal) {
			uint64_t blk = gap < UR_BLOCK ? gap : UR_BLOCK;
			uint64_t most = gap + (uint64_t)sweep_sig_room(sw) * blk;

			if (most < want)
				want = (size_t)most;
		}
		got = update_pread(m->fd, m->win, want, sw->src);
		if (got < 0)
			return -1;
		if (got == 0 && tail)
			return 0;
		if (!tail && (size_t)got < want) {
			errno = ESPIPE;
			return -1;
		}
		if (sw->journal && sweep_stale(sw, (size_t)got) &&
		    sweep_record(sw, (size_t)got) < 0)
			return -1;
		if (update_pwrite(m->fd, m->win, (size_t)got, sw->dst) < 0)
			return -1;
		sw->src += (uint64_t)got;
		sw->dst += (uint64_t)got;
		sw->moved += (uint64_t)got;
		if (!tail)
			sw->seg -= (uint64_t)got;
	}
}

/*
 * The last record before the cut: everything is in place below dst,
 * src is the old end.  A hash of the first bytes past dst tells the
 * next opener whether the cut happened (they are stale bytes until
 * then, new mail after it).
 */
static int sweep_cut_record(struct sweep *sw)
{
	struct ur_record r;
	unsigned char b[UR_STALE];
	ssize_t got;

	memset(&r, 0, sizeof(r));
	r.flags = UR_TRUNC;
	r.ino = sw->ino;
	r.birth = sw->birth;
	r.src = sw->src;
	r.dst = sw->dst;
	r.stale_len = sw->src - sw->dst < UR_STALE ? sw->src - sw->dst : UR_STALE;
	got = update_pread(sw->m->fd, b, (size_t)r.stale_len, sw->dst);
	if (got < 0)
		return -1;
	if ((uint64_t)got != r.stale_len) {
		errno = ESPIPE;
		return -1;
	}
	r.stale_hash = ur_hash(UR_HASH_INIT, b, (size_t)got);
	return sweep_set(sw, &r);
}

/*
 * Readers that compare mtimes in whole seconds (popa3d, MUAs' new-mail
 * checks) must see that we changed the file: if our writes left the
 * mtime in the second it had before, wait for the next second and set
 * it explicitly.
 */
static int update_touch(struct mbox *m, long long before_s)
{
	struct stat st;
	struct timespec ts[2];

	if (fstat(m->fd, &st) < 0)
		return -1;
	if ((long long)st.st_mtim.tv_sec > before_s)
		return 0;
	while ((long long)time(NULL) <= before_s)
		io_sleep_ms(50);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_NOW;
	return futimens(m->fd, ts);
}

/* Cut, sync, and only then drop the record. */
static int sweep_finish(struct sweep *sw, long long before_s)
{
	if (sw->journal && sweep_cut_record(sw) < 0)
		return -1;
	update_fault(sw->m->fd, NULL, 0, 0);
	if (ftruncate(sw->m->fd, (off_t)sw->dst) < 0 || fsync(sw->m->fd) < 0 ||
	    update_touch(sw->m, before_s) < 0)
		return -1;
	if (sw->journal)
		update_fault(sw->m->fd, NULL, 0, 0);
	if (sw->journal && fremovexattr(sw->m->fd, UR_XATTR) < 0)
		/* The cut record left behind resolves itself: the next
		 * opener sees the cut done and removes it. */
		log_msg(LOG_WARNING, "mbox: update record not removed: %m");
	return 0;
}

/*
 * The plan from the index: from the first deleted message on, (skip,
 * keep) runs of raw extents, as varints in a buffer of ours, and the
 * sweep's marks (NULL, both freed, if out of memory).
 */
static unsigned char *update_plan(struct mbox *m, uint32_t first,
				  struct sweep *sw, struct sweep_mark **marksp)
{
	unsigned char *plan;
	struct sweep_mark *mk;
	uint32_t j, runs = 0, i;
	size_t cap;

	for (j = first; j < m->count; j++)
		if ((m->msgs[j].flags & MBOX_MSG_DELETED) &&
		    (j == first || !(m->msgs[j - 1].flags & MBOX_MSG_DELETED)))
			runs++;
	cap = (size_t)runs * 20;
	plan = malloc(cap);
	mk = calloc((size_t)runs + 1, sizeof(*mk));
	if (!plan || !mk) {
		free(plan);
		free(mk);
		return NULL;
	}
	for (j = first, i = 0; j < m->count; i++) {
		uint64_t skip = 0, keep = 0;
		uint32_t n = 0;

		mk[i].off = sw->planlen;
		for (; j < m->count && (m->msgs[j].flags & MBOX_MSG_DELETED); j++, n++)
			skip += (j + 1 < m->count ? m->msgs[j + 1].from : m->scanned) -
			    m->msgs[j].from;
		for (; j < m->count && !(m->msgs[j].flags & MBOX_MSG_DELETED); j++)
			keep += (j + 1 < m->count ? m->msgs[j + 1].from : m->scanned) -
			    m->msgs[j].from;
		(void)ur_put_varint(plan, cap, &sw->planlen, skip);
		(void)ur_put_varint(plan, cap, &sw->planlen, keep);
		mk[i].del_bytes = skip;
		mk[i].del_msgs = n;
	}
	mk[runs].off = sw->planlen;
	/* From counts per pair to what pairs i.. delete. */
	for (i = runs; i-- > 0;) {
		mk[i].del_bytes += mk[i + 1].del_bytes;
		mk[i].del_msgs += mk[i + 1].del_msgs;
	}
	sw->plan = plan;
	sw->npairs = runs;
	sw->marks = mk;
	*marksp = mk;
	return plan;
}

static enum mbox_status update_rewrite(struct mbox *m, uint32_t first,
				       const struct stat *st, char *why,
				       size_t whysize)
{
	unsigned char *plan;
	struct sweep_mark *marks = NULL;
	struct sweep sw;

	memset(&sw, 0, sizeof(sw));
	sw.m = m;
	sw.ino = (uint64_t)st->st_ino;
	sw.birth = update_birth(m->fd);
	sw.src = sw.dst = m->msgs[first].from;
	sw.pending = 1;
	plan = update_plan(m, first, &sw, &marks);
	if (!plan) {
		errno = ENOMEM;
		goto fail;
	}
	if (sweep_run(&sw) < 0 || sweep_finish(&sw, (long long)st->st_mtim.tv_sec) < 0)
		goto fail;
	free(plan);
	free(marks);
	return MBOX_OK;
fail:
	mbox_why(why, whysize, "rewrite: %s (mailbox left complete%s)",
		 strerror(errno), sw.journal ? "; the next login finishes it" :
		 ", not shortened");
	free(plan);
	free(marks);
	return MBOX_ERR_SYS;
}

#define BAD(...) do { mbox_why(why, whysize, __VA_ARGS__); return -1; } while (0)

/* A message starts at `at' of the old layout, or the file ends there. */
static int resume_boundary(struct mbox *m, uint64_t at, uint64_t size,
			   int may_end, char *why, size_t whysize)
{
	unsigned char b[5];

	if (at > size || (at == size && !may_end))
		BAD("plan reaches past the end of the file (%llu > %llu)",
		    (unsigned long long)at, (unsigned long long)size);
	if (at == size)
		return 0;
	if (update_pread(m->fd, b, 5, at) != 5 || memcmp(b, "From ", 5) != 0)
		BAD("no message starts at %llu", (unsigned long long)at);
	return 0;
}

/*
 * Everything the plan will read lies in the file, is still the old
 * layout (beyond what any write so far reached), and every run starts
 * at a From_ line.
 */
static int resume_check_plan(struct mbox *m, const struct ur_record *r,
			     uint64_t size, char *why, size_t whysize)
{
	uint64_t at = r->src + r->seg, skip, keep;
	size_t pos = 0;
	uint32_t i;

	if (r->src > size || r->len > size - r->src)
		BAD("chunk past the end of the file");
	if (r->seg == 0)
		return 0;		/* only the tail is left */
	for (i = 0; i < r->npairs; i++) {
		(void)ur_get_varint(r->plan, r->planlen, &pos, &skip);
		(void)ur_get_varint(r->plan, r->planlen, &pos, &keep);
		if (resume_boundary(m, at, size, 0, why, whysize) < 0)
			return -1;
		at += skip;
		if (keep && resume_boundary(m, at, size, 0, why, whysize) < 0)
			return -1;
		at += keep;
	}
	return resume_boundary(m, at, size, 1, why, whysize);
}

/*
 * How far the write in flight got.  The write fills its destination in
 * ascending order and a kill leaves a prefix [dst, f) written.  The
 * samples are the first and last changed byte of each block of the
 * part that overlaps the source; each says "written" or "not yet", and
 * must form a prefix.  Any q is a safe restart point if every byte
 * below q is already right and every byte read from q + gap on is still
 * the old one; q = the first sample not yet written (no changed byte
 * lies between it and the last written one), or the byte after a
 * block's written first sample when its last one is not (then f is
 * within that block, less than gap past q).
 */
static int resume_frontier(struct mbox *m, const struct ur_record *r,
			   uint64_t *q, char *why, size_t whysize)
{
	uint64_t gap = r->src - r->dst;
	uint64_t over = r->len > gap ? r->len - gap : 0;
	uint64_t wpos = 0, upos = 0;
	int have_w = 0, have_u = 0, w_first = 0, w_blk = -1, u_blk = -1;
	uint32_t k;

	*q = r->dst;
	if (!over)
		return 0;		/* the source was never written */
	for (k = 0; k < r->nsig; k++) {
		const struct ur_sig *s = &r->sig[k];
		uint64_t base = r->src + (uint64_t)k * r->blk;
		int n = s->e == s->l ? 1 : 2, i;

		if (s->e == UR_NONE)
			continue;
		for (i = 0; i < n; i++) {
			uint64_t at = base + (i ? s->l : s->e);
			unsigned char c, old = i ? s->l_old : s->e_old;
			unsigned char nw = i ? s->l_new : s->e_new;

			if (update_pread(m->fd, &c, 1, at) != 1)
				BAD("chunk past the end of the file");
			if (c != old && c != nw)
				BAD("byte %llu matches neither side of the record",
				    (unsigned long long)at);
			if (c == nw && c != old) {
				if (have_u)
					BAD("written byte %llu after an unwritten one",
					    (unsigned long long)at);
				have_w = 1;
				wpos = at;
				w_first = i == 0 && n == 2;
				w_blk = (int)k;
			} else if (!have_u) {
				have_u = 1;
				upos = at;
				u_blk = (int)k;
			}
		}
	}
	if (!have_w)
		*q = r->dst;
	else if (!have_u)
		*q = r->dst + r->len;
	else if (w_first && w_blk == u_blk)
		*q = wpos + 1;
	else
		*q = upos;
	return 0;
}

static int resume_discard(struct mbox *m, const char *reason)
{
	log_msg(LOG_WARNING, "mbox: update record discarded, mailbox left as "
		"it is: %s", reason);
	if (fremovexattr(m->fd, UR_XATTR) < 0 && errno != ENODATA) {
		log_msg(LOG_WARNING, "mbox: update record not removed: %m");
		return -1;
	}
	return 0;
}

enum resume_how { RESUME_SWEEP, RESUME_CUT_DONE, RESUME_DISCARD };

/*
 * Where the sweep takes up again, from a record r that names this file
 * of size bytes: RESUME_SWEEP with sw set; RESUME_CUT_DONE when the cut
 * the record announces has happened (only the record is left to
 * remove); RESUME_DISCARD, with the reason, when the file does not
 * match what the record says.
 */
static enum resume_how resume_plan(struct mbox *m, const struct ur_record *r,
				   uint64_t size, struct sweep *sw,
				   char *reason, size_t rsize)
{
	uint64_t q;

	memset(sw, 0, sizeof(*sw));
	sw->m = m;
	sw->journal = 1;
	sw->ino = r->ino;
	sw->birth = r->birth;
	if (r->flags & UR_TRUNC) {
		unsigned char b[UR_STALE];

		if (size < r->dst) {
			mbox_why(reason, rsize, "file shorter than its new end");
			return RESUME_DISCARD;
		}
		if (size < r->src ||
		    update_pread(m->fd, b, (size_t)r->stale_len, r->dst) !=
		    (ssize_t)r->stale_len ||
		    ur_hash(UR_HASH_INIT, b, (size_t)r->stale_len) != r->stale_hash)
			return RESUME_CUT_DONE;
		if (resume_boundary(m, r->src, size, 1, reason, rsize) < 0)
			return RESUME_DISCARD;
		sw->src = r->src;
		sw->dst = r->dst;
		return RESUME_SWEEP;
	}
	if (resume_check_plan(m, r, size, reason, rsize) < 0 ||
	    resume_frontier(m, r, &q, reason, rsize) < 0)
		return RESUME_DISCARD;
	sw->src = r->src + (q - r->dst);
	sw->dst = q;
	sw->seg = r->seg ? r->seg - (q - r->dst) : 0;
	sw->plan = r->plan;
	sw->planlen = r->planlen;
	sw->npairs = r->npairs;
	sw->undone_bytes = r->undone_bytes;
	sw->undone_msgs = r->undone_msgs;
	return RESUME_SWEEP;
}

/* Under the exclusive lock: finish what the record describes. */
static enum mbox_status resume_locked(struct mbox *m, char *why, size_t whysize)
{
	unsigned char buf[UR_MAX + 1];
	char reason[160];
	struct ur_record r;
	struct sweep sw;
	struct stat st;
	ssize_t n;
	uint64_t size;

	n = fgetxattr(m->fd, UR_XATTR, buf, sizeof(buf));
	if (n < 0) {
		if (errno == ENODATA || xattr_refused(errno))
			return MBOX_OK;	/* finished by another session */
		if (errno == ERANGE) {
			(void)resume_discard(m, "record too large");
			return MBOX_OK;
		}
		mbox_why(why, whysize, "update record: %s", strerror(errno));
		return MBOX_ERR_SYS;
	}
	if (fstat(m->fd, &st) < 0) {
		mbox_why(why, whysize, "fstat: %s", strerror(errno));
		return MBOX_ERR_SYS;
	}
	size = (uint64_t)st.st_size;
	if (ur_parse(buf, (size_t)n, &r, reason, sizeof(reason)) < 0)
		goto discard;
	if (r.ino != (uint64_t)st.st_ino || r.birth != update_birth(m->fd)) {
		mbox_why(reason, sizeof(reason), "written for another file "
			 "(inode %llu)", (unsigned long long)r.ino);
		goto discard;
	}
	switch (resume_plan(m, &r, size, &sw, reason, sizeof(reason))) {
	case RESUME_SWEEP:
		break;
	case RESUME_DISCARD:
		goto discard;
	case RESUME_CUT_DONE:
		/* Cut already: what follows dst is new mail. */
		if (fremovexattr(m->fd, UR_XATTR) < 0 && errno != ENODATA) {
			mbox_why(why, whysize, "update record: %s", strerror(errno));
			return MBOX_ERR_SYS;
		}
		return MBOX_OK;
	}
	if (sweep_run(&sw) < 0 ||
	    sweep_finish(&sw, (long long)st.st_mtim.tv_sec) < 0) {
		mbox_why(why, whysize, "finishing an interrupted update: %s",
			 strerror(errno));
		return MBOX_ERR_SYS;
	}
	if (sw.undone_msgs)
		log_msg(LOG_NOTICE, "mbox: finished an interrupted update "
			"(%llu bytes moved, new size %llu); %lu messages "
			"(%llu bytes) it was to delete lay beyond its record's "
			"window and were kept", (unsigned long long)sw.moved,
			(unsigned long long)sw.dst, (unsigned long)sw.undone_msgs,
			(unsigned long long)sw.undone_bytes);
	else
		log_msg(LOG_NOTICE, "mbox: finished an interrupted update "
			"(%llu bytes moved, new size %llu)",
			(unsigned long long)sw.moved, (unsigned long long)sw.dst);
	return MBOX_OK;
discard:
	if (resume_discard(m, reason) < 0) {
		mbox_why(why, whysize, "update record could not be removed");
		return MBOX_ERR_SYS;
	}
	return MBOX_OK;
}

enum mbox_status mbox_resume(struct mbox *m, char *why, size_t whysize)
{
	sigset_t all, old;
	enum mbox_status rc;
	char probe[1], err[160] = "";

	/* The usual case costs one system call: no record. */
	if (m->rdonly || m->fd < 0 ||
	    (fgetxattr(m->fd, UR_XATTR, probe, 0) < 0 && errno != ERANGE))
		return MBOX_OK;
	rc = mbox_lock(m, 1, why, whysize);
	if (rc != MBOX_OK)
		return rc;
	if (sigfillset(&all) < 0 || sigprocmask(SIG_BLOCK, &all, &old) < 0) {
		mbox_why(err, sizeof(err), "sigprocmask: %s", strerror(errno));
		rc = MBOX_ERR_SYS;
	} else {
		rc = resume_locked(m, err, sizeof(err));
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
	}
	mbox_unlock(m);
	if (rc != MBOX_OK) {
		/* A full disk must not lock the user out: the record stays
		 * for the next open, the mailbox is served as it is. */
		log_msg(LOG_WARNING, "mbox: interrupted update not finished "
			"(%s): served as it is, the next login tries again", err);
		rc = MBOX_OK;
	}
	return rc;
}

enum mbox_status mbox_file_update(struct mbox *m, char *why, size_t whysize)
{
	sigset_t all, old;
	struct stat st;
	uint32_t first;
	enum mbox_status rc;

	mbox_why(why, whysize, "ok");
	if (m->updated)
		return MBOX_OK;
	for (first = 0; first < m->count; first++)
		if (m->msgs[first].flags & MBOX_MSG_DELETED)
			break;
	if (first == m->count || m->fd < 0)
		return MBOX_OK;		/* nothing deleted: write nothing */
	if (m->broken) {
		mbox_why(why, whysize, "changed by another program");
		return MBOX_ERR_CHANGED;
	}
	if (m->rdonly) {
		mbox_why(why, whysize, "mailbox is read-only for the user");
		return MBOX_ERR_SYS;
	}
	rc = mbox_lock(m, 1, why, whysize);
	if (rc != MBOX_OK)
		return rc;
	rc = mbox_check_why(m, why, whysize);
	if (rc != MBOX_OK)
		goto out;
	if (fstat(m->fd, &st) < 0) {
		mbox_why(why, whysize, "fstat: %s", strerror(errno));
		rc = MBOX_ERR_SYS;
		goto out;
	}

	/* A signal handler must not abandon the rewrite halfway. */
	if (sigfillset(&all) < 0 || sigprocmask(SIG_BLOCK, &all, &old) < 0) {
		mbox_why(why, whysize, "sigprocmask: %s", strerror(errno));
		rc = MBOX_ERR_SYS;
		goto out;
	}
	rc = update_rewrite(m, first, &st, why, whysize);
	if (sigprocmask(SIG_SETMASK, &old, NULL) < 0 && rc == MBOX_OK) {
		mbox_why(why, whysize, "sigprocmask: %s", strerror(errno));
		rc = MBOX_ERR_SYS;
	}
	m->updated = rc == MBOX_OK;
	/* From now on the index no longer describes the file. */
	m->broken = 1;
out:
	mbox_unlock(m);
	return rc;
}

void mbox_set_copy_chunk(struct mbox *m, size_t n)
{
	m->chunk = n > 0 && n < MBOX_WINDOW ? n : 0;
}
