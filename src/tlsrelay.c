/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the TLS relay.
 * After a login under TLS the pre-auth child lives on as the relay
 * (pre-auth user, chrooted, seccomp): it carries the session's bytes
 * between the client's TLS session and the socketpair the session
 * reads, through bounded buffers, until either side ends or nothing
 * moves for --timeout.  It holds one user's decrypted session, no
 * channel to the key holder and no file.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sysio.h"
#include "tls.h"

#ifdef HAVE_TLS

#include "tls-int.h"
#include <openssl/err.h>

/* Relay buffers, each way: one TLS record's worth. */
#define TLS_RELAY_BUF 16384

/*
 * The relay.  Each pass tries every transfer once; only when none made
 * progress does it poll, and then only for what a blocked transfer
 * waits on (polling a hung-up descriptor we cannot serve yet would
 * spin).  OpenSSL may want the other direction's readiness (a write
 * that must read, TLS 1.3 post-handshake messages), hence the flags.
 */
struct tls_relay_state {
	struct tls *t;
	int fd;				/* the session's end of the socketpair */
	unsigned char *c2s, *s2c;
	size_t c2s_len, s2c_len;
	int client_eof, session_eof, session_shut, ssl_write_pending;
	short cl_r, cl_w, se_r, se_w;	/* what a blocked transfer waits on */
};

/* Client to session.  1 if bytes moved, 0 if not, -1 when the session is gone. */
static int tls_relay_up(struct tls_relay_state *r)
{
	int progress = 0;

	if (!r->client_eof && r->c2s_len < TLS_RELAY_BUF) {
		int rc = SSL_read(r->t->ssl, r->c2s + r->c2s_len, (int)(TLS_RELAY_BUF - r->c2s_len));

		if (rc > 0) {
			r->c2s_len += (size_t)rc;
			progress = 1;
		} else {
			int e = SSL_get_error(r->t->ssl, rc);

			if (e == SSL_ERROR_WANT_READ)
				r->cl_r = POLLIN;
			else if (e == SSL_ERROR_WANT_WRITE)
				r->cl_w = POLLOUT;
			else
				r->client_eof = 1;
		}
	}
	if (r->c2s_len > 0) {
		ssize_t k = write(r->fd, r->c2s, r->c2s_len);

		if (k > 0) {
			memmove(r->c2s, r->c2s + k, r->c2s_len - (size_t)k);
			r->c2s_len -= (size_t)k;
			progress = 1;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			r->se_w = POLLOUT;
		} else {
			return -1;
		}
	}
	/*
	 * The client is done sending: the session gets EOF once it has
	 * every byte, and may still answer (a pipelined QUIT's +OK),
	 * as on a half-closed plain connection.
	 */
	if (r->client_eof && r->c2s_len == 0 && !r->session_shut) {
		(void)shutdown(r->fd, SHUT_WR);
		r->session_shut = 1;
	}
	return progress;
}

/* Session to client.  1 if bytes moved, 0 if not, -1 when the relay is
 * over (the session said all it will, or TLS failed). */
static int tls_relay_down(struct tls_relay_state *r)
{
	int progress = 0;

	/* no new bytes while a TLS write must be repeated */
	if (!r->session_eof && !r->ssl_write_pending && r->s2c_len < TLS_RELAY_BUF) {
		ssize_t k = read(r->fd, r->s2c + r->s2c_len, TLS_RELAY_BUF - r->s2c_len);

		if (k > 0) {
			r->s2c_len += (size_t)k;
			progress = 1;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			r->se_r = POLLIN;
		} else {
			r->session_eof = 1;
		}
	}
	if (r->s2c_len > 0) {
		int rc = SSL_write(r->t->ssl, r->s2c, (int)r->s2c_len);

		if (rc > 0) {
			memmove(r->s2c, r->s2c + rc, r->s2c_len - (size_t)rc);
			r->s2c_len -= (size_t)rc;
			r->ssl_write_pending = 0;
			progress = 1;
		} else {
			int e = SSL_get_error(r->t->ssl, rc);

			r->ssl_write_pending = 1;
			if (e == SSL_ERROR_WANT_WRITE)
				r->cl_w = POLLOUT;
			else if (e == SSL_ERROR_WANT_READ)
				r->cl_r = POLLIN;
			else
				return -1;
		}
	}
	if (r->session_eof && r->s2c_len == 0) {
		/* best effort: a close_notify, without waiting for the peer's */
		(void)SSL_shutdown(r->t->ssl);
		return -1;
	}
	return progress;
}

/* Wait for what the blocked transfers wait on.  0, or -1 to end the relay
 * (the idle deadline passed, or poll failed). */
static int tls_relay_wait(const struct tls_relay_state *r, long long deadline)
{
	struct pollfd pfd[3];
	long long left;
	int nfd = 0;

	if (r->cl_r || r->cl_w) {
		if (r->t->rfd == r->t->wfd) {
			pfd[nfd].fd = r->t->rfd;
			pfd[nfd++].events = (short)(r->cl_r | r->cl_w);
		} else {
			if (r->cl_r) {
				pfd[nfd].fd = r->t->rfd;
				pfd[nfd++].events = POLLIN;
			}
			if (r->cl_w) {
				pfd[nfd].fd = r->t->wfd;
				pfd[nfd++].events = POLLOUT;
			}
		}
	}
	if (r->se_r || r->se_w) {
		pfd[nfd].fd = r->fd;
		pfd[nfd++].events = (short)(r->se_r | r->se_w);
	}
	if (nfd == 0)
		return -1;	/* nothing to wait for: should not happen */
	left = deadline - io_now_ms();
	if (left <= 0)
		return -1;	/* idle timeout, RFC 1939 section 3 */
	if (poll(pfd, (nfds_t)nfd, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR)
		return -1;
	return 0;
}

void tls_relay(struct tls *t, int session_fd, int timeout_s)
{
	struct tls_relay_state r;
	long long idle_ms = (long long)timeout_s * 1000;
	long long deadline = io_now_ms() + idle_ms;

	memset(&r, 0, sizeof r);
	r.t = t;
	r.fd = session_fd;
	r.c2s = malloc(TLS_RELAY_BUF);
	r.s2c = malloc(TLS_RELAY_BUF);
	if (r.c2s && r.s2c && io_set_nonblock(session_fd, 1) == 0) {
		for (;;) {
			int up, down;

			r.cl_r = r.cl_w = r.se_r = r.se_w = 0;
			up = tls_relay_up(&r);
			if (up < 0)
				break;
			down = tls_relay_down(&r);
			if (down < 0)
				break;
			if (up || down)
				deadline = io_now_ms() + idle_ms;
			else if (tls_relay_wait(&r, deadline) < 0)
				break;
		}
	}
	ERR_clear_error();
	if (r.c2s)
		explicit_bzero(r.c2s, TLS_RELAY_BUF);
	free(r.c2s);
	free(r.s2c);
}

#endif /* HAVE_TLS */
