/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader, the check fork, the key holder, the
 * pre-auth child, the TLS relay.
 * tls.h for the daemon: the OpenSSL code is a module, popa3d-tls.so,
 * loaded with dlopen() only when TLS is configured (--tls-cert), once,
 * as root, before any fork: at start (main) or at a SIGHUP that adds TLS
 * (tls_check_files in the listener).  Without TLS configured no process
 * of the daemon maps libssl and libcrypto.  That is worth having because
 * every login forks three times (leader, pre-auth child, auth helper)
 * and every fork copies, and every exit tears down, the address space:
 * the two libraries are ten mappings of relocated data, paid for at
 * every fork and exit and, in inetd mode, at every exec
 * (doc/performance.md, bench/forkcost.c).
 *
 * The module is looked for next to the executable (a build tree), then
 * in POPA3D_TLS_MODULE_DIR ($(pkglibdir)); whichever is found must be a
 * regular file owned by root or by the executable's owner and writable
 * by nobody else, in a directory nobody else may write.  It must be the
 * module of this very build (struct tls_ops carries PACKAGE_VERSION and
 * its own size).  dpkg-shlibdeps sees libssl in the module, so the
 * package still depends on it.
 *
 * In a build without OpenSSL this file is all of tls.h, for the daemon
 * and the tests alike: tls_load fails, so no TLS object ever exists.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"
#include "tlsmod.h"

static const struct tls_ops *tls_ops;

#ifdef HAVE_TLS
/* What is wrong with path (the module or its directory), or NULL. */
static const char *tls_module_unsafe(const char *path, int want_dir, uid_t owner)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return strerror(errno);
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return want_dir ? "not a directory" : "not a regular file";
	if (st.st_uid != 0 && st.st_uid != owner)
		return "owned by neither root nor the owner of popa3d";
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others";
	return NULL;
}

/* The module's path in out: next to /proc/self/exe if there is one
 * there, else the installed one. */
static void tls_module_path(char *out, size_t size, uid_t *owner)
{
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;

	*owner = 0;
	if (n > 0) {
		exe[n] = '\0';
		if (stat(exe, &st) == 0)
			*owner = st.st_uid;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, size, "%s/%s", exe, TLS_MODULE_NAME) < size &&
			    access(out, F_OK) == 0)
				return;
		}
	}
	snprintf(out, size, "%s/%s", POPA3D_TLS_MODULE_DIR, TLS_MODULE_NAME);
}

int tls_load(struct buf *err)
{
	char path[PATH_MAX], dir[PATH_MAX];
	const struct tls_ops *ops;
	const char *why;
	char *slash;
	uid_t owner;
	void *h;

	if (tls_ops)
		return 0;
	tls_module_path(path, sizeof path, &owner);
	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	why = tls_module_unsafe(dir, 1, owner);
	if (!why)
		why = tls_module_unsafe(path, 0, owner);
	if (why) {
		buf_printf(err, "TLS module %s: %s", path, why);
		return -1;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		buf_printf(err, "TLS module %s: %s", path, dlerror());
		return -1;
	}
	ops = dlsym(h, TLS_OPS_SYMBOL);
	if (!ops || ops->version != TLS_OPS_VERSION || ops->size != sizeof *ops ||
	    !ops->build || strcmp(ops->build, PACKAGE_VERSION) != 0) {
		buf_printf(err, "TLS module %s: not the module of popa3d %s", path,
			   PACKAGE_VERSION);
		dlclose(h);
		return -1;
	}
	tls_ops = ops;	/* never unloaded: children use it after fork */
	return 0;
}
#else
/* Built without OpenSSL: there is no module, and options_check refuses
 * the TLS options, so nothing gets this far with TLS configured. */
int tls_load(struct buf *err)
{
	buf_printf(err, "TLS options: this popa3d was built without TLS (--without-tls)");
	return -1;
}
#endif

/* The loaded module.  Every struct tls and struct tls_key comes from
 * it, so a call on one without it is a broken invariant. */
static const struct tls_ops *tls_mod(void)
{
	if (!tls_ops)
		fatal("TLS: the module is not loaded");
	return tls_ops;
}

int tls_check_files(const char *cert, const char *key, struct buf *err)
{
	if (tls_load(err) < 0)
		return -1;
	return tls_mod()->check_files(cert, key, err);
}

int tls_open_files(const char *cert, const char *key, int *cert_fd, int *key_fd,
		   const char **which)
{
	struct buf err;
	int r;

	buf_init(&err, 512);
	r = tls_load(&err);
	buf_free(&err);
	if (r < 0) {
		*which = "the TLS module (not loaded)";
		errno = ENOENT;
		return -1;
	}
	return tls_mod()->open_files(cert, key, cert_fd, key_fd, which);
}

struct tls *tls_server_new(const void *chain, size_t chain_len, const struct tls_signer *signer,
			   const char **why)
{
	if (!tls_ops) {
		*why = "the TLS module is not loaded";
		return NULL;
	}
	return tls_ops->server_new(chain, chain_len, signer, why);
}

struct tls_key *tls_key_load(const void *chain, size_t chain_len, int key_fd, const char **why)
{
	if (!tls_ops) {
		*why = "the TLS module is not loaded";
		return NULL;
	}
	return tls_ops->key_load(chain, chain_len, key_fd, why);
}

int tls_key_op(struct tls_key *k, unsigned op, unsigned pad, const unsigned char *in, size_t n,
	       unsigned char *out, size_t outmax, size_t *outlen)
{
	return tls_mod()->key_op(k, op, pad, in, n, out, outmax, outlen);
}

void tls_key_free(struct tls_key *k)
{
	if (k)
		tls_mod()->key_free(k);
}

void tls_free(struct tls *t)
{
	if (t)
		tls_mod()->free(t);
}

int tls_active(const struct tls *t)
{
	return t ? tls_mod()->active(t) : 0;
}

int tls_accept(struct tls *t, int rfd, int wfd, long long deadline_ms)
{
	return tls_mod()->accept(t, rfd, wfd, deadline_ms);
}

ssize_t tls_peek(struct tls *t, void *p, size_t n, long long deadline_ms)
{
	return tls_mod()->peek(t, p, n, deadline_ms);
}

int tls_read_full(struct tls *t, void *p, size_t n)
{
	return tls_mod()->read_full(t, p, n);
}

int tls_write(struct tls *t, const void *p, size_t n, int timeout_ms)
{
	return tls_mod()->write(t, p, n, timeout_ms);
}

void tls_relay(struct tls *t, int session_fd, int timeout_s)
{
	tls_mod()->relay(t, session_fd, timeout_s);
}

void tls_summary(const struct tls *t, char *out, size_t size)
{
	if (t)
		tls_mod()->summary(t, out, size);
	else
		snprintf(out, size, "no TLS");
}
