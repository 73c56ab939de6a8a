/* popa3d entry point (placeholder until the daemon lands). */
#include "config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "-V") == 0) {
		printf("popa3d %s\n", PACKAGE_VERSION);
		return 0;
	}
	return 1;
}
