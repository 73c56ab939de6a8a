/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TLS module's one entry point.  The OpenSSL code (src/tls.c,
 * tlskey.c, tlsrelay.c) is built twice: into popa3d-tls.so (installed
 * in $(pkglibdir)), where it exports only popa3d_tls_ops, and into
 * src/libtls.a for the unit tests.  The daemon
 * itself links src/tlsmod.c, which implements tls.h by loading the
 * module and calling through this table.  Why a module, see tlsmod.c.
 */
#ifndef POPA3D_TLSMOD_H
#define POPA3D_TLSMOD_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

#define TLS_OPS_SYMBOL "popa3d_tls_ops"
#define TLS_OPS_VERSION 3
#define TLS_MODULE_NAME "popa3d-tls.so"

struct tls;
struct tls_key;
struct tls_signer;

struct tls_ops {
	unsigned version;	/* TLS_OPS_VERSION */
	size_t size;		/* sizeof(struct tls_ops) */
	const char *build;	/* PACKAGE_VERSION: the module of this build only */
	int (*check_files)(const char *cert, const char *key, struct buf *err);
	int (*open_files)(const char *cert, const char *key, int *cert_fd, int *key_fd,
			  const char **which);
	struct tls *(*server_new)(const void *chain, size_t chain_len,
				  const struct tls_signer *signer, const char **why);
	struct tls_key *(*key_load)(const void *chain, size_t chain_len, int key_fd,
				    const char **why);
	int (*key_op)(struct tls_key *k, unsigned op, unsigned pad, const unsigned char *in,
		      size_t n, unsigned char *out, size_t outmax, size_t *outlen);
	void (*key_free)(struct tls_key *k);
	void (*free)(struct tls *t);
	int (*accept)(struct tls *t, int rfd, int wfd, long long deadline_ms);
	int (*active)(const struct tls *t);
	ssize_t (*peek)(struct tls *t, void *p, size_t n, long long deadline_ms);
	int (*read_full)(struct tls *t, void *p, size_t n);
	int (*write)(struct tls *t, const void *p, size_t n, int timeout_ms);
	void (*relay)(struct tls *t, int session_fd, int timeout_s);
	void (*summary)(const struct tls *t, char *out, size_t size);
};

#endif
