/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The SASL decoder and the PLAIN splitter, table-driven: RFC 4648's test
 * vectors, every way base64 can be malformed or non-canonical, and the
 * RFC 4616 field rules (NUL count, empty fields, lengths, authzid).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "sasl.h"
#include "tap.h"

struct b64_case {
	const char *in;
	const char *out;	/* NULL: must be refused */
	size_t outlen;
};

static const struct b64_case b64_cases[] = {
	/* RFC 4648 section 10 */
	{ "", "", 0 },
	{ "Zg==", "f", 1 },
	{ "Zm8=", "fo", 2 },
	{ "Zm9v", "foo", 3 },
	{ "Zm9vYg==", "foob", 4 },
	{ "Zm9vYmE=", "fooba", 5 },
	{ "Zm9vYmFy", "foobar", 6 },
	/* RFC 4616 section 4's example, and binary with NULs */
	{ "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "\0tim\0tanstaaftanstaaf", 21 },
	{ "AAAA", "\0\0\0", 3 },
	{ "+/+/", "\xfb\xff\xbf", 3 },
	/* malformed */
	{ "Zg", NULL, 0 },		/* no padding */
	{ "Zg=", NULL, 0 },		/* short padding */
	{ "Zg===", NULL, 0 },		/* too much */
	{ "====", NULL, 0 },
	{ "Z===", NULL, 0 },
	{ "Zg==Zg==", NULL, 0 },	/* padding in the middle */
	{ "Z=g=", NULL, 0 },
	{ "Zm9v\n", NULL, 0 },		/* whitespace */
	{ "Zm 9v", NULL, 0 },
	{ "Zm9v YmFy", NULL, 0 },
	{ "Zm9-", NULL, 0 },		/* base64url alphabet */
	{ "Zm9_", NULL, 0 },
	{ "Zm9\x80", NULL, 0 },
	{ "*", NULL, 0 },
	/* non-canonical: the slack bits set */
	{ "Zh==", NULL, 0 },
	{ "Zm9=", NULL, 0 },
	{ "Zm/=", NULL, 0 },
};

static void test_b64(void)
{
	for (size_t i = 0; i < sizeof b64_cases / sizeof b64_cases[0]; i++) {
		const struct b64_case *c = &b64_cases[i];
		unsigned char out[64];
		size_t n = 99;
		int r = sasl_b64_decode(c->in, strlen(c->in), out, sizeof out, &n);

		if (c->out)
			ok(r == 0 && n == c->outlen && memcmp(out, c->out, n) == 0,
			   "base64 \"%s\" decodes", c->in);
		else
			ok(r < 0, "base64 case %zu refused", i);
	}
	/* the output ceiling is a hard one */
	{
		unsigned char out[5];
		size_t n;

		ok(sasl_b64_decode("Zm9vYmFy", 8, out, sizeof out, &n) < 0, "decode: 6 bytes do not fit in 5");
		ok(sasl_b64_decode("Zm9vYmE=", 8, out, sizeof out, &n) == 0 && n == 5, "decode: 5 fit in 5");
	}
	/* round trip over every byte value and every length mod 3 */
	{
		unsigned char raw[256], back[256];
		char enc[400];
		int good = 1;

		for (int i = 0; i < 256; i++)
			raw[i] = (unsigned char)i;
		for (size_t len = 0; len <= 256; len++) {
			size_t el, bl;

			if (sasl_b64_encode(raw, len, enc, sizeof enc, &el) < 0 ||
			    sasl_b64_decode(enc, el, back, sizeof back, &bl) < 0 ||
			    bl != len || memcmp(raw, back, len) != 0)
				good = 0;
		}
		ok(good, "encode/decode round trip, lengths 0..256");
		ok(sasl_b64_encode(raw, 3, enc, 3, &(size_t){0}) < 0, "encode: short output refused");
	}
}

struct plain_case {
	const char *msg;
	size_t len;
	enum sasl_plain_error want;
	const char *what;
};

#define M(s) s, sizeof s - 1

static void test_plain(void)
{
	static const struct plain_case cases[] = {
		{ M("\0tim\0tanstaaftanstaaf"), SASL_OK, "no authzid" },
		{ M("tim\0tim\0secret"), SASL_OK, "authzid equal to authcid" },
		{ M("\0tim\0pass with spaces"), SASL_OK, "spaces in the password" },
		{ M("admin\0tim\0secret"), SASL_PROXY, "authzid different from authcid" },
		{ M("timx\0tim\0secret"), SASL_PROXY, "authzid longer than authcid" },
		{ M("ti\0tim\0secret"), SASL_PROXY, "authzid a prefix of authcid" },
		{ M("tim\0secret"), SASL_MALFORMED, "one NUL" },
		{ M("timsecret"), SASL_MALFORMED, "no NUL" },
		{ M(""), SASL_MALFORMED, "empty" },
		{ M("\0\0"), SASL_MALFORMED, "all empty" },
		{ M("\0\0secret"), SASL_MALFORMED, "empty authcid" },
		{ M("\0tim\0"), SASL_MALFORMED, "empty password" },
		{ M("\0tim\0sec\0ret"), SASL_MALFORMED, "a third NUL (NUL in the password)" },
		{ M("\0tim\0secret\0"), SASL_MALFORMED, "a trailing NUL" },
	};
	struct sasl_plain p;
	unsigned char big[600];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ok(sasl_plain_split((const unsigned char *)cases[i].msg, cases[i].len, 1024, &p) ==
		   cases[i].want, "PLAIN: %s", cases[i].what);
	ok(sasl_plain_split((const unsigned char *)"tim\0tim\0secret", 14, 1024, &p) == SASL_OK &&
	   p.authcid_len == 3 && memcmp(p.authcid, "tim", 3) == 0 &&
	   p.passwd_len == 6 && memcmp(p.passwd, "secret", 6) == 0,
	   "PLAIN: fields point at authcid and passwd");

	/* 255-octet fields are the RFC 4616 minimum; 256 is over ours */
	memset(big, 'a', sizeof big);
	big[0] = 0;
	big[256] = 0;
	ok(sasl_plain_split(big, 260, 1024, &p) == SASL_OK && p.authcid_len == 255,
	   "PLAIN: 255-octet authcid accepted");
	big[256] = 'a';
	big[257] = 0;
	ok(sasl_plain_split(big, 260, 1024, &p) == SASL_TOO_LONG, "PLAIN: 256-octet authcid refused");
	memset(big, 'a', sizeof big);
	big[256] = 0;
	big[258] = 0;
	ok(sasl_plain_split(big, 300, 1024, &p) == SASL_TOO_LONG, "PLAIN: 256-octet authzid refused");
	/* password ceiling */
	memset(big, 'p', sizeof big);
	memcpy(big, "\0u\0", 3);
	ok(sasl_plain_split(big, 3 + 100, 100, &p) == SASL_OK, "PLAIN: password at the ceiling");
	ok(sasl_plain_split(big, 3 + 101, 100, &p) == SASL_TOO_LONG, "PLAIN: password over the ceiling");
}

int main(void)
{
	test_b64();
	test_plain();
	return tap_done();
}
