/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The engine's own MD5 against the test suite of RFC 1321 (appendix
 * A.5), fed whole and in uneven pieces (the scanner hashes header lines
 * piecewise across read windows).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mbox-int.h"
#include "tap.h"

static const struct {
	const char *in, *hex;
} vec[] = {
	{ "", "d41d8cd98f00b204e9800998ecf8427e" },
	{ "a", "0cc175b9c0f1b6a831c399e269772661" },
	{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
	{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
	{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	  "d174ab98d277d9f5a5611c2c9f419d9f" },
	{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	  "57edf4a22be3c955ac49da2e2107b67a" },
};

static void hex(const unsigned char d[16], char out[33])
{
	int i;

	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int main(void)
{
	size_t i, step;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		for (step = 1; step <= 65; step += 7) {
			struct mbox_md5 c;
			unsigned char d[16];
			char h[33];
			size_t n = strlen(vec[i].in), off;

			mbox_md5_init(&c);
			if (step == 1) {
				mbox_md5_update(&c, vec[i].in, n);
			} else {
				for (off = 0; off < n; off += step)
					mbox_md5_update(&c, vec[i].in + off,
							n - off < step ? n - off : step);
			}
			mbox_md5_final(&c, d);
			hex(d, h);
			ok(strcmp(h, vec[i].hex) == 0, "MD5(\"%.20s\") pieces of %zu = %s",
			   vec[i].in, step == 1 ? n : step, h);
		}
	}
	/* A million 'a's: exercises the 64-bit length and many blocks. */
	{
		struct mbox_md5 c;
		unsigned char d[16], a[1000];
		char h[33];

		memset(a, 'a', sizeof(a));
		mbox_md5_init(&c);
		for (i = 0; i < 1000; i++)
			mbox_md5_update(&c, a, sizeof(a));
		mbox_md5_final(&c, d);
		hex(d, h);
		ok(strcmp(h, "7707d6ae4e027c70eea2a935c2296f21") == 0, "MD5(10^6 x 'a') = %s", h);
	}
	return tap_done();
}
