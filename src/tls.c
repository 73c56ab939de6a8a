/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the check fork, the listener, the leader, the key holder, the
 * pre-auth child, the TLS relay.
 * TLS through OpenSSL; see tls.h for who calls what.
 *
 * Parts of this file run as root: tls_check_files (in a throwaway fork
 * of the listener, which itself never loads the key), tls_open_files
 * (the listener or leader, which only open the files and never read the
 * key) and tls_key_load (the key holder, just before its privilege
 * drop).  tls_key_op runs in the key holder after the drop and answers
 * requests from the network-facing process: it checks every argument
 * against the key and performs nothing but the one operation asked.
 * The rest runs in the pre-auth child, unprivileged, chrooted and under
 * seccomp, and handles the client's bytes: it must not open files, log,
 * or read a byte of plaintext from the client before the handshake is
 * done.  Its private key is a stand-in holding only the public half:
 * RSA_METHOD and EC_KEY_METHOD hooks send each private operation to the
 * key holder (the way OpenSMTPD's ca.c serves its network processes).
 * Those are the OpenSSL 1.1 interfaces, deprecated in 3.0 in favour of
 * providers, hence OPENSSL_API_COMPAT below, in this file only; Ed25519
 * and Ed448 keys have no such hook and are refused with one line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "sysio.h"
#include "tls.h"

int tls_open_files(const char *cert, const char *key, int *cert_fd, int *key_fd,
		   const char **which)
{
	/* one line for the caller's log: which file, which component */
	static char why[PATH_MAX + 128];
	char detail[PATH_MAX + 96];

	*cert_fd = io_open_trusted(cert, detail, sizeof detail);
	if (*cert_fd < 0) {
		snprintf(why, sizeof why, "--tls-cert %s", detail);
		*which = why;
		return -1;
	}
	*key_fd = io_open_trusted(key, detail, sizeof detail);
	if (*key_fd < 0) {
		int saved = errno;

		close(*cert_fd);
		*cert_fd = -1;
		errno = saved;
		snprintf(why, sizeof why, "--tls-key %s", detail);
		*which = why;
		return -1;
	}
	return 0;
}

#ifdef HAVE_TLS

/* RSA_METHOD, EC_KEY_METHOD and the key getters: see the header. */
#define OPENSSL_API_COMPAT 0x10101000L
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Relay buffers, each way: one TLS record's worth. */
#define TLS_RELAY_BUF 16384

struct tls {
	SSL_CTX *ctx;
	SSL *ssl;
	const struct tls_signer *signer;	/* told when the handshake is over */
	int rfd, wfd;
	int active;
	char failure[96];	/* why tls_accept failed, for the end-of-connection line */
};

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
static SSL_CTX *tls_ctx_new(const char **why)
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
static int tls_ctx_chain(SSL_CTX *ctx, BIO *bio, const char **why)
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

/* The key types the holder can serve: the TLS endpoint's stand-in key
 * needs an RSA_METHOD or EC_KEY_METHOD, which Ed25519/Ed448 lack. */
static int tls_key_type_ok(EVP_PKEY *pk, const char **why)
{
	int id = EVP_PKEY_get_base_id(pk);

	if (id == EVP_PKEY_RSA || id == EVP_PKEY_EC)
		return 0;
	*why = "--tls-key: only RSA and ECDSA keys are supported (not Ed25519, Ed448 or DSA)";
	return -1;
}

/* The private key from key_fd, which must be a regular file that others
 * may not read (checked here, so inetd mode refuses it too). */
static EVP_PKEY *tls_read_key(int key_fd, const char **why)
{
	struct stat st;
	EVP_PKEY *pk = NULL;
	BIO *bio;

	if (fstat(key_fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & S_IROTH)) {
		*why = "--tls-key must be a regular file not readable by others (chmod o-r)";
		return NULL;
	}
	bio = BIO_new_fd(key_fd, BIO_NOCLOSE);
	if (!bio || !(pk = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase, NULL)))
		*why = "--tls-key: no usable (unencrypted) PEM private key";
	BIO_free(bio);
	if (pk && tls_key_type_ok(pk, why) < 0) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	ERR_clear_error();
	return pk;
}

/* A whole context from the two files, as a check: NULL or the context. */
static SSL_CTX *tls_ctx_load(int cert_fd, int key_fd, const char **why)
{
	SSL_CTX *ctx = tls_ctx_new(why);
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;

	if (!ctx)
		return NULL;
	bio = BIO_new_fd(cert_fd, BIO_NOCLOSE);
	if (!bio) {
		*why = "--tls-cert: cannot read it";
		goto fail;
	}
	if (tls_ctx_chain(ctx, bio, why) < 0)
		goto fail;
	BIO_free(bio);
	bio = NULL;
	pk = tls_read_key(key_fd, why);
	if (!pk)
		goto fail;
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		*why = "--tls-key does not match --tls-cert";
		goto fail;
	}
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return ctx;
fail:
	EVP_PKEY_free(pk);
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
		return which;
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
	char msg[PATH_MAX + 256];
	int fd, status;
	ssize_t n;
	pid_t pid;

	pid = io_fork_pipe(&fd);
	if (pid < 0) {
		buf_printf(err, "TLS check: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* The key is parsed here and dies with this process. */
		const char *why;

		signal(SIGPIPE, SIG_IGN);
		why = tls_check_in_child(cert, key);
		if (why)
			(void)io_write_full(fd, why, strlen(why));
		_exit(why ? 1 : 0);
	}
	n = 0;
	for (;;) {
		ssize_t r = io_read(fd, msg + n, sizeof msg - 1 - (size_t)n);

		if (r <= 0)
			break;
		n += r;
		if ((size_t)n >= sizeof msg - 1)
			break;
	}
	close(fd);
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

/* The key holder's key. */
struct tls_key {
	EVP_PKEY *pk;
};

struct tls_key *tls_key_load(const void *chain, size_t chain_len, int key_fd, const char **why)
{
	struct tls_key *k;
	X509 *x = NULL;
	BIO *bio;
	EVP_PKEY *pk;

	if (chain_len > INT32_MAX || !(bio = BIO_new_mem_buf(chain, (int)chain_len))) {
		*why = "out of memory";
		return NULL;
	}
	x = PEM_read_bio_X509(bio, NULL, tls_no_passphrase, NULL);
	BIO_free(bio);
	if (!x) {
		*why = "--tls-cert: no usable PEM certificate";
		ERR_clear_error();
		return NULL;
	}
	pk = tls_read_key(key_fd, why);
	if (pk && X509_check_private_key(x, pk) != 1) {
		*why = "--tls-key does not match --tls-cert";
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	X509_free(x);
	ERR_clear_error();
	if (!pk)
		return NULL;
	k = calloc(1, sizeof *k);
	if (!k) {
		*why = "out of memory";
		EVP_PKEY_free(pk);
		return NULL;
	}
	k->pk = pk;
	return k;
}

/*
 * Without padding, an RSA private operation on any block would be a
 * decryption oracle (for a ciphertext recorded when RSA key exchange was
 * on, say) and a signature on anything.  TLS asks it only for RSA-PSS
 * (RFC 8446 section 4.2.3: MGF1 with the same hash, salt as long as the
 * hash), so the block must be such an encoding: trailer 0xbc, the top bits
 * clear, and DB = 0..0 01 salt once unmasked, for SHA-256, -384 or -512.
 * Whoever asks still chooses the digest, not the block.
 */
static int tls_key_pss_ok(RSA *rsa, const unsigned char *in, size_t n)
{
	static const int nids[] = { NID_sha256, NID_sha384, NID_sha512 };
	size_t bits = (size_t)RSA_bits(rsa), emlen = (bits - 1 + 7) / 8;
	unsigned char db[FRAME_KEY_DATA_MAX];
	const unsigned char *em = in + (n - emlen);
	unsigned char top = (unsigned char)(0xff >> (8 * emlen - (bits - 1)));

	if (bits < 1024 || emlen > n || emlen > sizeof db || (n > emlen && in[0] != 0) ||
	    em[emlen - 1] != 0xbc || (em[0] & ~top))
		return 0;
	for (size_t i = 0; i < sizeof nids / sizeof nids[0]; i++) {
		const EVP_MD *md = EVP_get_digestbynid(nids[i]);
		size_t hlen = md ? (size_t)EVP_MD_get_size(md) : 0, dblen, k = 0;

		if (!hlen || emlen < 2 * hlen + 2)
			continue;
		dblen = emlen - hlen - 1;
		if (PKCS1_MGF1(db, (long)dblen, em + dblen, (long)hlen, md) != 0)
			continue;
		for (size_t j = 0; j < dblen; j++)
			db[j] ^= em[j];
		db[0] &= top;
		while (k < dblen && db[k] == 0)
			k++;
		if (k < dblen && db[k] == 1 && dblen - k - 1 == hlen) {
			explicit_bzero(db, sizeof db);
			return 1;
		}
	}
	explicit_bzero(db, sizeof db);
	return 0;
}

/*
 * One signature, by the configured key only, with every argument checked
 * against it: the input is at most the modulus (exactly it, and an
 * RSA-PSS encoding, without padding) or a digest of at most 64 bytes.
 */
int tls_key_op(struct tls_key *k, unsigned op, unsigned pad, const unsigned char *in, size_t n,
	       unsigned char *out, size_t outmax, size_t *outlen)
{
	int id = EVP_PKEY_get_base_id(k->pk), r = -1;

	if (op == FRAME_KEY_RSA_SIGN) {
		RSA *rsa = id == EVP_PKEY_RSA ? (RSA *)EVP_PKEY_get0_RSA(k->pk) : NULL;
		int padding = pad == FRAME_KEY_PAD_PKCS1 ? RSA_PKCS1_PADDING :
			      pad == FRAME_KEY_PAD_NONE ? RSA_NO_PADDING : -1;
		size_t size;

		if (!rsa || padding < 0)
			return -1;
		size = (size_t)RSA_size(rsa);
		if (n == 0 || n > size || outmax < size ||
		    (padding == RSA_NO_PADDING && (n != size || !tls_key_pss_ok(rsa, in, n))))
			return -1;
		r = RSA_private_encrypt((int)n, in, out, rsa, padding);
		ERR_clear_error();
		if (r < 0)
			return -1;
		*outlen = (size_t)r;
		return 0;
	}
	if (op == FRAME_KEY_ECDSA_SIGN) {
		EC_KEY *ec = id == EVP_PKEY_EC ? (EC_KEY *)EVP_PKEY_get0_EC_KEY(k->pk) : NULL;
		unsigned int len = 0;

		if (!ec || pad != 0 || n == 0 || n > 64 || ECDSA_size(ec) <= 0 ||
		    outmax < (size_t)ECDSA_size(ec))
			return -1;
		r = ECDSA_sign(0, in, (int)n, out, &len, ec);
		ERR_clear_error();
		if (r != 1)
			return -1;
		*outlen = len;
		return 0;
	}
	return -1;
}

void tls_key_free(struct tls_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pk);
	free(k);
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
