/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One check of a configuration for a start, popa3d -t and the SIGHUP
 * reload (runs as root; see confcheck.c).
 */
#ifndef POPA3D_CONFCHECK_H
#define POPA3D_CONFCHECK_H

#include "buf.h"
#include "options.h"

/* Also what the first connection would find: the certificate and key
 * (in a throwaway fork), the PAM service file, the mailbox template's
 * fixed directory, the shadow file, the pid file's directory. */
#define CONFCHECK_DEEP 0x1
/* Also the listen addresses: local to this host, none twice. */
#define CONFCHECK_BIND 0x2

/*
 * Check options after options_finish: the rules between options (and
 * nothing more if they are broken), root, the pre-auth user and
 * --empty-dir (sandbox_preauth_prepare, which also prepares them for
 * the pre-auth children), then what flags ask for.  0 if all is
 * well; -1 with one line in problems per problem.
 */
int confcheck(const struct options *o, int flags, struct buf *problems);

#endif
