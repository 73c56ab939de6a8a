/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the pre-auth child, the TLS relay (tls_free at its end), the
 * check fork and the key holder (the context settings and the PEM reader
 * only).
 * TLS through OpenSSL; see tls.h for who calls what.  This file is the
 * TLS endpoint: the server context every connection gets, and in the
 * pre-auth child, unprivileged, chrooted and under seccomp, the
 * handshake and the record I/O on the client's bytes: it must not open
 * files, log, or read a byte of plaintext from the client before the
 * handshake is done.  Its private key is a stand-in holding only the
 * public half: RSA_METHOD and EC_KEY_METHOD hooks send each private
 * operation to the key holder (the way OpenSMTPD's ca.c serves its
 * network processes); Ed25519 and Ed448 keys have no such hook and are
 * refused with one line.  The key files and the key holder's side are
 * tlskey.c's; the relay after a login is tlsrelay.c's.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "sysio.h"
#include "tls.h"

#ifdef HAVE_TLS

#include "tls-int.h"
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

int tls_load(struct buf *err)
{
	(void)err;
	return 0;	/* linked in: nothing to load */
}

/* An encrypted key gets no passphrase: nobody is there to type one. */
int tls_no_passphrase(char *buf, int size, int rw, void *u)
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

/*
 * The system's TLS 1.2 cipher list without RSA key exchange: it has no
 * forward secrecy, and its decryption, asked of the key holder, would
 * make the holder a Bleichenbacher oracle for any process that can ask.
 * Every ECDHE suite of the policy stays, in its order.
 */
static int tls_no_rsa_kx(SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	char list[8192];
	size_t used = 0;
	int dropped = 0;

	list[0] = '\0';
	for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		const char *name = SSL_CIPHER_get_name(c);
		size_t len = strlen(name);
		int kx = SSL_CIPHER_get_kx_nid(c);

		if (kx == NID_kx_rsa) {
			dropped = 1;
			continue;
		}
		if (kx == NID_kx_any)
			continue;	/* TLS 1.3: set apart, no RSA key exchange */
		if (used + len + 2 > sizeof list)
			return -1;
		if (used)
			list[used++] = ':';
		memcpy(list + used, name, len + 1);
		used += len;
	}
	if (!dropped)
		return 0;
	return used && SSL_CTX_set_cipher_list(ctx, list) == 1 ? 0 : -1;
}

/* The settings every server context gets; NULL on failure. */
SSL_CTX *tls_ctx_new(const char **why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		*why = "cannot create a TLS context";
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		*why = "cannot require TLS 1.2";
		SSL_CTX_free(ctx);
		return NULL;
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
	if (tls_no_rsa_kx(ctx) < 0) {
		*why = "cannot set the cipher list";
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The chain from bio into ctx: the server's certificate first, then
 * intermediates.  0, or -1 with *why set. */
int tls_ctx_chain(SSL_CTX *ctx, BIO *bio, const char **why)
{
	X509 *x = PEM_read_bio_X509_AUX(bio, NULL, tls_no_passphrase, NULL);

	if (!x || SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		*why = "--tls-cert: no usable PEM certificate";
		return -1;
	}
	X509_free(x);
	for (;;) {
		X509 *ca = PEM_read_bio_X509(bio, NULL, tls_no_passphrase, NULL);

		if (!ca)
			break;
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			*why = "--tls-cert: cannot add a chain certificate";
			return -1;
		}
	}
	ERR_clear_error();	/* the end of the file reads as an error */
	return 0;
}

/*
 * The TLS endpoint's key: the certificate's public key with methods whose
 * private operations go to the key holder.  One signer per process (the
 * pre-auth child has one connection), so the hooks find it here.
 */
static const struct tls_signer *tls_remote;
static RSA_METHOD *tls_rsa_meth;
static EC_KEY_METHOD *tls_ec_meth;

static int tls_remote_ask(unsigned op, unsigned pad, const unsigned char *in, size_t n,
			  unsigned char *out, size_t outmax, size_t *outlen)
{
	if (!tls_remote)
		return -1;
	return tls_remote->op(tls_remote->ctx, op, pad, in, n, out, outmax, outlen);
}

static int tls_remote_pad(int padding, unsigned *pad)
{
	if (padding == RSA_PKCS1_PADDING)
		*pad = FRAME_KEY_PAD_PKCS1;
	else if (padding == RSA_NO_PADDING)
		*pad = FRAME_KEY_PAD_NONE;
	else
		return -1;
	return 0;
}

/* RSA signatures only: RSA key exchange is off (tls_no_rsa_kx), so no
 * private decryption is ever asked for. */
static int tls_remote_rsa_sign(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
			       int padding)
{
	unsigned pad;
	size_t outlen;

	if (flen < 0 || tls_remote_pad(padding, &pad) < 0 ||
	    tls_remote_ask(FRAME_KEY_RSA_SIGN, pad, from, (size_t)flen, to, (size_t)RSA_size(rsa),
			   &outlen) < 0)
		return -1;
	return (int)outlen;
}

static int tls_remote_ecdsa(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
			    unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r,
			    EC_KEY *eckey)
{
	size_t outlen;
	int max = ECDSA_size(eckey);

	(void)type;
	(void)kinv;
	(void)r;
	if (dlen < 0 || max <= 0 ||
	    tls_remote_ask(FRAME_KEY_ECDSA_SIGN, 0, dgst, (size_t)dlen, sig, (size_t)max,
			   &outlen) < 0)
		return 0;
	*siglen = (unsigned int)outlen;
	return 1;
}

static ECDSA_SIG *tls_remote_ecdsa_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
				       const BIGNUM *r, EC_KEY *eckey)
{
	unsigned char der[FRAME_KEY_DATA_MAX];
	const unsigned char *p = der;
	unsigned int len = 0;

	if (ECDSA_size(eckey) > (int)sizeof der ||
	    !tls_remote_ecdsa(0, dgst, dlen, der, &len, kinv, r, eckey))
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, (long)len);
}

/* The stand-in for pub: same public half, private operations remote. */
static EVP_PKEY *tls_remote_key(EVP_PKEY *pub, const char **why)
{
	EVP_PKEY *pk = EVP_PKEY_new();

	*why = "cannot build the remote key";
	if (!pk)
		return NULL;
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		const RSA *src = EVP_PKEY_get0_RSA(pub);
		RSA *rsa;

		if (!tls_rsa_meth) {
			tls_rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL());
			if (!tls_rsa_meth ||
			    RSA_meth_set1_name(tls_rsa_meth, "popa3d key holder") != 1 ||
			    RSA_meth_set_priv_enc(tls_rsa_meth, tls_remote_rsa_sign) != 1)
				goto fail;
		}
		rsa = src ? RSAPublicKey_dup(src) : NULL;
		if (!rsa || RSA_set_method(rsa, tls_rsa_meth) != 1 ||
		    EVP_PKEY_assign_RSA(pk, rsa) != 1) {
			RSA_free(rsa);
			goto fail;
		}
		return pk;
	}
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		const EC_KEY *src = EVP_PKEY_get0_EC_KEY(pub);
		EC_KEY *ec;

		if (!tls_ec_meth) {
			int (*sign_setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

			tls_ec_meth = EC_KEY_METHOD_new(EC_KEY_get_default_method());
			if (!tls_ec_meth)
				goto fail;
			EC_KEY_METHOD_get_sign(EC_KEY_get_default_method(), NULL, &sign_setup, NULL);
			EC_KEY_METHOD_set_sign(tls_ec_meth, tls_remote_ecdsa, sign_setup,
					       tls_remote_ecdsa_sig);
		}
		ec = src ? EC_KEY_dup(src) : NULL;
		if (!ec || EC_KEY_set_method(ec, tls_ec_meth) != 1 ||
		    EVP_PKEY_assign_EC_KEY(pk, ec) != 1) {
			EC_KEY_free(ec);
			goto fail;
		}
		return pk;
	}
	*why = "--tls-cert: only RSA and ECDSA keys are supported (not Ed25519, Ed448 or DSA)";
fail:
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return NULL;
}

struct tls *tls_server_new(const void *chain, size_t chain_len, const struct tls_signer *signer,
			   const char **why)
{
	struct tls *t = calloc(1, sizeof *t);
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;

	if (!t) {
		*why = "out of memory";
		return NULL;
	}
	t->ctx = tls_ctx_new(why);
	if (!t->ctx || chain_len > INT32_MAX)
		goto fail;
	bio = BIO_new_mem_buf(chain, (int)chain_len);
	if (!bio) {
		*why = "out of memory";
		goto fail;
	}
	if (tls_ctx_chain(t->ctx, bio, why) < 0)
		goto fail;
	pk = tls_remote_key(SSL_CTX_get0_certificate(t->ctx) ?
			    X509_get0_pubkey(SSL_CTX_get0_certificate(t->ctx)) : NULL, why);
	if (!pk)
		goto fail;
	if (SSL_CTX_use_PrivateKey(t->ctx, pk) != 1) {
		*why = "cannot use the remote key";
		goto fail;
	}
	EVP_PKEY_free(pk);
	BIO_free(bio);
	tls_remote = signer;
	t->signer = signer;
	t->rfd = t->wfd = -1;
	ERR_clear_error();
	return t;
fail:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	SSL_CTX_free(t->ctx);
	free(t);
	ERR_clear_error();
	return NULL;
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

static void tls_signer_done(struct tls *t)
{
	if (t->signer) {
		t->signer->done(t->signer->ctx);
		t->signer = NULL;
		tls_remote = NULL;
	}
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
			int saved = errno;

			tls_note_failure(t, rc, w);
			ERR_clear_error();
			tls_signer_done(t);
			errno = w == 0 ? ETIMEDOUT : saved;
			return -1;
		}
	}
	/* Renegotiation is off: no private-key operation after this. */
	tls_signer_done(t);
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

#ifdef POPA3D_TLS_MODULE_BUILD
#include "tlsmod.h"

/* The module's only exported symbol (built with -fvisibility=hidden). */
__attribute__((visibility("default")))
extern const struct tls_ops popa3d_tls_ops;
const struct tls_ops popa3d_tls_ops = {
	TLS_OPS_VERSION, sizeof(struct tls_ops), PACKAGE_VERSION,
	tls_check_files, tls_open_files, tls_server_new, tls_key_load, tls_key_op, tls_key_free,
	tls_free, tls_accept,
	tls_active, tls_peek, tls_read_full, tls_write, tls_relay, tls_summary,
};
#endif

#endif /* HAVE_TLS */
