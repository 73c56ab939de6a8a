/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader (root).
 * Client addresses; see peer.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "peer.h"

void peer_from_sockaddr(const struct sockaddr_storage *ss, socklen_t len,
			struct peer_key *key, char *text, size_t textsize)
{
	struct peer_key k;

	memset(&k, 0, sizeof k);
	snprintf(text, textsize, "%s", ss->ss_family == AF_UNIX ? "local" : "unknown");
	if (ss->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		k.family = 4;
		memcpy(k.bytes, &sin->sin_addr, 4);
		if (!inet_ntop(AF_INET, &sin->sin_addr, text, (socklen_t)textsize))
			snprintf(text, textsize, "unknown");
	} else if (ss->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			k.family = 4;
			memcpy(k.bytes, sin6->sin6_addr.s6_addr + 12, 4);
			if (!inet_ntop(AF_INET, k.bytes, text, (socklen_t)textsize))
				snprintf(text, textsize, "unknown");
		} else {
			k.family = 6;
			memcpy(k.bytes, sin6->sin6_addr.s6_addr, 8);
			if (!inet_ntop(AF_INET6, &sin6->sin6_addr, text, (socklen_t)textsize))
				snprintf(text, textsize, "unknown");
		}
	}
	if (key)
		*key = k;
}

void peer_from_fd(int fd, char *text, size_t textsize)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	memset(&ss, 0, sizeof ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(text, textsize, "local");
		return;
	}
	peer_from_sockaddr(&ss, len, NULL, text, textsize);
}

void peer_from_bytes(unsigned family, const unsigned char *addr, struct peer_key *key,
		     char *text, size_t textsize)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof ss);
	if (family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		len = sizeof *sin6;
	}
	peer_from_sockaddr(&ss, len, key, text, textsize);
}

int peer_key_eq(const struct peer_key *a, const struct peer_key *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 8) == 0;
}

void peer_local_text(int fd, char *text, size_t textsize)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct peer_key key;
	char addr[PEER_ADDR_MAX];
	unsigned port = 0;

	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(text, textsize, "local");
		return;
	}
	peer_from_sockaddr(&ss, len, &key, addr, sizeof addr);
	if (ss.ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
	else {
		snprintf(text, textsize, "%s", addr);
		return;
	}
	snprintf(text, textsize, key.family == 6 ? "[%s]:%u" : "%s:%u", addr, port);
}
