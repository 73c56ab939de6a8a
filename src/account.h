/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The account a good login becomes: policy (who may log in at all), the
 * mailbox path, and the drop to the user.  See account.c.
 */
#ifndef POPA3D_ACCOUNT_H
#define POPA3D_ACCOUNT_H

#include <pwd.h>

#include "buf.h"
#include "options.h"

/*
 * Account policy after the backend said yes: the passwd entry, or NULL
 * with *why (for the log only) when there is none, it is root's (uid or
 * gid 0) or its uid is below --min-uid.
 */
const struct passwd *account_lookup(const struct options *o, const char *name,
				    const char **why);

/*
 * Expand the mailbox template: %u user name, %h home, %% a percent.
 * 0 on success, -1 if the result is not an absolute path or a
 * substituted value could walk out of its place ('/' in %u, "..").
 */
int account_mailbox_path(const char *tmpl, const char *user, const char *home,
			 struct buf *out);

/* Become the user for good: stdio to /dev/null (stderr kept when
 * logging there), then sandbox_become_user; fatal() on any failure. */
void account_become(const struct passwd *pw, int in_fd, int out_fd);

#endif
