/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS for POP3 (STLS, RFC 2595; implicit TLS, RFC 8314) through OpenSSL.
 *
 * Who calls what, and as whom:
 *   tls_check_files   the listener/main (root), at start-up and SIGHUP:
 *                     loads certificate and key in a throwaway fork, so
 *                     the key never enters the root daemon's memory.
 *   tls_open_files    the leader (root), per connection: opens the files
 *                     and hands the descriptors to the pre-auth child.
 *   tls_server_new    the pre-auth child, still root but about to drop:
 *                     reads the descriptors into its own context.
 *   everything else   the pre-auth child after the drop (chrooted,
 *                     seccomp): handshake, record I/O, and after a login
 *                     the relay between the client and the session.
 * So the key is read by root and lives only in the unprivileged child
 * that speaks TLS; the session (the mail user) sees only plaintext on a
 * socketpair.  See doc/DESIGN.md, "Where TLS lives".
 *
 * In a build without OpenSSL (--without-tls) these functions exist and
 * fail; options_check refuses the TLS options before they could be used.
 */
#ifndef POPA3D_TLS_H
#define POPA3D_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct tls;

/* 1 when built with OpenSSL. */
int tls_built(void);

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

/* open(2) both files for reading (no symlink as the last component):
 * 0, or -1 with errno set and *which naming the file. */
int tls_open_files(const char *cert, const char *key, int *cert_fd, int *key_fd,
		   const char **which);

/* A server context from the open files (read to their end, not closed
 * here); NULL with *why set on failure. */
struct tls *tls_server_new(int cert_fd, int key_fd, const char **why);
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
 * side ends or nothing moves for timeout_s seconds.  Returns when done.
 */
void tls_relay(struct tls *t, int session_fd, int timeout_s);

#endif
