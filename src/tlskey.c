/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader, the check fork, the key holder.
 * The TLS key files and the private key.  All of it runs as root but
 * tls_key_op: tls_open_files in the listener or leader, which only open
 * the files and never read the key; tls_check_files in a throwaway fork
 * of the listener, which itself never loads the key; tls_key_load in the
 * key holder, just before its privilege drop.  tls_key_op runs in the
 * key holder after the drop and answers requests from the
 * network-facing process: it checks every argument against the key and
 * performs nothing but the one operation asked.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#include "tls-int.h"
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

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

#endif /* HAVE_TLS */
