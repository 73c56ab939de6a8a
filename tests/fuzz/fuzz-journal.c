/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the UPDATE journal record (mbox/journal.c,
 * mbox/update.c's resume): the input is the value of the extended
 * attribute, which the mailbox's owner may set to anything.
 *  1. ur_parse on the raw bytes; whatever parses must encode back to
 *     the very same bytes (one encoding per record).
 *  2. The same bytes with the inode, birth time and checksum made right
 *     for a fixed mailbox, so that the fuzzer gets past those checks:
 *     set on the file, then mbox_open (which resumes or drops it).
 *     Invariants (abort() on violation): the open succeeds, or finds
 *     that what a record that passed the checks left is no mbox (such a
 *     record may move bytes of the file down and cut it; it is the
 *     owner's), the file never grows, and the record is gone after the
 *     open, finished or dropped.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "mbox-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Messages of a few sizes, so that plans and samples have room. */
static const char box[] =
	"From a Mon Jan  1 00:00:00 2024\nSubject: one\n\nfirst body line\n\n"
	"From b Mon Jan  1 00:00:00 2024\nSubject: two\n\n"
	"second message, a little longer than the first one\nand two lines\n\n"
	"From c Mon Jan  1 00:00:00 2024\nSubject: three\n\nx\n\n"
	"From d Mon Jan  1 00:00:00 2024\nSubject: four\n\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789\n\n"
	"From e Mon Jan  1 00:00:00 2024\nSubject: five\n\nlast\n\n";

static char path[128];

static void put_box(void)
{
	struct timespec ts[2];
	int fd;

	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, box, sizeof(box) - 1) != (ssize_t)(sizeof(box) - 1) ||
	    close(fd) < 0)
		abort();
	/* An old mtime: no wait for the next second in the sweep's end. */
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 60;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, path, ts, 0) < 0)
		abort();
}

static uint64_t birth_of(const char *p)
{
	struct statx sx;

	if (statx(AT_FDCWD, p, 0, STATX_BTIME, &sx) < 0 || !(sx.stx_mask & STATX_BTIME))
		return 0;
	return (uint64_t)sx.stx_btime.tv_sec * 1000000000u + sx.stx_btime.tv_nsec;
}

static void put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct ur_record r;
	unsigned char rec[UR_MAX], out[UR_MAX];
	char why[128];
	struct mbox_opts o;
	struct mbox *m = NULL;
	struct stat st;
	enum mbox_status rc;

	if (!once) {
		const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(path, sizeof(path), "%s/fuzz-journal-%ld", dir, (long)getpid());
		once = 1;
	}
	if (ur_parse(data, size, &r, why, sizeof(why)) == 0 &&
	    (ur_encode(&r, out) != size || memcmp(out, data, size) != 0))
		abort();		/* two encodings of one record */

	if (size < UR_FIXED || size > UR_MAX)
		return 0;
	memcpy(rec, data, size);
	put_box();
	if (stat(path, &st) < 0)
		abort();
	put64(rec + 8, (uint64_t)st.st_ino);
	put64(rec + 16, birth_of(path));
	put64(rec + size - 8, ur_hash(UR_HASH_INIT, rec, size - 8));
	if (setxattr(path, UR_XATTR, rec, size, 0) < 0)
		return 0;		/* no user attributes here */

	mbox_opts_default(&o);
	o.owner = getuid();
	o.lock_methods = MBOX_LOCK_FCNTL;
	rc = mbox_open(&m, path, &o, why, sizeof(why));
	if (rc != MBOX_OK && rc != MBOX_ERR_DAMAGED)
		abort();		/* a record must never lock the user out */
	mbox_close(m);
	if (stat(path, &st) < 0 || (uint64_t)st.st_size > sizeof(box) - 1)
		abort();		/* the file grew */
	if (getxattr(path, UR_XATTR, NULL, 0) >= 0)
		abort();		/* the record outlived the open */
	(void)unlink(path);
	return 0;
}
