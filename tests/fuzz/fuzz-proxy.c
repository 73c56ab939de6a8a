/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the PROXY protocol header parser (v1 and v2) and the
 * --proxy-from list parser.  The header parser runs in the pre-auth child
 * on bytes nobody vouched for.  Invariants (abort() on violation):
 *   - a DONE header lies inside the input, is at least the smallest
 *     header and at most the cap, and parses the same from its own
 *     bytes alone (nothing after it changes it);
 *   - one byte more never turns BAD into anything else or changes a
 *     DONE (the reader decides on what it has seen);
 *   - MORE asks for more than it was given;
 *   - a v1 TCP4 header is exactly the canonical text of what it returns
 *     (no leading zeros, no extra spaces slipped through);
 *   - an accepted CIDR has no host bits and matches its own address.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_header(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, h2;
	size_t count, count2;
	enum proxy_error err, err2;
	enum proxy_status st = proxy_parse(data, size, &h, &count, &err);

	if (st == PROXY_BAD && (err == PROXY_ERR_NONE || err > PROXY_ERR_MAX))
		abort();
	if (st == PROXY_MORE && count <= size)
		abort();
	if (st == PROXY_DONE) {
		if (count > size || count < 15 || count > PROXY_MAX)
			abort();
		if (h.family != 0 && h.family != AF_INET && h.family != AF_INET6)
			abort();
		if (h.version == 1 && (count > PROXY_V1_MAX || data[count - 2] != '\r' ||
				       data[count - 1] != '\n'))
			abort();
		if (proxy_parse(data, count, &h2, &count2, &err2) != PROXY_DONE ||
		    count2 != count || memcmp(&h, &h2, sizeof h) != 0)
			abort();
		if (h.version == 1 && h.family == AF_INET) {
			char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN], text[PROXY_V1_MAX + 1];
			int n;

			if (!inet_ntop(AF_INET, h.src, s, sizeof s) ||
			    !inet_ntop(AF_INET, h.dst, d, sizeof d))
				abort();
			n = snprintf(text, sizeof text, "PROXY TCP4 %s %s %u %u\r\n", s, d,
				     (unsigned)h.src_port, (unsigned)h.dst_port);
			if (n < 0 || (size_t)n != count || memcmp(text, data, count) != 0)
				abort();
		}
	}
	if (size > 0) {
		enum proxy_status prev = proxy_parse(data, size - 1, &h2, &count2, &err2);

		if (prev == PROXY_BAD && st != PROXY_BAD)
			abort();
		if (prev == PROXY_DONE && (st != PROXY_DONE || count != count2))
			abort();
	}
}

static void fuzz_cidr(const uint8_t *data, size_t size)
{
	char s[512];
	struct proxy_cidr c[PROXY_FROM_MAX];
	size_t n;
	const char *why = NULL;

	if (size >= sizeof s || memchr(data, '\0', size))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (proxy_cidr_parse(s, c, PROXY_FROM_MAX, &n, &why) < 0) {
		if (!why)
			abort();
		return;
	}
	if (n == 0 || n > PROXY_FROM_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		unsigned bits = c[i].family == AF_INET ? 32 : 128;
		socklen_t len;

		if ((c[i].family != AF_INET && c[i].family != AF_INET6) || c[i].prefix > bits)
			abort();
		for (unsigned b = c[i].prefix; b < bits; b++)
			if (c[i].addr[b / 8] & (0x80 >> (b % 8)))
				abort();
		memset(&ss, 0, sizeof ss);
		if (c[i].family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, c[i].addr, 4);
			len = sizeof *sin;
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, c[i].addr, 16);
			len = sizeof *sin6;
			/* a v4-mapped entry never matches: peers compare as IPv4 */
			if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
				continue;
		}
		if (!proxy_cidr_match(&c[i], 1, &ss, len))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_header(data, size);
	fuzz_cidr(data, size);
	return 0;
}
