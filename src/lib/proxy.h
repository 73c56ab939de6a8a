/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The HAProxy PROXY protocol header (v1 text, v2 binary), as a load
 * balancer sends it before the first POP3 (or TLS) byte, and the
 * --proxy-from address lists that decide whose header is believed.
 *
 * proxy_parse is a pure function over the bytes seen so far: no I/O, no
 * allocation, no state, every read bounded by the length it was given.
 * It runs in the pre-auth child (unprivileged, chrooted, seccomp) and is
 * fuzzed (tests/fuzz/fuzz-proxy.c).  proxy_read drives it on a socket
 * without ever taking a byte past the header: what follows belongs to
 * POP3 or to the TLS handshake.
 */
#ifndef POPA3D_PROXY_H
#define POPA3D_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* v1: "PROXY ... \r\n" is at most 107 bytes (the specification's bound). */
#define PROXY_V1_MAX 107
/* v2: 16 fixed bytes, then at most this much address block and TLVs.
 * The format allows 64 KiB; nothing a balancer sends us needs more. */
#define PROXY_V2_BODY_MAX 1024
#define PROXY_MAX (16 + PROXY_V2_BODY_MAX)
/* How long a connection may take to deliver its whole header. */
#define PROXY_TIMEOUT_MS 5000

enum proxy_status {
	PROXY_DONE,	/* a whole header: *count is its length */
	PROXY_MORE,	/* a valid prefix: at least *count bytes in all are needed,
			 * and every byte seen so far belongs to the header */
	PROXY_BAD	/* not a header we accept: *err says why */
};

/* Why a header was refused; proxy_strerror gives the log text. */
enum proxy_error {
	PROXY_ERR_NONE = 0,
	PROXY_ERR_SIGNATURE,	/* neither "PROXY " nor the v2 signature */
	PROXY_ERR_V1_LONG,	/* no CRLF within 107 bytes */
	PROXY_ERR_V1_EOL,	/* CR without LF, or LF without CR */
	PROXY_ERR_V1_SYNTAX,	/* fields, spaces or characters */
	PROXY_ERR_V1_PROTO,	/* not TCP4, TCP6 or UNKNOWN */
	PROXY_ERR_ADDRESS,	/* an address that is not of its family */
	PROXY_ERR_PORT,		/* not a number 0..65535 without leading zeros */
	PROXY_ERR_V2_VERSION,	/* version nibble not 2 */
	PROXY_ERR_V2_COMMAND,	/* command not LOCAL or PROXY */
	PROXY_ERR_V2_FAMILY,	/* PROXY over anything but TCP over IPv4/IPv6 */
	PROXY_ERR_V2_LENGTH,	/* shorter than the address block, or over the cap */
	PROXY_ERR_V2_TLV,	/* TLVs that do not tile the rest exactly */
	PROXY_ERR_TIMEOUT,	/* proxy_read: the deadline passed */
	PROXY_ERR_EOF,		/* proxy_read: the peer closed inside the header */
	PROXY_ERR_IO,		/* proxy_read: a read failed */
	PROXY_ERR_MAX = PROXY_ERR_IO
};

struct proxy_hdr {
	/* 0: LOCAL (v2) or UNKNOWN (v1): use the connection's own peer;
	 * else AF_INET or AF_INET6 with the client's address below. */
	int family;
	unsigned char src[16], dst[16];	/* network order; 4 bytes for AF_INET */
	uint16_t src_port, dst_port;
	int version;			/* 1 or 2 */
};

enum proxy_status proxy_parse(const void *p, size_t n, struct proxy_hdr *h,
			      size_t *count, enum proxy_error *err);
/* A fixed text for every code (codes out of range included). */
const char *proxy_strerror(unsigned code);

/*
 * Read one header from fd (a socket; blocking or not) until deadline_ms
 * (io_now_ms() base).  Peeks, and consumes exactly the header's bytes.
 * 0 with *h filled, or -1 with *err set.
 */
int proxy_read(int fd, long long deadline_ms, struct proxy_hdr *h, enum proxy_error *err);

/* --proxy-from: the balancers whose headers are believed. */
#define PROXY_FROM_MAX 32
struct proxy_cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* masked to the prefix */
	unsigned prefix;		/* 0..32 or 0..128 */
};

/*
 * Parse "CIDR[,CIDR...]": each an IPv4 or IPv6 address (IPv6 without
 * brackets), optionally "/prefix" (decimal, within the family's bits; a
 * bare address is a host).  Host bits set beyond the prefix are refused
 * (10.0.0.1/8 is a typo more often than a wish).  0 and *n set, or -1
 * with a message in why (a static string).
 */
int proxy_cidr_parse(const char *s, struct proxy_cidr *out, size_t max, size_t *n,
		     const char **why);
/* 1 if the socket address (v4-mapped IPv6 counts as IPv4) is in the list. */
int proxy_cidr_match(const struct proxy_cidr *c, size_t n, const struct sockaddr_storage *ss,
		     socklen_t len);

#endif
