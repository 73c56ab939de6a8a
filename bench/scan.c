/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Scan benchmark for the mbox engine (not part of make check).
 * Usage: bench/scan-bench [MiB [messages [path]]]   (default 1024 80000)
 * Generates an mbox of that size (once; reused if the size matches),
 * warms the page cache, then times mbox_open()+mbox_count() and, as the
 * yardstick, a plain read()+memchr('\n') pass over the same file: the
 * median of 5 runs each, in GB/s (10^9 bytes per second).  Then the
 * encoder: every message through mbox_send (RETR's CRLF + dot-stuffing)
 * into a sink that only counts, CPU time, median of 3.
 * POPA3D_BENCH_UIDL=dovecot opens under --uidl dovecot, and a file
 * generated then carries Dovecot's X-IMAPbase and X-UID headers (give it
 * a path of its own).
 * With a fourth argument "update", only UPDATE instead: on a fresh copy
 * of the file (fsync'd, mtime a minute back, as bench/run's W4), DELE
 * the first message, every 10th, or the last, then mbox_update's wall
 * time (its fsync included) and CPU time, medians of 7 runs, the three
 * interleaved.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mbox.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: less disturbed by a busy machine. */
static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int dovecot;	/* POPA3D_BENCH_UIDL=dovecot */

static void generate(const char *path, unsigned long long bytes, unsigned long msgs)
{
	FILE *f = fopen(path, "w");
	unsigned long long per = bytes / msgs, written = 0;
	unsigned long i;

	if (!f) {
		perror(path);
		exit(1);
	}
	for (i = 0; i < msgs; i++) {
		unsigned long long start = written;
		unsigned line = 0;
		int n;

		n = fprintf(f, "From sender%lu@example.org Mon Jan  1 00:00:00 2024\n"
			    "Return-path: <sender%lu@example.org>\n"
			    "Envelope-to: user@example.org\n"
			    "Delivery-date: Mon, 01 Jan 2024 00:00:00 +0000\n"
			    "Received: from mx.example.org ([192.0.2.1]) by host with esmtps id %lu\n"
			    "\tfor user@example.org; Mon, 01 Jan 2024 00:00:00 +0000\n"
			    "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
			    "From: Sender <sender%lu@example.org>\n"
			    "To: user@example.org\n"
			    "Subject: benchmark message %lu\n"
			    "Message-ID: <%lu@example.org>\n"
			    "MIME-Version: 1.0\n"
			    "Content-Type: text/plain; charset=us-ascii\n\n",
			    i, i, i, i, i, i);
		written += (unsigned long long)n;
		if (dovecot) {
			n = fprintf(f, "%sX-UID: %lu\nStatus: RO\n",
				    i ? "" : "X-IMAPbase: 1796218898 0000080000\n", i + 1);
			written += (unsigned long long)n;
		}
		while (written - start + 80 < per) {
			n = fprintf(f, "%s%05u Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\n",
				    line % 50 == 49 ? "." : "", line);
			written += (unsigned long long)n;
			line++;
		}
		fputs("\n", f);
		written++;
	}
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static unsigned long long sunk;

static int sink(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	sunk += n;
	return 0;
}

static double time_memchr(const char *path, unsigned long long *lines,
			  double *cpu_s)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	double t0 = now(), c0 = cpu();
	ssize_t r;

	*lines = 0;
	if (fd < 0)
		exit(1);
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		const char *p = buf, *e = buf + r;

		while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
			p++;
			(*lines)++;
		}
	}
	close(fd);
	*cpu_s = cpu() - c0;
	return now() - t0;
}

/* One UPDATE on a copy of path: every `step'-th message from `first'.
 * Wall time returned, CPU time in *cpu_s. */
static double time_update(const char *path, uint32_t first, uint32_t step,
			  double *cpu_s)
{
	static char buf[1 << 20];
	char copy[512];
	struct timespec tv[2];
	struct mbox_opts o;
	struct mbox *m = NULL;
	char why[256];
	int in, out;
	ssize_t r;
	uint32_t k;
	double t0, c0, t;

	snprintf(copy, sizeof(copy), "%s.update", path);
	in = open(path, O_RDONLY);
	out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0)
		exit(1);
	while ((r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)r) != r)
			exit(1);
	if (r < 0 || fsync(out) < 0 || close(out) < 0 || close(in) < 0)
		exit(1);
	tv[0].tv_sec = tv[1].tv_sec = time(NULL) - 60;
	tv[0].tv_nsec = tv[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, copy, tv, 0) < 0)
		exit(1);
	mbox_opts_default(&o);
	o.owner = getuid();
	o.max_messages = 0;
	if (mbox_open(&m, copy, &o, why, sizeof(why)) != MBOX_OK) {
		fprintf(stderr, "mbox_open: %s\n", why);
		exit(1);
	}
	for (k = first == UINT32_MAX ? mbox_count(m) - 1 : first; k < mbox_count(m); k += step)
		mbox_msg_delete(m, k);
	t0 = now();
	c0 = cpu();
	if (mbox_update(m, why, sizeof(why)) != MBOX_OK) {
		fprintf(stderr, "mbox_update: %s\n", why);
		exit(1);
	}
	t = now() - t0;
	*cpu_s = cpu() - c0;
	mbox_close(m);
	unlink(copy);
	return t;
}

static void bench_update(const char *path)
{
	static const struct { const char *name; uint32_t first, step; } spec[] = {
		{ "first", 0, UINT32_MAX }, { "every10", 0, 10 }, { "last", UINT32_MAX, 1 },
	};
	double t[3][7], c[3][7];
	int i, j;

	for (i = 0; i < 7; i++)
		for (j = 0; j < 3; j++)
			t[j][i] = time_update(path, spec[j].first, spec[j].step, &c[j][i]);
	for (j = 0; j < 3; j++) {
		qsort(t[j], 7, sizeof(t[j][0]), cmp);
		qsort(c[j], 7, sizeof(c[j][0]), cmp);
		printf("UPDATE %-8s median %.4f s (min %.4f, max %.4f), CPU median %.4f s\n",
		       spec[j].name, t[j][3], t[j][0], t[j][6], c[j][3]);
	}
}

int main(int argc, char **argv)
{
	unsigned long long mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
	unsigned long msgs = argc > 2 ? strtoul(argv[2], NULL, 10) : 80000;
	const char *path = argc > 3 ? argv[3] : "/tmp/popa3d-bench.mbox";
	double ts[5], tm[5], cs[5], cm[5], dummy;
	struct stat st;
	unsigned long long lines = 0;
	uint32_t count = 0;
	int i;

	dovecot = getenv("POPA3D_BENCH_UIDL") && strcmp(getenv("POPA3D_BENCH_UIDL"), "dovecot") == 0;
	/* Reuse a file within 1% of the size asked for. */
	if (stat(path, &st) < 0 || st.st_size < (off_t)((mib << 20) / 100 * 99) ||
	    st.st_size > (off_t)((mib << 20) / 100 * 101)) {
		printf("generating %s: %llu MiB, %lu messages\n", path, mib, msgs);
		generate(path, mib << 20, msgs);
		if (stat(path, &st) < 0)
			return 1;
	}
	time_memchr(path, &lines, &dummy);	/* warm the page cache */
	if (argc > 4 && strcmp(argv[4], "update") == 0) {
		bench_update(path);
		return 0;
	}
	for (i = 0; i < 5; i++) {
		struct mbox_opts o;
		struct mbox *m = NULL;
		char why[256];
		double t0, c0;

		mbox_opts_default(&o);
		o.owner = getuid();
		o.max_messages = 0;
		o.uidl = dovecot ? MBOX_UIDL_DOVECOT : MBOX_UIDL_POPA3D;
		t0 = now();
		c0 = cpu();
		if (mbox_open(&m, path, &o, why, sizeof(why)) != MBOX_OK) {
			fprintf(stderr, "mbox_open: %s\n", why);
			return 1;
		}
		count = mbox_count(m);
		ts[i] = now() - t0;
		cs[i] = cpu() - c0;
		mbox_close(m);
		tm[i] = time_memchr(path, &lines, &cm[i]);
	}
	qsort(ts, 5, sizeof(ts[0]), cmp);
	qsort(tm, 5, sizeof(tm[0]), cmp);
	qsort(cs, 5, sizeof(cs[0]), cmp);
	qsort(cm, 5, sizeof(cm[0]), cmp);
	printf("file: %lld bytes, %u messages, %llu lines\n", (long long)st.st_size,
	       count, lines);
	printf("mbox_open+count: median %.3f s = %.2f GB/s (min %.3f, max %.3f)\n",
	       ts[2], (double)st.st_size / ts[2] / 1e9, ts[0], ts[4]);
	printf("read+memchr:     median %.3f s = %.2f GB/s (min %.3f, max %.3f)\n",
	       tm[2], (double)st.st_size / tm[2] / 1e9, tm[0], tm[4]);
	printf("CPU time medians: mbox_open %.3f s = %.2f GB/s, read+memchr %.3f s = %.2f GB/s\n",
	       cs[2], (double)st.st_size / cs[2] / 1e9, cm[2], (double)st.st_size / cm[2] / 1e9);
	{
		struct mbox_opts o;
		struct mbox *m = NULL;
		char why[256];
		double ce[3];

		mbox_opts_default(&o);
		o.owner = getuid();
		o.max_messages = 0;
		if (mbox_open(&m, path, &o, why, sizeof(why)) != MBOX_OK) {
			fprintf(stderr, "mbox_open: %s\n", why);
			return 1;
		}
		for (i = 0; i < 3; i++) {
			double c0 = cpu();

			sunk = 0;
			for (uint32_t k = 0; k < mbox_count(m); k++)
				if (mbox_send(m, k, -1, sink, NULL) != MBOX_OK) {
					fprintf(stderr, "mbox_send %u failed\n", (unsigned)k);
					return 1;
				}
			ce[i] = cpu() - c0;
		}
		mbox_close(m);
		qsort(ce, 3, sizeof(ce[0]), cmp);
		printf("RETR all (encode to a counting sink): CPU median %.3f s = %.2f GB/s, %llu octets\n",
		       ce[1], (double)sunk / ce[1] / 1e9, sunk);
	}
	return 0;
}
