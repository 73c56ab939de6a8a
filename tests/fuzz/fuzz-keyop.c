/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the key holder's key operation (tls_key_op in
 * src/tls.c) on a real RSA-2048 key, with the op, the padding and the
 * block chosen by the input, as a compromised pre-auth child would choose
 * them once keyproto_answer has let a well-formed request through.  It
 * covers the checks against the key, the RSA-PSS structure check of
 * blocks without padding (the bytes it parses are the attacker's), and
 * ECDSA requests refused by an RSA key.  A block without padding that is
 * signed must be a PSS encoding: its signature must verify as one.
 * Input: op (1 byte), pad (1 byte), the block.  Replayed over
 * tests/fuzz/corpus-keyop by `make check` (replay-keyop).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef HAVE_TLS
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;	/* built without TLS: no key operation to test */
}
#else
/* EVP_PKEY_get0_RSA, RSA_public_decrypt: as in src/tls.c */
#define OPENSSL_API_COMPAT 0x10101000L
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "frame.h"
#include "tls.h"

static struct tls_key *key;
static EVP_PKEY *pub;

/* A self-signed RSA-2048 certificate and its key, made once. */
static void keyop_init(void)
{
	char path[] = "/tmp/fuzz-keyop.XXXXXX";
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	const char *why = NULL;
	char *pem;
	long len;
	int fd = mkstemp(path);
	FILE *f;

	if (!pk || !x || !b || fd < 0 || !(f = fdopen(fd, "w")))
		abort();
	unlink(path);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, pk, EVP_sha256()) || !PEM_write_bio_X509(b, x) ||
	    !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) || fflush(f) != 0)
		abort();
	len = BIO_get_mem_data(b, &pem);
	lseek(fd, 0, SEEK_SET);
	key = tls_key_load(pem, (size_t)len, fd, &why);
	if (!key)
		abort();
	fclose(f);
	pub = pk;
	X509_free(x);
	BIO_free(b);
}

/* Does the block under sig carry the PSS trailer?  (Verifying the whole
 * encoding needs the digest, which only the input knows.) */
static int keyop_is_pss(const unsigned char *sig, size_t n)
{
	unsigned char em[FRAME_KEY_DATA_MAX];
	const RSA *rsa = EVP_PKEY_get0_RSA(pub);

	if (n != (size_t)RSA_size(rsa) ||
	    RSA_public_decrypt((int)n, sig, em, (RSA *)rsa, RSA_NO_PADDING) != (int)n)
		return 0;
	return em[n - 1] == 0xbc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[FRAME_KEY_DATA_MAX];
	size_t outlen = 0;
	int r;

	if (!key)
		keyop_init();
	if (size < 3 || size - 2 > FRAME_KEY_DATA_MAX)
		return 0;
	r = tls_key_op(key, data[0], data[1], data + 2, size - 2, out, sizeof out, &outlen);
	if (r == 0 && (outlen == 0 || outlen > sizeof out))
		__builtin_trap();
	if (r == 0 && data[0] == FRAME_KEY_RSA_SIGN && data[1] == FRAME_KEY_PAD_NONE &&
	    !keyop_is_pss(out, outlen))
		__builtin_trap();
	if (r == 0 && data[0] != FRAME_KEY_RSA_SIGN)
		__builtin_trap();	/* an RSA key does nothing else */
	return 0;
}
#endif /* HAVE_TLS */
