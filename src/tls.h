/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS for POP3 (STLS, RFC 2595; implicit TLS, RFC 8314) through OpenSSL.
 *
 * Who calls what, and as whom:
 *   tls_check_files   the listener/main (root), at start-up and SIGHUP:
 *                     loads certificate and key in a throwaway fork, so
 *                     the key never enters the root daemon's memory.
 *   tls_open_files    the listener or leader (root): opens the files for
 *                     the key holder (keyholder.c), which reads them.
 *   tls_key_*         the key holder: loads the private key (as root,
 *                     then drops like the pre-auth child) and performs
 *                     one private-key operation per request.
 *   tls_server_new    the pre-auth child: a context from the certificate
 *                     chain whose private key is remote: each private
 *                     operation is asked of the key holder through the
 *                     tls_signer the caller gives.
 *   everything else   the pre-auth child after its drop (chrooted,
 *                     seccomp): handshake, record I/O, and after a login
 *                     the relay between the client and the session.
 * So the private key lives only in the key holder; the process that
 * speaks TLS to the network holds the certificate and, during its
 * handshake, a channel on which it may ask for one signature.  See
 * doc/DESIGN.md, "Where TLS lives".
 *
 * tls.c is the endpoint (context, handshake, record I/O), tlskey.c the
 * key files and the key holder's side, tlsrelay.c the relay.  In a build
 * without OpenSSL (--without-tls) none of them is compiled: the
 * daemon and the tests get tlsmod.c, whose tls_load fails, so no TLS
 * object can exist; options_check refuses the TLS options before that.
 */
#ifndef POPA3D_TLS_H
#define POPA3D_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct tls;

/*
 * Make TLS usable in this process and the children it forks: in the
 * daemon, load the TLS module (see tlsmod.c); call it as root before the
 * first fork that needs TLS.  tls_check_files and tls_open_files load it
 * themselves.  0, or -1 with one line in err.
 */
int tls_load(struct buf *err);

/*
 * Load cert and key as the per-connection child would, in a fork that
 * exits at once; refuses a key file that others may read.  0, or -1
 * with one line in err.
 */
int tls_check_files(const char *cert, const char *key, struct buf *err);

/* Open both files for reading with io_open_trusted (symlinks allowed
 * where only root could have set them): 0, or -1 with errno set and
 * *which one line naming the file and the component that failed. */
int tls_open_files(const char *cert, const char *key, int *cert_fd, int *key_fd,
		   const char **which);

/*
 * Where a TLS endpoint sends its private-key operations: op is an enum
 * frame_key_op, pad an enum frame_key_pad (0 for ECDSA); the result goes
 * to out (at most outmax bytes).  0 with *outlen set, or -1 (the
 * handshake then fails).  done is called once the handshake is over,
 * whatever its outcome: no operation is asked after it.
 */
struct tls_signer {
	int (*op)(void *ctx, unsigned op, unsigned pad, const unsigned char *in, size_t n,
		  unsigned char *out, size_t outmax, size_t *outlen);
	void (*done)(void *ctx);
	void *ctx;
};

/* A server context from the PEM certificate chain in memory (the
 * server's certificate first), whose private key is signer's; NULL with
 * *why set on failure.  One per process: signer must outlive it. */
struct tls *tls_server_new(const void *chain, size_t chain_len, const struct tls_signer *signer,
			   const char **why);

/*
 * The key holder's side.  tls_key_load reads the private key from key_fd
 * (refusing a file others may read, a key type other than RSA or ECDSA,
 * and a key that does not match the first certificate of chain); NULL
 * with *why set.  tls_key_op performs one operation as described for
 * struct tls_signer, checking op, pad and n against the key: 0 or -1.
 */
struct tls_key;
struct tls_key *tls_key_load(const void *chain, size_t chain_len, int key_fd, const char **why);
int tls_key_op(struct tls_key *k, unsigned op, unsigned pad, const unsigned char *in, size_t n,
	       unsigned char *out, size_t outmax, size_t *outlen);
void tls_key_free(struct tls_key *k);
void tls_free(struct tls *t);

/*
 * Handshake on rfd/wfd (the same socket, or inetd's 0 and 1), finishing
 * by deadline_ms (io_now_ms base): one deadline for the whole handshake,
 * so a client that drips bytes cannot stretch it.  0 or -1.
 */
int tls_accept(struct tls *t, int rfd, int wfd, long long deadline_ms);
/* 1 once tls_accept succeeded. */
int tls_active(const struct tls *t);
/* For log lines: after a handshake, "VERSION CIPHER"; after a failed
 * one, OpenSSL's reason (or time-out, or the client's close). */
void tls_summary(const struct tls *t, char *out, size_t size);

/* Decrypted bytes without consuming them, waiting until deadline_ms:
 * >0, 0 at EOF, -1 (errno ETIMEDOUT when the deadline passed). */
ssize_t tls_peek(struct tls *t, void *p, size_t n, long long deadline_ms);
/* Take exactly n bytes that tls_peek showed: 0 or -1. */
int tls_read_full(struct tls *t, void *p, size_t n);
/* Write all n bytes, waiting at most timeout_ms for each bit of progress. */
int tls_write(struct tls *t, const void *p, size_t n, int timeout_ms);

/*
 * After a login: copy decrypted client bytes to session_fd and the
 * session's bytes back through TLS, with bounded buffers, until either
 * side ends or nothing moves for timeout_s seconds (--timeout, > 0).
 * Returns when done.
 */
void tls_relay(struct tls *t, int session_fd, int timeout_s);

#endif
