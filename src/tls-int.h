/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the three files of the TLS module share, and nothing else
 * includes: struct tls (tls.c makes it, tlsrelay.c relays through it)
 * and the context settings and PEM reading that tls.c and tlskey.c both
 * use.  RSA_METHOD, EC_KEY_METHOD and the key getters are the OpenSSL 1.1
 * interfaces, deprecated in 3.0 in favour of providers, hence
 * OPENSSL_API_COMPAT here, in these files only.
 */
#ifndef POPA3D_TLS_INT_H
#define POPA3D_TLS_INT_H

#define OPENSSL_API_COMPAT 0x10101000L
#include <openssl/ssl.h>

#include "tls.h"

struct tls {
	SSL_CTX *ctx;
	SSL *ssl;
	const struct tls_signer *signer;	/* told when the handshake is over */
	int rfd, wfd;
	int active;
	char failure[96];	/* why tls_accept failed, for the end-of-connection line */
};

/* The PEM password callback: an encrypted key gets no passphrase. */
int tls_no_passphrase(char *buf, int size, int rw, void *u);
/* The settings every server context gets; NULL on failure. */
SSL_CTX *tls_ctx_new(const char **why);
/* The chain from bio into ctx: the server's certificate first, then
 * intermediates.  0, or -1 with *why set. */
int tls_ctx_chain(SSL_CTX *ctx, BIO *bio, const char **why);

#endif
