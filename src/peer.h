/* SPDX-License-Identifier: BSD-2-Clause */
/* Client addresses: printable form and the key per-source limits use. */
#ifndef POPA3D_PEER_H
#define POPA3D_PEER_H

#include <stddef.h>
#include <sys/socket.h>

#define PEER_ADDR_MAX 64

/* IPv4: the address; IPv6: its /64 (one host usually owns a whole /64,
 * so per-address limits on IPv6 would be no limits at all). */
struct peer_key {
	unsigned char family;
	unsigned char bytes[8];
};

/* Fill key (unless NULL) and text ("unknown" for what is not IPv4/IPv6);
 * v4-mapped IPv6 addresses count as IPv4. */
void peer_from_sockaddr(const struct sockaddr_storage *ss, socklen_t len,
			struct peer_key *key, char *text, size_t textsize);
/* The printable peer of fd (inetd mode); "local" when fd is not a socket. */
void peer_from_fd(int fd, char *text, size_t textsize);
/* The same from raw address bytes: family 4 (4 bytes) or 6 (16 bytes),
 * as a PROXY header carries them. */
void peer_from_bytes(unsigned family, const unsigned char *addr, struct peer_key *key,
		     char *text, size_t textsize);
/* "ADDR:PORT" ("[ADDR]:PORT" for IPv6) of fd's own end, for log lines;
 * "local" when fd is not an IP socket.  textsize PEER_LOCAL_MAX. */
#define PEER_LOCAL_MAX (PEER_ADDR_MAX + 8)
void peer_local_text(int fd, char *text, size_t textsize);
int peer_key_eq(const struct peer_key *a, const struct peer_key *b);

#endif
