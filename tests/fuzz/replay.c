/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Replays a libFuzzer seed corpus through a fuzz target's entry point with
 * the ordinary compiler, so `make check` (and the sanitizer build) keeps
 * every seed and every crash reproducer we ever kept as a regression test.
 * Usage: replay-NAME [DIR...]; with no DIR it replays
 * $top_srcdir/tests/fuzz/corpus-NAME (what `make check` does).  TAP out.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path, int n)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("not ok %d - open %s\n", n, path);
		return 1;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p)
		abort();
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	LLVMFuzzerTestOneInput(p, got);
	free(p);
	printf("ok %d - replay %s\n", n, path);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0, bad = 0;
	char def[4096];
	char *defv[2];

	if (argc < 2) {
		const char *top = getenv("top_srcdir");
		const char *name = strrchr(argv[0], '/');

		name = name ? name + 1 : argv[0];
		if (strncmp(name, "replay-", 7) == 0)
			name += 7;
		if (snprintf(def, sizeof def, "%s/tests/fuzz/corpus-%s",
			     top ? top : ".", name) >= (int)sizeof def)
			return 99;
		defv[0] = argv[0];
		defv[1] = def;
		argv = defv;
		argc = 2;
	}
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *de;
		char path[4096];

		if (!d) {
			printf("not ok %d - opendir %s\n", ++n, argv[i]);
			bad++;
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name) >= (int)sizeof path)
				continue;
			bad += replay_file(path, ++n);
		}
		closedir(d);
	}
	printf("1..%d\n", n);
	return bad ? 1 : 0;
}
