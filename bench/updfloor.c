/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * updfloor: the disk floor under bench/run's W4, the I/O of our UPDATE
 * replayed with nothing else around it.
 *
 *   make bench      (in the build dir)
 *   bench/updfloor OPS MBOX
 *
 * OPS is the list of system calls our session made on the mailbox from
 * QUIT on, as bench/run takes them from an strace of the real server, one
 * a line:
 *   r LEN OFF   pread LEN bytes at OFF into the window
 *   w LEN OFF   pwrite the first LEN bytes of the window at OFF
 *   t LEN       ftruncate to LEN
 *   s           fsync
 *   d           fdatasync
 * So the floor reads and writes the same bytes, in calls of the same
 * sizes, in the same order, overlapping moves within the one file
 * included, then cuts and syncs as the server does; it leaves out
 * everything else the server does (the update journal's extended
 * attributes, the index, the protocol, the processes).  MBOX must be a
 * fresh copy of the mailbox the server had: the result is then the
 * server's result byte for byte, which bench/run checks.
 *
 * Before the clock starts every page of MBOX is read once, as the
 * server's login scan did.  Prints the elapsed time of the replay and
 * what it did, with rchar/wchar from /proc/self/io as a cross-check of
 * the byte counts.  Not part of make check: a timing, not a test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct op {
	char kind;
	uint64_t len, off;
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* rchar and wchar of this process: what every read/write call moved */
static void proc_io(uint64_t *rchar, uint64_t *wchar)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];

	if (!f)
		die("/proc/self/io");
	*rchar = *wchar = 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "rchar: ", 7) == 0)
			*rchar = strtoull(line + 7, NULL, 10);
		else if (strncmp(line, "wchar: ", 7) == 0)
			*wchar = strtoull(line + 7, NULL, 10);
	}
	if (fclose(f) != 0)
		die("/proc/self/io");
}

static struct op *load_ops(const char *path, size_t *n, uint64_t *maxlen)
{
	FILE *f = fopen(path, "r");
	struct op *ops = NULL;
	size_t cap = 0;
	char line[128];

	if (!f)
		die(path);
	*n = 0;
	*maxlen = 0;
	while (fgets(line, sizeof line, f)) {
		struct op o = { 0, 0, 0 };
		int ok;

		switch (line[0]) {
		case 'r':
		case 'w':
			ok = sscanf(line + 1, "%" SCNu64 " %" SCNu64, &o.len, &o.off) == 2;
			break;
		case 't':
			ok = sscanf(line + 1, "%" SCNu64, &o.len) == 1;
			break;
		case 's':
		case 'd':
			ok = 1;
			break;
		default:
			ok = 0;
		}
		if (!ok || o.len > (1u << 30)) {
			fprintf(stderr, "updfloor: %s: bad line: %s", path, line);
			exit(2);
		}
		o.kind = line[0];
		if (o.kind == 'r' && o.len > *maxlen)
			*maxlen = o.len;
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			ops = realloc(ops, cap * sizeof *ops);
			if (!ops)
				die("realloc");
		}
		ops[(*n)++] = o;
	}
	if (ferror(f) || fclose(f) != 0)
		die(path);
	return ops;
}

/* pread until len bytes or the end of the file; what it got */
static uint64_t read_at(int fd, unsigned char *p, uint64_t len, uint64_t off)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, p + done, len - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("pread");
		if (r == 0)
			break;
		done += (uint64_t)r;
	}
	return done;
}

static double now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t maxlen, have = 0, rd = 0, wr = 0, r0, w0, r1, w1, off = 0;
	size_t n, nr = 0, nw = 0, ns = 0;
	struct op *ops;
	unsigned char *win;
	double t0, t;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: updfloor OPS MBOX\n");
		return 2;
	}
	ops = load_ops(argv[1], &n, &maxlen);
	win = malloc(maxlen < 1024 * 1024 ? 1024 * 1024 : maxlen);
	if (!win)
		die("malloc");
	fd = open(argv[2], O_RDWR);
	if (fd < 0)
		die(argv[2]);
	/* the page cache as the server's login scan left it */
	for (uint64_t got; (got = read_at(fd, win, 1024 * 1024, off)) > 0;)
		off += got;
	proc_io(&r0, &w0);
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		const struct op *o = &ops[i];
		uint64_t done = 0;

		switch (o->kind) {
		case 'r':
			done = read_at(fd, win, o->len, o->off);
			have = done;
			rd += done;
			nr++;
			break;
		case 'w':
			/* only bytes this replay read: the result must be the server's */
			if (o->len > have) {
				fprintf(stderr, "updfloor: write of %" PRIu64 " bytes after a read "
					"of %" PRIu64 "\n", o->len, have);
				return 1;
			}
			while (done < o->len) {
				ssize_t r = pwrite(fd, win + done, o->len - done, (off_t)(o->off + done));

				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					die("pwrite");
				done += (uint64_t)r;
			}
			wr += done;
			nw++;
			break;
		case 't':
			if (ftruncate(fd, (off_t)o->len) < 0)
				die("ftruncate");
			break;
		case 's':
			if (fsync(fd) < 0)
				die("fsync");
			ns++;
			break;
		case 'd':
			if (fdatasync(fd) < 0)
				die("fdatasync");
			ns++;
			break;
		}
	}
	t = now_s() - t0;
	proc_io(&r1, &w1);
	if (close(fd) < 0)
		die("close");
	printf("floor_s %.4f reads %zu read_bytes %" PRIu64 " writes %zu write_bytes %" PRIu64
	       " syncs %zu rchar %" PRIu64 " wchar %" PRIu64 "\n", t, nr, rd, nw, wr, ns,
	       r1 - r0, w1 - w0);
	free(win);
	free(ops);
	return 0;
}
