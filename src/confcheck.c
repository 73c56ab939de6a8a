/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader (start-up, SIGHUP), the check fork.
 * The check of a configuration against the system, shared by a start
 * (main.c), popa3d -t and the SIGHUP reload (listener.c), so that all
 * three refuse the same configurations with the same lines.  Runs as
 * root in the listener or at start-up; reads only root's files and the
 * options, never a byte from a client.  The private key is loaded only
 * in the throwaway fork of tls_check_files, never in this process.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confcheck.h"
#include "options.h"
#include "sandbox.h"
#include "tls.h"

/* Move what a single-message helper wrote into tmp to problems. */
static void confcheck_take(struct buf *problems, struct buf *tmp)
{
	const char *s = buf_cstr(tmp);

	options_problem(problems, "%s", s ? s : "(message too long)");
	buf_reset(tmp);
}

static int confcheck_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Linux-PAM falls back to its "other" policy (on Debian: deny and warn)
 * for a service without a file, so every login would fail: a start
 * refuses that.  Without /etc/pam.d at all PAM reads /etc/pam.conf,
 * which we do not parse.
 */
#ifdef HAVE_PAM
static void confcheck_pam(const struct options *o, struct buf *problems)
{
	const char *dir = o->pam_confdir ? o->pam_confdir : "/etc/pam.d";
	struct buf path;
	struct stat st;

	if (strchr(o->pam_service, '/') || !*o->pam_service) {
		options_problem(problems, "--pam-service %s: not a file name", o->pam_service);
		return;
	}
	if (!o->pam_confdir && !confcheck_is_dir(dir))
		return;
	buf_init(&path, 8192);
	buf_printf(&path, "%s/%s", dir, o->pam_service);
	if (!buf_cstr(&path) || stat(buf_cstr(&path), &st) < 0 || !S_ISREG(st.st_mode)) {
		int vendor = 0;

		/* libpam built with a vendor directory reads it second */
		if (!o->pam_confdir) {
			buf_reset(&path);
			buf_printf(&path, "/usr/lib/pam.d/%s", o->pam_service);
			vendor = buf_cstr(&path) && stat(buf_cstr(&path), &st) == 0 &&
			    S_ISREG(st.st_mode);
		}
		if (!vendor)
			options_problem(problems, "--pam-service %s: no file %s/%s (PAM would apply "
					"its \"other\" policy to every login)", o->pam_service, dir,
					o->pam_service);
	}
	buf_free(&path);
}
#endif

/*
 * The fixed directory in front of the first %u/%h of the mailbox
 * template must exist: without it every mbox reads as empty (a missing
 * mbox is an empty maildrop) and no Maildir opens.
 */
static void confcheck_mailbox(const struct options *o, struct buf *problems)
{
	size_t n = strcspn(o->mailbox, "%");
	struct buf dir;

	while (n > 0 && o->mailbox[n - 1] != '/')
		n--;
	while (n > 1 && o->mailbox[n - 1] == '/')
		n--;
	if (n <= 1)
		return;
	buf_init(&dir, 8192);
	buf_append(&dir, o->mailbox, n);
	if (!buf_cstr(&dir) || !confcheck_is_dir(buf_cstr(&dir)))
		options_problem(problems, "--mailbox %s: %.*s is not a directory",
				o->mailbox, (int)n, o->mailbox);
	buf_free(&dir);
}

static void confcheck_files(const struct options *o, struct buf *problems)
{
	if (o->auth == OPT_AUTH_SHADOW && o->shadow_file) {
		struct stat st;

		if (stat(o->shadow_file, &st) < 0 || !S_ISREG(st.st_mode))
			options_problem(problems, "--shadow-file %s: not a regular file",
					o->shadow_file);
	}
	if (o->daemon && o->pid_file) {
		const char *slash = strrchr(o->pid_file, '/');
		struct buf dir;

		buf_init(&dir, 8192);
		if (!slash)
			buf_append_str(&dir, ".");
		else
			buf_append(&dir, o->pid_file, slash == o->pid_file ? 1 :
				   (size_t)(slash - o->pid_file));
		if (!buf_cstr(&dir) || !confcheck_is_dir(buf_cstr(&dir)))
			options_problem(problems, "--pid-file %s: its directory does not exist",
					o->pid_file);
		buf_free(&dir);
	}
}

/*
 * Listeners are not bound to their ports here: popa3d -t runs while the
 * daemon holds them (ExecReload), and a test bind would then always
 * fail.  Binding the address with port 0 instead shows what a start can
 * know early: that the address belongs to this host and its family
 * works.  The same address twice would fail the start's second bind.
 */
static void confcheck_listen(const struct options *o, struct buf *problems)
{
	for (int i = 0; i < o->nlisten; i++) {
		const struct opt_listen *l = &o->listen[i];
		const char *name = l->tls ? "--listen-tls" : "--listen";
		struct sockaddr_storage ss;
		int dup = 0, fd, one = 1;

		for (int j = 0; j < i; j++)
			dup |= o->listen[j].addrlen == l->addrlen &&
			    memcmp(&o->listen[j].addr, &l->addr, l->addrlen) == 0;
		if (dup) {
			options_problem(problems, "%s %s: this address is given twice", name, l->text);
			continue;
		}
		memcpy(&ss, &l->addr, sizeof ss);
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port = 0;
		else
			((struct sockaddr_in *)&ss)->sin_port = 0;
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			options_problem(problems, "%s %s: %s", name, l->text, strerror(errno));
			continue;
		}
		if (ss.ss_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&ss, l->addrlen) < 0)
			options_problem(problems, "%s %s: %s", name, l->text, strerror(errno));
		close(fd);
	}
}

int confcheck(const struct options *o, int flags, struct buf *problems)
{
	struct buf tmp;
	size_t before = problems->len;

	/* Options that contradict each other are fixed first: what the
	 * system has is checked against a configuration that means one
	 * thing (the TLS files only once cert and key go together). */
	if (options_check(o, problems) < 0)
		return -1;
	if (geteuid() != 0) {
		options_problem(problems, "must be started as root (it authenticates users and switches to them)");
		return -1;
	}
	buf_init(&tmp, 4096);
	/* the pre-auth user and --empty-dir: the rules the pre-auth children
	 * are held to, checked where they are enforced */
	if (sandbox_preauth_prepare(o->user, o->empty_dir, &tmp) < 0)
		confcheck_take(problems, &tmp);
	if (flags & CONFCHECK_DEEP) {
		if (o->tls_cert && tls_check_files(o->tls_cert, o->tls_key, &tmp) < 0)
			confcheck_take(problems, &tmp);
#ifdef HAVE_PAM
		if (o->auth == OPT_AUTH_PAM)
			confcheck_pam(o, problems);
#endif
		confcheck_mailbox(o, problems);
		confcheck_files(o, problems);
	}
	if ((flags & CONFCHECK_BIND) && o->daemon)
		confcheck_listen(o, problems);
	buf_free(&tmp);
	return problems->len > before ? -1 : 0;
}
