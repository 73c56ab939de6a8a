/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS through OpenSSL; see tls.h for who calls what.
 *
 * Parts of this file run as root: tls_check_files (in a throwaway fork
 * of the listener, which itself never loads the key) and tls_open_files
 * (the leader, which only opens the files and never reads them).
 * tls_server_new runs in the pre-auth child just before its privilege
 * drop; it must never keep a descriptor or talk to the client.  The rest
 * runs unprivileged, chrooted and under seccomp, and handles the
 * client's bytes: it must not open files, log, or read a byte of
 * plaintext from the client before the handshake is done.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysio.h"
#include "tls.h"

int tls_open_files(const char *cert, const char *key, int *cert_fd, int *key_fd,
		   const char **which)
{
	*cert_fd = open(cert, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (*cert_fd < 0) {
		*which = "--tls-cert";
		return -1;
	}
	*key_fd = open(key, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (*key_fd < 0) {
		int saved = errno;

		close(*cert_fd);
		*cert_fd = -1;
		errno = saved;
		*which = "--tls-key";
		return -1;
	}
	return 0;
}

#ifdef HAVE_TLS

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Relay buffers, each way: one TLS record's worth. */
#define TLS_RELAY_BUF 16384

struct tls {
	SSL_CTX *ctx;
	SSL *ssl;
	int rfd, wfd;
	int active;
	char failure[96];	/* why tls_accept failed, for the end-of-connection line */
};

int tls_built(void)
{
	return 1;
}

int tls_load(struct buf *err)
{
	(void)err;
	return 0;	/* linked in: nothing to load */
}

/* An encrypted key gets no passphrase: nobody is there to type one. */
static int tls_no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return 0;
}

/*
 * RFC 8314 section 4.1 / RFC 8997: nothing below TLS 1.2.  Compression
 * is off (CRIME), renegotiation refused (it is a client-driven DoS and
 * a source of injection bugs); the cipher list is the system's
 * (/etc/ssl/openssl.cnf), deliberately not ours to second-guess.
 */
static int tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			   const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int i = 0;

	(void)ssl;
	(void)arg;
	/*
	 * ALPN (RFC 7301): a client that names a protocol must name POP3
	 * ("pop3", IANA); anything else is a cross-protocol attempt
	 * (ALPACA) and the handshake fails.  No ALPN at all is fine.
	 */
	while (i < inlen) {
		unsigned int l = in[i];

		if (l == 0 || l > inlen - i - 1)
			break;
		if (l == 4 && memcmp(in + i + 1, "pop3", 4) == 0) {
			*out = in + i + 1;
			*outlen = 4;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static SSL_CTX *tls_ctx_load(int cert_fd, int key_fd, const char **why)
{
	struct stat st;
	SSL_CTX *ctx;
	BIO *bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;

	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		*why = "cannot create a TLS context";
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		*why = "cannot require TLS 1.2";
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
			    | SSL_OP_IGNORE_UNEXPECTED_EOF
#endif
			    );
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* One process per connection: a session cache could never hit. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	/* TLS 1.3 0-RTT data would be commands accepted before the
	 * handshake is done: an injection by another name.  Off (the
	 * default, said out loud). */
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);

	/* The chain: the server's certificate first, then intermediates. */
	bio = BIO_new_fd(cert_fd, BIO_NOCLOSE);
	if (!bio || !(x = PEM_read_bio_X509_AUX(bio, NULL, tls_no_passphrase, NULL)) ||
	    SSL_CTX_use_certificate(ctx, x) != 1) {
		*why = "--tls-cert: no usable PEM certificate";
		goto fail;
	}
	X509_free(x);
	x = NULL;
	for (;;) {
		X509 *ca = PEM_read_bio_X509(bio, NULL, tls_no_passphrase, NULL);

		if (!ca)
			break;
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			*why = "--tls-cert: cannot add a chain certificate";
			goto fail;
		}
	}
	ERR_clear_error();	/* the end of the file reads as an error */
	BIO_free(bio);
	bio = NULL;
	/* Checked here, so inetd mode (no start-up check) refuses it too. */
	if (fstat(key_fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & S_IROTH)) {
		*why = "--tls-key must be a regular file not readable by others (chmod o-r)";
		goto fail;
	}
	bio = BIO_new_fd(key_fd, BIO_NOCLOSE);
	if (!bio || !(pk = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase, NULL))) {
		*why = "--tls-key: no usable (unencrypted) PEM private key";
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
		*why = "--tls-key does not match --tls-cert";
		goto fail;
	}
	EVP_PKEY_free(pk);
	pk = NULL;
	BIO_free(bio);
	bio = NULL;
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*why = "--tls-key does not match --tls-cert";
		goto fail;
	}
	ERR_clear_error();
	return ctx;
fail:
	EVP_PKEY_free(pk);
	X509_free(x);
	BIO_free(bio);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* What the fork checks; returns NULL or the problem. */
static const char *tls_check_in_child(const char *cert, const char *key)
{
	struct stat st;
	const char *which = NULL, *why = NULL;
	int cfd, kfd;
	SSL_CTX *ctx;

	if (tls_open_files(cert, key, &cfd, &kfd, &which) < 0)
		return which[6] == 'c' ? "--tls-cert: cannot open the file" :
		       "--tls-key: cannot open the file";
	if (fstat(cfd, &st) < 0 || !S_ISREG(st.st_mode))
		return "--tls-cert must be a regular file";
	ctx = tls_ctx_load(cfd, kfd, &why);
	if (!ctx)
		return why;
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_check_files(const char *cert, const char *key, struct buf *err)
{
	char msg[200];
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		buf_printf(err, "TLS check: pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		buf_printf(err, "TLS check: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* The key is parsed here and dies with this process. */
		const char *why;

		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		why = tls_check_in_child(cert, key);
		if (why)
			(void)io_write_full(p[1], why, strlen(why));
		_exit(why ? 1 : 0);
	}
	close(p[1]);
	n = 0;
	for (;;) {
		ssize_t r = io_read(p[0], msg + n, sizeof msg - 1 - (size_t)n);

		if (r <= 0)
			break;
		n += r;
		if ((size_t)n >= sizeof msg - 1)
			break;
	}
	close(p[0]);
	msg[n] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = 1;
			break;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == 0)
		return 0;
	buf_printf(err, "%s (--tls-cert %s, --tls-key %s)",
		   n > 0 ? msg : "TLS check failed", cert, key);
	return -1;
}

struct tls *tls_server_new(int cert_fd, int key_fd, const char **why)
{
	struct tls *t = calloc(1, sizeof *t);

	if (!t) {
		*why = "out of memory";
		return NULL;
	}
	t->ctx = tls_ctx_load(cert_fd, key_fd, why);
	if (!t->ctx) {
		free(t);
		return NULL;
	}
	t->rfd = t->wfd = -1;
	return t;
}

void tls_free(struct tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	free(t);
}

int tls_active(const struct tls *t)
{
	return t && t->active;
}

/* Wait for what OpenSSL asked for; 1 to retry, 0 on a deadline, -1. */
static int tls_wait(struct tls *t, int rc, long long deadline_ms)
{
	int e = SSL_get_error(t->ssl, rc);

	if (e == SSL_ERROR_WANT_READ)
		return io_wait(t->rfd, POLLIN, deadline_ms);
	if (e == SSL_ERROR_WANT_WRITE)
		return io_wait(t->wfd, POLLOUT, deadline_ms);
	return -1;
}

/* OpenSSL's reason for a failed handshake, in its own words. */
static void tls_note_failure(struct tls *t, int rc, int w)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (w == 0)
		r = "handshake timed out";
	else if (!r && SSL_get_error(t->ssl, rc) == SSL_ERROR_SYSCALL)
		r = "connection closed during handshake";
	snprintf(t->failure, sizeof t->failure, "%s", r ? r : "handshake failed");
}

int tls_accept(struct tls *t, int rfd, int wfd, long long deadline_ms)
{
	if (t->ssl)
		return -1;
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl)
		return -1;
	t->rfd = rfd;
	t->wfd = wfd;
	if (io_set_nonblock(rfd, 1) < 0 || io_set_nonblock(wfd, 1) < 0 ||
	    SSL_set_rfd(t->ssl, rfd) != 1 || SSL_set_wfd(t->ssl, wfd) != 1)
		return -1;
	for (;;) {
		int rc = SSL_accept(t->ssl), w;

		if (rc == 1)
			break;
		w = tls_wait(t, rc, deadline_ms);
		if (w <= 0) {
			tls_note_failure(t, rc, w);
			ERR_clear_error();
			if (w == 0)
				errno = ETIMEDOUT;
			return -1;
		}
	}
	t->active = 1;
	return 0;
}

void tls_summary(const struct tls *t, char *out, size_t size)
{
	if (t && t->active)
		snprintf(out, size, "%s %s", SSL_get_version(t->ssl),
			 SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)));
	else
		snprintf(out, size, "%s", t && t->failure[0] ? t->failure : "no handshake");
}

ssize_t tls_peek(struct tls *t, void *p, size_t n, long long deadline_ms)
{
	int want = n > (size_t)INT32_MAX ? INT32_MAX : (int)n;

	for (;;) {
		int rc = SSL_peek(t->ssl, p, want), w;

		if (rc > 0)
			return rc;
		if (SSL_get_error(t->ssl, rc) == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (SSL_get_error(t->ssl, rc) == SSL_ERROR_SYSCALL && errno == 0) {
			ERR_clear_error();
			return 0;	/* the peer closed without close_notify */
		}
		w = tls_wait(t, rc, deadline_ms);
		if (w <= 0) {
			ERR_clear_error();
			errno = w == 0 ? ETIMEDOUT : EIO;
			return -1;
		}
	}
}

int tls_read_full(struct tls *t, void *p, size_t n)
{
	unsigned char *q = p;

	while (n > 0) {
		int want = n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
		int rc = SSL_read(t->ssl, q, want);

		if (rc <= 0) {
			/* peeked bytes are decrypted already: no wait needed */
			ERR_clear_error();
			errno = EIO;
			return -1;
		}
		q += rc;
		n -= (size_t)rc;
	}
	return 0;
}

int tls_write(struct tls *t, const void *p, size_t n, int timeout_ms)
{
	const unsigned char *q = p;

	while (n > 0) {
		int want = n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
		int rc = SSL_write(t->ssl, q, want), w;

		if (rc > 0) {
			q += rc;
			n -= (size_t)rc;
			continue;
		}
		w = tls_wait(t, rc, io_now_ms() + timeout_ms);
		if (w <= 0) {
			ERR_clear_error();
			errno = w == 0 ? ETIMEDOUT : EIO;
			return -1;
		}
	}
	return 0;
}

/*
 * The relay.  Each pass tries every transfer once; only when none made
 * progress does it poll, and then only for what a blocked transfer
 * waits on (polling a hung-up descriptor we cannot serve yet would
 * spin).  OpenSSL may want the other direction's readiness (a write
 * that must read, TLS 1.3 post-handshake messages), hence the flags.
 */
void tls_relay(struct tls *t, int session_fd, int timeout_s)
{
	unsigned char *c2s, *s2c;
	size_t c2s_len = 0, s2c_len = 0;
	int client_eof = 0, session_eof = 0, session_shut = 0, ssl_write_pending = 0;
	long long idle_ms = (long long)(timeout_s > 0 ? timeout_s : 600) * 1000;
	long long deadline = io_now_ms() + idle_ms;

	c2s = malloc(TLS_RELAY_BUF);
	s2c = malloc(TLS_RELAY_BUF);
	if (!c2s || !s2c || io_set_nonblock(session_fd, 1) < 0)
		goto done;
	for (;;) {
		struct pollfd pfd[3];
		short cl_r = 0, cl_w = 0, se_r = 0, se_w = 0;
		int progress = 0, rc, nfd;
		ssize_t k;

		/* client -> session */
		if (!client_eof && c2s_len < TLS_RELAY_BUF) {
			rc = SSL_read(t->ssl, c2s + c2s_len, (int)(TLS_RELAY_BUF - c2s_len));
			if (rc > 0) {
				c2s_len += (size_t)rc;
				progress = 1;
			} else {
				int e = SSL_get_error(t->ssl, rc);

				if (e == SSL_ERROR_WANT_READ)
					cl_r = POLLIN;
				else if (e == SSL_ERROR_WANT_WRITE)
					cl_w = POLLOUT;
				else
					client_eof = 1;
			}
		}
		if (c2s_len > 0) {
			k = write(session_fd, c2s, c2s_len);
			if (k > 0) {
				memmove(c2s, c2s + k, c2s_len - (size_t)k);
				c2s_len -= (size_t)k;
				progress = 1;
			} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				se_w = POLLOUT;
			} else {
				break;	/* the session is gone */
			}
		}
		/*
		 * The client is done sending: the session gets EOF once it has
		 * every byte, and may still answer (a pipelined QUIT's +OK),
		 * as on a half-closed plain connection.
		 */
		if (client_eof && c2s_len == 0 && !session_shut) {
			(void)shutdown(session_fd, SHUT_WR);
			session_shut = 1;
		}

		/* session -> client; no new bytes while a TLS write must be repeated */
		if (!session_eof && !ssl_write_pending && s2c_len < TLS_RELAY_BUF) {
			k = read(session_fd, s2c + s2c_len, TLS_RELAY_BUF - s2c_len);
			if (k > 0) {
				s2c_len += (size_t)k;
				progress = 1;
			} else if (k == 0) {
				session_eof = 1;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				se_r = POLLIN;
			} else {
				session_eof = 1;
			}
		}
		if (s2c_len > 0) {
			rc = SSL_write(t->ssl, s2c, (int)s2c_len);
			if (rc > 0) {
				memmove(s2c, s2c + rc, s2c_len - (size_t)rc);
				s2c_len -= (size_t)rc;
				ssl_write_pending = 0;
				progress = 1;
			} else {
				int e = SSL_get_error(t->ssl, rc);

				ssl_write_pending = 1;
				if (e == SSL_ERROR_WANT_WRITE)
					cl_w = POLLOUT;
				else if (e == SSL_ERROR_WANT_READ)
					cl_r = POLLIN;
				else
					break;
			}
		}
		if (session_eof && s2c_len == 0) {
			/* best effort: a close_notify, without waiting for the peer's */
			(void)SSL_shutdown(t->ssl);
			break;
		}
		if (progress) {
			deadline = io_now_ms() + idle_ms;
			continue;
		}
		nfd = 0;
		if (cl_r || cl_w) {
			if (t->rfd == t->wfd) {
				pfd[nfd].fd = t->rfd;
				pfd[nfd++].events = (short)(cl_r | cl_w);
			} else {
				if (cl_r) {
					pfd[nfd].fd = t->rfd;
					pfd[nfd++].events = POLLIN;
				}
				if (cl_w) {
					pfd[nfd].fd = t->wfd;
					pfd[nfd++].events = POLLOUT;
				}
			}
		}
		if (se_r || se_w) {
			pfd[nfd].fd = session_fd;
			pfd[nfd++].events = (short)(se_r | se_w);
		}
		if (nfd == 0)
			break;	/* nothing to wait for: should not happen */
		{
			long long left = deadline - io_now_ms();
			int r;

			if (left <= 0)
				break;	/* idle timeout, RFC 1939 section 3 */
			r = poll(pfd, (nfds_t)nfd, left > 60000 ? 60000 : (int)left);
			if (r < 0 && errno != EINTR)
				break;
		}
	}
done:
	ERR_clear_error();
	if (c2s)
		explicit_bzero(c2s, TLS_RELAY_BUF);
	free(c2s);
	free(s2c);
}

#ifdef POPA3D_TLS_MODULE_BUILD
#include "tlsmod.h"

/* The module's only exported symbol (built with -fvisibility=hidden). */
__attribute__((visibility("default")))
extern const struct tls_ops popa3d_tls_ops;
const struct tls_ops popa3d_tls_ops = {
	TLS_OPS_VERSION, sizeof(struct tls_ops), PACKAGE_VERSION,
	tls_check_files, tls_open_files, tls_server_new, tls_free, tls_accept,
	tls_active, tls_peek, tls_read_full, tls_write, tls_relay, tls_summary,
};
#endif

#else /* !HAVE_TLS */

struct tls {
	int unused;
};

int tls_built(void)
{
	return 0;
}

void tls_summary(const struct tls *t, char *out, size_t size)
{
	(void)t;
	snprintf(out, size, "built without TLS");
}

int tls_load(struct buf *err)
{
	buf_printf(err, "TLS options: this popa3d was built without TLS (--without-tls)");
	return -1;
}

int tls_check_files(const char *cert, const char *key, struct buf *err)
{
	(void)cert;
	(void)key;
	buf_printf(err, "TLS options: this popa3d was built without TLS (--without-tls)");
	return -1;
}

struct tls *tls_server_new(int cert_fd, int key_fd, const char **why)
{
	(void)cert_fd;
	(void)key_fd;
	*why = "built without TLS";
	return NULL;
}

void tls_free(struct tls *t)
{
	(void)t;
}

int tls_accept(struct tls *t, int rfd, int wfd, long long deadline_ms)
{
	(void)t;
	(void)rfd;
	(void)wfd;
	(void)deadline_ms;
	errno = ENOSYS;
	return -1;
}

int tls_active(const struct tls *t)
{
	(void)t;
	return 0;
}

ssize_t tls_peek(struct tls *t, void *p, size_t n, long long deadline_ms)
{
	(void)t;
	(void)p;
	(void)n;
	(void)deadline_ms;
	errno = ENOSYS;
	return -1;
}

int tls_read_full(struct tls *t, void *p, size_t n)
{
	(void)t;
	(void)p;
	(void)n;
	errno = ENOSYS;
	return -1;
}

int tls_write(struct tls *t, const void *p, size_t n, int timeout_ms)
{
	(void)t;
	(void)p;
	(void)n;
	(void)timeout_ms;
	errno = ENOSYS;
	return -1;
}

void tls_relay(struct tls *t, int session_fd, int timeout_s)
{
	(void)t;
	(void)session_fd;
	(void)timeout_s;
}

#endif /* HAVE_TLS */
