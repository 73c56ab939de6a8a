/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the pre-auth child (parsing), the listener and the leader
 * (address lists).
 * The PROXY protocol header parser and --proxy-from lists; see proxy.h.
 *
 * Runs unprivileged: proxy_parse and proxy_read in the pre-auth child,
 * on bytes nobody has vouched for yet (the balancer may forward anything
 * a client sends if it is misconfigured); the list parser at start-up
 * on the configuration.  Strict by design: the specification asks a
 * receiver to drop anything it does not fully understand, and a lenient
 * parser here would let a client forge the address every limit and log
 * line trusts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "num.h"
#include "proxy.h"
#include "sysio.h"

static const unsigned char proxy_v2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

const char *proxy_strerror(unsigned code)
{
	static const char *const text[PROXY_ERR_MAX + 1] = {
		[PROXY_ERR_NONE] = "no error",
		[PROXY_ERR_SIGNATURE] = "not a PROXY header",
		[PROXY_ERR_V1_LONG] = "v1 header longer than 107 bytes",
		[PROXY_ERR_V1_EOL] = "v1 header: bad line end",
		[PROXY_ERR_V1_SYNTAX] = "v1 header: bad syntax",
		[PROXY_ERR_V1_PROTO] = "v1 header: protocol not TCP4, TCP6 or UNKNOWN",
		[PROXY_ERR_ADDRESS] = "bad address",
		[PROXY_ERR_PORT] = "bad port",
		[PROXY_ERR_V2_VERSION] = "v2 header: bad version",
		[PROXY_ERR_V2_COMMAND] = "v2 header: bad command",
		[PROXY_ERR_V2_FAMILY] = "v2 header: family or protocol not TCP over IPv4/IPv6",
		[PROXY_ERR_V2_LENGTH] = "v2 header: bad length",
		[PROXY_ERR_V2_TLV] = "v2 header: bad TLV framing",
		[PROXY_ERR_TIMEOUT] = "header timed out",
		[PROXY_ERR_EOF] = "connection closed inside the header",
		[PROXY_ERR_IO] = "read error",
	};

	return code <= PROXY_ERR_MAX ? text[code] : "unknown error";
}

static enum proxy_status proxy_bad(enum proxy_error *err, enum proxy_error e)
{
	*err = e;
	return PROXY_BAD;
}

/* One v1 address field, family-checked by inet_pton (which refuses
 * leading zeros in IPv4 octets, zone ids and trailing junk). */
static int proxy_v1_addr(const unsigned char *s, size_t n, int family, unsigned char *out)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(family, tmp, out) == 1 ? 0 : -1;
}

static int proxy_port(const unsigned char *s, size_t n, uint16_t *out)
{
	uint64_t v;

	if (num_parse(s, n, 65535, &v) < 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* "PROXY TCP4|TCP6 src dst sport dport" or "PROXY UNKNOWN[ anything]"
 * (line without its CRLF, all printable). */
static enum proxy_status proxy_v1_line(const unsigned char *l, size_t n, struct proxy_hdr *h,
				       enum proxy_error *err)
{
	const unsigned char *f[5] = { NULL };
	size_t flen[5] = { 0 };
	const unsigned char *p = l + 6, *end = l + n;
	size_t nf = 0;

	if (n < 6 || memcmp(l, "PROXY ", 6) != 0)
		return proxy_bad(err, PROXY_ERR_V1_SYNTAX);
	/* UNKNOWN: the sender knows no addresses; the rest is to be ignored */
	if ((size_t)(end - p) >= 7 && memcmp(p, "UNKNOWN", 7) == 0 &&
	    (end - p == 7 || p[7] == ' ')) {
		h->family = 0;
		return PROXY_DONE;
	}
	/* exactly five fields separated by single spaces, none empty */
	while (p <= end && nf < 5) {
		const unsigned char *sp = memchr(p, ' ', (size_t)(end - p));
		const unsigned char *fe = sp ? sp : end;

		if (fe == p)
			return proxy_bad(err, PROXY_ERR_V1_SYNTAX);
		f[nf] = p;
		flen[nf++] = (size_t)(fe - p);
		if (!sp) {
			p = end + 1;
			break;
		}
		p = sp + 1;
	}
	if (flen[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
		h->family = AF_INET;
	else if (flen[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
		h->family = AF_INET6;
	else
		return proxy_bad(err, PROXY_ERR_V1_PROTO);
	if (nf != 5 || p != end + 1)
		return proxy_bad(err, PROXY_ERR_V1_SYNTAX);
	if (proxy_v1_addr(f[1], flen[1], h->family, h->src) < 0 ||
	    proxy_v1_addr(f[2], flen[2], h->family, h->dst) < 0)
		return proxy_bad(err, PROXY_ERR_ADDRESS);
	if (proxy_port(f[3], flen[3], &h->src_port) < 0 ||
	    proxy_port(f[4], flen[4], &h->dst_port) < 0)
		return proxy_bad(err, PROXY_ERR_PORT);
	return PROXY_DONE;
}

static enum proxy_status proxy_v1(const unsigned char *p, size_t n, struct proxy_hdr *h,
				  size_t *count, enum proxy_error *err)
{
	size_t lim = n < PROXY_V1_MAX ? n : PROXY_V1_MAX;

	h->version = 1;
	for (size_t i = 0; i < lim; i++) {
		if (p[i] == '\r') {
			if (i + 2 > PROXY_V1_MAX)
				return proxy_bad(err, PROXY_ERR_V1_LONG);
			if (i + 1 == n) {
				*count = n + 1;
				return PROXY_MORE;
			}
			if (p[i + 1] != '\n')
				return proxy_bad(err, PROXY_ERR_V1_EOL);
			*count = i + 2;
			return proxy_v1_line(p, i, h, err);
		}
		if (p[i] == '\n')
			return proxy_bad(err, PROXY_ERR_V1_EOL);
		/* the line is printable ASCII: no NUL, no controls, no 8-bit */
		if (p[i] < 0x20 || p[i] > 0x7e)
			return proxy_bad(err, PROXY_ERR_V1_SYNTAX);
	}
	if (n >= PROXY_V1_MAX)
		return proxy_bad(err, PROXY_ERR_V1_LONG);
	*count = n + 1;
	return PROXY_MORE;
}

/* Type-length-value entries after the address block: each a type byte
 * and a 16-bit length, together tiling the rest of the header exactly. */
static int proxy_v2_tlvs(const unsigned char *p, size_t n)
{
	while (n > 0) {
		size_t vlen;

		if (n < 3)
			return -1;
		vlen = (size_t)p[1] << 8 | p[2];
		if (vlen > n - 3)
			return -1;
		p += 3 + vlen;
		n -= 3 + vlen;
	}
	return 0;
}

static enum proxy_status proxy_v2(const unsigned char *p, size_t n, struct proxy_hdr *h,
				  size_t *count, enum proxy_error *err)
{
	unsigned cmd, fam, proto;
	size_t len, addrlen = 0;

	h->version = 2;
	if (n > 12) {
		if (p[12] >> 4 != 2)
			return proxy_bad(err, PROXY_ERR_V2_VERSION);
		cmd = p[12] & 0x0f;
		if (cmd > 1)
			return proxy_bad(err, PROXY_ERR_V2_COMMAND);
	}
	if (n > 13) {
		fam = p[13] >> 4;
		proto = p[13] & 0x0f;
		cmd = p[12] & 0x0f;
		/*
		 * LOCAL (a balancer's own health check) carries no client:
		 * any defined family goes, and the block is skipped.  PROXY
		 * is believed only for TCP (STREAM) over IPv4 or IPv6.
		 */
		if (cmd == 0 ? fam > 3 || proto > 2 : (fam != 1 && fam != 2) || proto != 1)
			return proxy_bad(err, PROXY_ERR_V2_FAMILY);
	}
	if (n < 16) {
		*count = 16;
		return PROXY_MORE;
	}
	cmd = p[12] & 0x0f;
	fam = p[13] >> 4;
	len = (size_t)p[14] << 8 | p[15];
	if (cmd == 1)
		addrlen = fam == 1 ? 12 : 36;
	if (len > PROXY_V2_BODY_MAX || len < addrlen)
		return proxy_bad(err, PROXY_ERR_V2_LENGTH);
	if (n < 16 + len) {
		*count = 16 + len;
		return PROXY_MORE;
	}
	*count = 16 + len;
	if (cmd == 0) {
		h->family = 0;
		return PROXY_DONE;
	}
	if (proxy_v2_tlvs(p + 16 + addrlen, len - addrlen) < 0)
		return proxy_bad(err, PROXY_ERR_V2_TLV);
	if (fam == 1) {
		h->family = AF_INET;
		memcpy(h->src, p + 16, 4);
		memcpy(h->dst, p + 20, 4);
		h->src_port = (uint16_t)(p[24] << 8 | p[25]);
		h->dst_port = (uint16_t)(p[26] << 8 | p[27]);
	} else {
		h->family = AF_INET6;
		memcpy(h->src, p + 16, 16);
		memcpy(h->dst, p + 32, 16);
		h->src_port = (uint16_t)(p[48] << 8 | p[49]);
		h->dst_port = (uint16_t)(p[50] << 8 | p[51]);
	}
	return PROXY_DONE;
}

enum proxy_status proxy_parse(const void *buf, size_t n, struct proxy_hdr *h,
			      size_t *count, enum proxy_error *err)
{
	static const unsigned char v1_sig[6] = { 'P', 'R', 'O', 'X', 'Y', ' ' };
	const unsigned char *p = buf;
	size_t m;

	memset(h, 0, sizeof *h);
	*count = 0;
	*err = PROXY_ERR_NONE;
	if (n == 0) {
		*count = 1;
		return PROXY_MORE;
	}
	/* Never guess (the specification's rule): the first bytes decide. */
	if (p[0] == 'P') {
		m = n < sizeof v1_sig ? n : sizeof v1_sig;
		if (memcmp(p, v1_sig, m) != 0)
			return proxy_bad(err, PROXY_ERR_SIGNATURE);
		return proxy_v1(p, n, h, count, err);
	}
	m = n < sizeof proxy_v2_sig ? n : sizeof proxy_v2_sig;
	if (memcmp(p, proxy_v2_sig, m) != 0)
		return proxy_bad(err, PROXY_ERR_SIGNATURE);
	return proxy_v2(p, n, h, count, err);
}

int proxy_read(int fd, long long deadline_ms, struct proxy_hdr *h, enum proxy_error *err)
{
	unsigned char buf[PROXY_MAX];
	size_t have = 0, count;

	for (;;) {
		enum proxy_status st;
		ssize_t got;
		int w = io_wait(fd, POLLIN, deadline_ms);

		if (w == 0) {
			*err = PROXY_ERR_TIMEOUT;
			return -1;
		}
		if (w < 0) {
			*err = PROXY_ERR_IO;
			return -1;
		}
		/* Peek: bytes past the header are POP3's (or TLS's), not ours. */
		got = recv(fd, buf + have, sizeof buf - have, MSG_PEEK);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			*err = PROXY_ERR_IO;
			return -1;
		}
		if (got == 0) {
			*err = PROXY_ERR_EOF;
			return -1;
		}
		st = proxy_parse(buf, have + (size_t)got, h, &count, err);
		if (st == PROXY_BAD)
			return -1;
		if (st == PROXY_DONE) {
			/* count > have: the last parse of have bytes wanted more */
			if (count <= have || count > have + (size_t)got ||
			    io_read_full(fd, buf + have, count - have) < 0) {
				*err = PROXY_ERR_IO;
				return -1;
			}
			return 0;
		}
		/* PROXY_MORE: everything peeked is header; take it and wait */
		if (io_read_full(fd, buf + have, (size_t)got) < 0) {
			*err = PROXY_ERR_IO;
			return -1;
		}
		have += (size_t)got;
		if (have >= sizeof buf) {
			*err = PROXY_ERR_V2_LENGTH;
			return -1;
		}
	}
}

static int proxy_cidr_one(const char *s, size_t n, struct proxy_cidr *c, const char **why)
{
	char tmp[INET6_ADDRSTRLEN];
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	unsigned bits;
	uint64_t prefix;

	memset(c, 0, sizeof *c);
	if (alen == 0 || alen >= sizeof tmp) {
		*why = "want ADDRESS[/PREFIX]";
		return -1;
	}
	memcpy(tmp, s, alen);
	tmp[alen] = '\0';
	c->family = memchr(tmp, ':', alen) ? AF_INET6 : AF_INET;
	bits = c->family == AF_INET ? 32 : 128;
	if (inet_pton(c->family, tmp, c->addr) != 1) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	prefix = bits;
	if (slash && num_parse(slash + 1, n - alen - 1, bits, &prefix) < 0) {
		*why = c->family == AF_INET ? "prefix is not a number from 0 to 32" :
			"prefix is not a number from 0 to 128";
		return -1;
	}
	c->prefix = (unsigned)prefix;
	for (unsigned b = c->prefix; b < bits; b++)
		if (c->addr[b / 8] & (0x80 >> (b % 8))) {
			*why = "address has bits set beyond the prefix";
			return -1;
		}
	return 0;
}

int proxy_cidr_parse(const char *s, struct proxy_cidr *out, size_t max, size_t *n,
		     const char **why)
{
	size_t count = 0;

	*n = 0;
	for (;;) {
		size_t len = strcspn(s, ",");

		if (count >= max) {
			*why = "too many addresses";
			return -1;
		}
		if (proxy_cidr_one(s, len, &out[count], why) < 0)
			return -1;
		count++;
		if (s[len] == '\0')
			break;
		s += len + 1;
	}
	*n = count;
	return 0;
}

int proxy_cidr_match(const struct proxy_cidr *c, size_t n, const struct sockaddr_storage *ss,
		     socklen_t len)
{
	unsigned char a[16];
	int family;

	if (ss->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		family = AF_INET;
		memcpy(a, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			memcpy(a, a6->s6_addr + 12, 4);
		} else {
			family = AF_INET6;
			memcpy(a, a6->s6_addr, 16);
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned full = c[i].prefix / 8, rest = c[i].prefix % 8;

		if (c[i].family != family || memcmp(a, c[i].addr, full) != 0)
			continue;
		if (rest && ((a[full] ^ c[i].addr[full]) & (0xff00 >> rest) & 0xff))
			continue;
		return 1;
	}
	return 0;
}
