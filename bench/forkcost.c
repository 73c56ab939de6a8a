/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a fork+exit costs with a given set of shared libraries mapped:
 * a login forks three times (leader, pre-auth child, auth helper), so
 * every library the daemon maps is paid for three times per login.  This
 * is the measurement behind loading OpenSSL as a module (src/tlsmod.c).
 *
 *   make bench      (in the build dir; or: cc -O2 -o bench/forkcost bench/forkcost.c)
 *   L=/usr/lib/x86_64-linux-gnu
 *   bench/forkcost 3000
 *   bench/forkcost 3000 $L/libpam.so.0
 *   bench/forkcost 3000 $L/libpam.so.0 $L/libssl.so.3 $L/libcrypto.so.3
 *
 * Prints the number of mappings and the CPU time per fork+exit+wait, in
 * the parent (fork, wait) and in the child (its faults and its exit).
 * Not part of make check: a timing, not a test.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static double cpu_us(const struct rusage *a, const struct rusage *b)
{
	return (double)(b->ru_utime.tv_sec - a->ru_utime.tv_sec +
			b->ru_stime.tv_sec - a->ru_stime.tv_sec) * 1e6 +
	       (double)(b->ru_utime.tv_usec - a->ru_utime.tv_usec +
			b->ru_stime.tv_usec - a->ru_stime.tv_usec);
}

static int mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		n++;
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	struct rusage s0, s1, c0, c1;
	enum { HEAP = 100000 };
	char *heap;
	int n;

	if (argc < 2 || (n = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: forkcost COUNT [LIBRARY...]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (!dlopen(argv[i], RTLD_NOW | RTLD_GLOBAL)) {
			fprintf(stderr, "forkcost: %s\n", dlerror());
			return 1;
		}
	/* some heap, as a daemon has: the child writes one page of it */
	heap = malloc(HEAP);
	if (!heap)
		return 1;
	memset(heap, 1, HEAP);
	getrusage(RUSAGE_SELF, &s0);
	getrusage(RUSAGE_CHILDREN, &c0);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			heap[(i * 4096) % HEAP] = 2;
			_exit(0);
		}
		if (waitpid(pid, &st, 0) != pid)
			return 1;
	}
	getrusage(RUSAGE_SELF, &s1);
	getrusage(RUSAGE_CHILDREN, &c1);
	printf("%d mappings: %.1f us CPU per fork+exit (parent %.1f, child %.1f)\n", mappings(),
	       (cpu_us(&s0, &s1) + cpu_us(&c0, &c1)) / n, cpu_us(&s0, &s1) / n,
	       cpu_us(&c0, &c1) / n);
	free(heap);
	return 0;
}
