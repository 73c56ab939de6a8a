/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader (root), the session (its set-up).
 * What a good login becomes, in one place: the account policy (root and
 * system accounts never fetch mail), the mailbox path from the
 * --mailbox template (also checked with harmless values when options.c
 * reads the configuration, in the listener or the inetd-mode leader), and
 * the drop to the user.  The leader calls these
 * after the auth helper said yes and before the session runs; the drop
 * itself is sandbox.c's, the one place where this program changes its
 * credentials.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "account.h"
#include "log.h"
#include "sandbox.h"

/*
 * Account policy after the backend said yes: the account must exist in
 * the passwd database, must not be root, and must be at or above
 * --min-uid (system accounts don't fetch mail).  Refusals look like a
 * wrong password to the client and are logged with their reason.
 */
const struct passwd *account_lookup(const struct options *o, const char *name,
				    const char **why)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		*why = errno ? "account lookup failed" : "no such account in passwd";
		return NULL;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		*why = "root may not log in";
		return NULL;
	}
	if ((uint64_t)pw->pw_uid < o->min_uid) {
		*why = "uid below --min-uid";
		return NULL;
	}
	return pw;
}

int account_mailbox_path(const char *tmpl, const char *user, const char *home,
			 struct buf *out)
{
	const char *p;

	buf_reset(out);
	/* A user name is one path component; never "." or "..". */
	if (!*user || strchr(user, '/') || strcmp(user, ".") == 0 || strcmp(user, "..") == 0)
		return -1;
	if (home[0] != '/')
		return -1;
	for (p = tmpl; *p; p++) {
		int r;

		if (*p != '%') {
			r = buf_append_byte(out, (unsigned char)*p);
		} else {
			p++;
			if (*p == 'u')
				r = buf_append_str(out, user);
			else if (*p == 'h')
				r = buf_append_str(out, home);
			else if (*p == '%')
				r = buf_append_byte(out, '%');
			else
				return -1;
		}
		if (r < 0)
			return -1;
	}
	if (out->len == 0 || out->data[0] != '/' || buf_has_nul(out) || !buf_cstr(out))
		return -1;
	/* no ".." component anywhere after expansion */
	for (size_t i = 0; i + 1 < out->len; i++)
		if (out->data[i] == '.' && out->data[i + 1] == '.' &&
		    (i == 0 || out->data[i - 1] == '/') &&
		    (i + 2 == out->len || out->data[i + 2] == '/'))
			return -1;
	return 0;
}

void account_become(const struct passwd *pw, int in_fd, int out_fd)
{
	sandbox_null_stdio(in_fd, out_fd, log_to_stderr());
	sandbox_become_user(pw);
}
