/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the mbox engine: the input is a mailbox file.  We
 * scan it, send every message with RETR and TOP 0..3 into a sink that
 * checks the POP3 framing, check the UIDLs, then delete every other
 * message, UPDATE, and check that what is left scans back to the kept
 * messages.  Invariants checked (abort() on violation):
 *  - every line on the wire ends in CRLF, a leading '.' is doubled, and a
 *    non-empty message ends in CRLF;
 *  - RETR octets minus stuffed dots == mbox_msg_size();
 *  - TOP n is a prefix of RETR; TOP grows with n;
 *  - UIDLs are 1..70 chars of 0x21..0x7E and unique;
 *  - after UPDATE the file holds exactly the kept messages, same sizes;
 *  - message count, sizes and UIDL digests equal those of a naive
 *    reference parser below, written line by line over the whole input
 *    from the rules in doc/mbox.md (the engine reads through windows,
 *    640 bytes in the fuzzing build, so the two share no code path);
 *  - all of it twice: with the portable body loops of the scanner and
 *    the encoder, then with the ones this CPU picks (simd.h).
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mbox-int.h"
#include "simd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	unsigned char *buf;
	size_t len, cap;
	unsigned long long stuffed;
	int bol, prev, dotpending;
};

static int sink_write(void *ctx, const void *vp, size_t n)
{
	struct sink *s = ctx;
	const unsigned char *p = vp;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (s->dotpending) {
			if (c != '.')
				abort();	/* unstuffed leading dot */
			s->stuffed++;
			s->dotpending = 0;
		} else if (s->bol && c == '.') {
			s->dotpending = 1;
		}
		if (c == '\n' && s->prev != '\r')
			abort();		/* bare LF on the wire */
		s->bol = c == '\n';
		s->prev = c;
	}
	if (s->len + n > s->cap) {
		size_t ncap = (s->len + n) * 2;
		unsigned char *nb = realloc(s->buf, ncap);

		if (!nb)
			abort();
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	s->bol = 1;
}

/* The reference: the From_ rule, RFC 1939 sizes, popa3d's digest. */
struct ref {
	uint32_t n;
	uint64_t *size;
	char (*uid)[17];
};

static int ref_eq(const uint8_t *p, size_t n, const char *name)
{
	size_t l = strlen(name), i;

	if (n < l)
		return 0;
	for (i = 0; i < l; i++) {
		int a = p[i], b = (unsigned char)name[i];

		if (a >= 'A' && a <= 'Z')
			a += 32;
		if (b >= 'A' && b <= 'Z')
			b += 32;
		if (a != b)
			return 0;
	}
	return 1;
}

static uint64_t ref_size(const uint8_t *d, size_t from, size_t to)
{
	uint64_t n = to - from;
	size_t i;

	for (i = from; i < to; i++)
		if (d[i] == '\n' && !(i > from && d[i - 1] == '\r'))
			n++;
	if (to > from && d[to - 1] != '\n')
		n += d[to - 1] == '\r' ? 1 : 2;
	return n;
}

static void ref_close(struct ref *r, struct mbox_md5 *c, const uint8_t *d,
		      size_t data, size_t end)
{
	unsigned char h[16];
	static const int order[8] = { 3, 2, 1, 0, 7, 6, 5, 4 };
	int k;

	mbox_md5_final(c, h);
	r->size[r->n] = ref_size(d, data, end);
	for (k = 0; k < 8; k++)
		snprintf(r->uid[r->n] + 2 * k, 3, "%02x", h[order[k]]);
	r->n++;
}

/* 0 and the messages in r, or -1 for a damaged mailbox. */
static int ref_parse(const uint8_t *d, size_t size, struct ref *r)
{
	struct mbox_md5 c;
	size_t s = 0, data = 0, blank_at = 0;
	int in_msg = 0, prev_blank = 1, hdr = 0, fixed = 0, received = 0;

	r->n = 0;
	while (s < size) {
		const uint8_t *nl = memchr(d + s, '\n', size - s);
		size_t len = nl ? (size_t)(nl - (d + s)) + 1 : size - s;
		const uint8_t *l = d + s;
		int blank = (len == 1 && l[0] == '\n') ||
		    (len == 2 && l[0] == '\r' && l[1] == '\n');

		if (prev_blank && len >= 5 && memcmp(l, "From ", 5) == 0) {
			if (in_msg)
				ref_close(r, &c, d, data, blank_at);
			in_msg = 1;
			data = s + len;
			mbox_md5_init(&c);
			hdr = 1;
			fixed = received = 0;
			prev_blank = 0;
			s += len;
			continue;
		}
		if (!in_msg)
			return -1;
		if (hdr) {
			if (blank) {
				hdr = 0;
			} else {
				switch (l[0]) {
				case ' ': case '\t':
					break;
				case 'R': case 'r':
					fixed = !received && ref_eq(l, len, "Received:");
					if (fixed)
						received = 1;
					break;
				case 'D': case 'd':
					fixed = ref_eq(l, len, "Delivered-To:") ||
					    (!received && ref_eq(l, len, "Date:"));
					break;
				case 'M': case 'm':
					fixed = !received && ref_eq(l, len, "Message-ID:");
					break;
				case 'X':
					fixed = ref_eq(l, len, "X-Delivery-ID:");
					break;
				default:
					fixed = 0;
				}
				if (fixed)
					mbox_md5_update(&c, l, len);
			}
		}
		prev_blank = blank;
		if (blank)
			blank_at = s;
		s += len;
	}
	if (in_msg)
		ref_close(r, &c, d, data, prev_blank ? blank_at : size);
	return 0;
}

static void check_reference(struct mbox *m, const uint8_t *data, size_t size)
{
	struct ref r;
	uint32_t i;

	/* At most one message per 6 bytes ("From \n"). */
	r.size = calloc(size / 6 + 2, sizeof(*r.size));
	r.uid = calloc(size / 6 + 2, sizeof(*r.uid));
	if (!r.size || !r.uid)
		abort();
	if (ref_parse(data, size, &r) < 0 || r.n != mbox_count(m))
		abort();
	for (i = 0; i < r.n; i++) {
		if (r.size[i] != mbox_msg_size(m, i))
			abort();
		if (strncmp(r.uid[i], mbox_msg_uidl(m, i), 16) != 0)
			abort();
	}
	free(r.size);
	free(r.uid);
}

static char fuzz_path[128];

static const char *fuzz_file(void)
{
	if (!fuzz_path[0]) {
		const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(fuzz_path, sizeof(fuzz_path), "%s/fuzz-mbox-%ld", dir,
			 (long)getpid());
	}
	return fuzz_path;
}

static int put_file(const char *path, const uint8_t *data, size_t size)
{
	struct timespec ts[2];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t r = write(fd, data + off, size - off);

		if (r <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)r;
	}
	if (close(fd) < 0)
		return -1;
	/* An old mtime spares UPDATE its wait for the next second. */
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 60;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	return utimensat(AT_FDCWD, path, ts, 0);
}

static void check_uidls(struct mbox *m)
{
	uint32_t i, j, n = mbox_count(m);
	char (*ids)[72] = calloc(n ? n : 1, 72);

	if (!ids)
		abort();
	for (i = 0; i < n; i++) {
		const char *u = mbox_msg_uidl(m, i);
		size_t k, l = strlen(u);

		if (l < 1 || l > 70)
			abort();
		for (k = 0; k < l; k++)
			if (u[k] < 0x21 || u[k] > 0x7e)
				abort();
		memcpy(ids[i], u, l + 1);
	}
	/* Inputs are small (libFuzzer's max_len), so pairwise is fine. */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				abort();
	free(ids);
}

static void check_message(struct mbox *m, uint32_t i)
{
	struct sink retr, top;
	size_t last = 0;
	long long n;

	sink_init(&retr);
	if (mbox_send(m, i, -1, sink_write, &retr) != MBOX_OK)
		abort();
	if (retr.len - retr.stuffed != mbox_msg_size(m, i))
		abort();
	if (retr.len && (retr.len < 2 || retr.buf[retr.len - 2] != '\r' ||
			 retr.buf[retr.len - 1] != '\n'))
		abort();
	for (n = 0; n <= 3; n++) {
		sink_init(&top);
		if (mbox_send(m, i, n, sink_write, &top) != MBOX_OK)
			abort();
		if (top.len > retr.len || (top.len && memcmp(top.buf, retr.buf, top.len) != 0))
			abort();
		if (top.len < last)
			abort();
		if (top.len && (top.buf[top.len - 1] != '\n'))
			abort();
		last = top.len;
		free(top.buf);
	}
	free(retr.buf);
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file();
	struct mbox_opts o;
	struct mbox *m = NULL;
	char why[256];
	uint32_t i, n, kept = 0;
	uint64_t *sizes;
	enum mbox_status st;

	if (size > (1 << 20) || put_file(path, data, size) < 0)
		return;
	mbox_opts_default(&o);
	o.owner = getuid();
	o.lock_timeout = 1;
	o.max_messages = 0;
	st = mbox_open(&m, path, &o, why, sizeof(why));
	if (st != MBOX_OK) {
		struct ref r = { 0, NULL, NULL };

		if (st != MBOX_ERR_DAMAGED || m)
			abort();
		/* The reference must find it damaged too (it stops there). */
		r.size = calloc(size / 6 + 2, sizeof(*r.size));
		r.uid = calloc(size / 6 + 2, sizeof(*r.uid));
		if (!r.size || !r.uid || ref_parse(data, size, &r) != -1)
			abort();
		free(r.size);
		free(r.uid);
		unlink(path);
		return;
	}
	check_reference(m, data, size);
	n = mbox_count(m);
	check_uidls(m);
	for (i = 0; i < n; i++)
		check_message(m, i);

	/* UPDATE: drop every other message, starting with the second. */
	sizes = calloc(n ? n : 1, sizeof(*sizes));
	if (!sizes)
		abort();
	for (i = 0; i < n; i++) {
		if (i % 2 == 1)
			mbox_msg_delete(m, i);
		else
			sizes[kept++] = mbox_msg_size(m, i);
	}
	if (mbox_live_count(m) != kept)
		abort();
	if (mbox_update(m, why, sizeof(why)) != MBOX_OK)
		abort();
	mbox_close(m);
	m = NULL;
	if (mbox_open(&m, path, &o, why, sizeof(why)) != MBOX_OK)
		abort();
	if (mbox_count(m) != kept)
		abort();
	for (i = 0; i < kept; i++)
		if (mbox_msg_size(m, i) != sizes[i])
			abort();
	free(sizes);
	mbox_close(m);
	unlink(path);
	return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fast = mbox_simd_fast;

	mbox_simd_fast = 0;
	fuzz_one(data, size);
	mbox_simd_fast = fast;
	fuzz_one(data, size);
	return 0;
}
