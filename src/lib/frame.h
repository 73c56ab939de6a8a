/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Messages between popa3d's processes: typed, length-prefixed frames.
 *
 *   header: uint32 type, uint32 length (host byte order: both ends are
 *           the same binary on the same machine)
 *   payload: length bytes, a sequence of fields, each uint16 length + bytes
 *
 * One encoder and one decoder.  Every frame's length is checked against
 * the maximum for its type before a byte of payload is read, and every
 * field against the maximum the caller gives.  Nothing between processes
 * is ever delimiter-separated text (Dovecot's CVE-2008-1218: a TAB in a
 * password).
 */
#ifndef POPA3D_FRAME_H
#define POPA3D_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum frame_type {
	/* pre-auth child -> leader: fields method, user, secret */
	FRAME_AUTH_REQUEST = 1,
	/* leader -> pre-auth child: field result (1 byte, enum frame_auth) */
	FRAME_AUTH_REPLY = 2,
	/* auth helper -> leader: fields result (1 byte), final user name */
	FRAME_AUTH_RESULT = 3,
	/* pre-auth child -> leader: TLS is up on the client connection (at
	 * most once, only where TLS was possible).  Field: the protocol
	 * version and cipher, text of at most FRAME_DETAIL_MAX bytes, for
	 * the login line (sanitised there) */
	FRAME_TLS_ACTIVE = 4,
	/* pre-auth child -> leader, and leader -> listener: where the
	 * connection really comes from (PROXY protocol).  Fields: family
	 * (1 byte: 0 the connection's own peer, 4, 6, or FRAME_PROXY_FAILED),
	 * address (0, 4 or 16 bytes; with FAILED one byte, enum proxy_error) */
	FRAME_PROXY_SOURCE = 5,
	/* listener -> leader, and leader -> pre-auth child: field verdict
	 * (1 byte, enum frame_proxy), field penalty in ms (8 bytes, big
	 * endian; 0 towards the child) */
	FRAME_PROXY_VERDICT = 6,
	/* leader -> listener (standalone): field event (1 byte, enum
	 * frame_user_event), field user.  LOGIN is answered with a
	 * USER_VERDICT; FAILED is not answered */
	FRAME_USER_NOTE = 7,
	/* listener -> leader: field verdict (1 byte, enum frame_user) */
	FRAME_USER_VERDICT = 8,
	/* TLS endpoint -> key holder: fields op (1 byte, enum frame_key_op),
	 * padding (1 byte, RSA only), input (the digest or the block) */
	FRAME_KEY_REQUEST = 9,
	/* key holder -> TLS endpoint: field output (the signature or the
	 * decrypted block); an empty output is a refusal */
	FRAME_KEY_REPLY = 10,
	/* listener -> leader: close this unauthenticated connection to make
	 * room (--max-preauth).  No payload. */
	FRAME_EVICT = 11,
	/* pre-auth child -> leader: how AUTHORIZATION ended without a
	 * login.  Fields: reason (1 byte, enum frame_end), detail (text, at
	 * most FRAME_DETAIL_MAX bytes: OpenSSL's reason for a failed
	 * handshake; the leader sanitises it before logging) */
	FRAME_PREAUTH_END = 12,
	FRAME_TYPE_MAX = 12
};

/* Events carried in USER_NOTE. */
enum frame_user_event {
	FRAME_USER_FAILED = 0,	/* a failed attempt for this user name */
	FRAME_USER_LOGIN = 1	/* authenticated; may the session start? */
};

/* Verdicts carried in USER_VERDICT. */
enum frame_user {
	FRAME_USER_GO = 0,
	FRAME_USER_REFUSE_USER = 1,	/* --max-per-user: -ERR [IN-USE] */
	FRAME_USER_REFUSE_SESSIONS = 2	/* --max-sessions full: -ERR [SYS/TEMP] */
};

/* Why the pre-auth child ended, carried in PREAUTH_END. */
enum frame_end {
	FRAME_END_QUIT = 1,		/* QUIT before any login */
	FRAME_END_TIMEOUT = 2,		/* idle for --timeout */
	FRAME_END_CLOSED = 3,		/* the client closed (EOF) or the socket failed */
	FRAME_END_PROTOCOL = 4,		/* too many commands, a bad PROXY header */
	FRAME_END_TLS = 5,		/* the TLS handshake failed */
	FRAME_END_FAILURES = 6,		/* --max-failures failed logins */
	FRAME_END_REFUSED = 7,		/* the listener refused the PROXY source */
	FRAME_END_MAX = 7
};

#define FRAME_DETAIL_MAX 160

/* Result codes carried in AUTH_REPLY / AUTH_RESULT. */
enum frame_auth {
	FRAME_AUTH_OK = 0,	/* credentials good: the leader takes over */
	FRAME_AUTH_FAIL = 1,	/* bad user or password: same answer for both */
	FRAME_AUTH_EXPIRED = 2,	/* helper -> leader only: account refused; the
				 * child is told FAIL, as for a wrong password */
	FRAME_AUTH_TEMPFAIL = 3,/* backend trouble: [SYS/TEMP] */
	FRAME_AUTH_CLOSE = 4,	/* too many failures: say goodbye and exit */
	FRAME_AUTH_INUSE = 5	/* --max-per-user: [IN-USE], say goodbye and exit */
};

/* PROXY_SOURCE's family byte when the header was refused. */
#define FRAME_PROXY_FAILED 255

/* Verdicts carried in PROXY_VERDICT. */
enum frame_proxy {
	FRAME_PROXY_GO = 0,	/* greet the client */
	FRAME_PROXY_REFUSE = 1	/* a limit refuses the real source: -ERR [SYS/TEMP] */
};

/* Private-key operations carried in KEY_REQUEST. */
enum frame_key_op {
	FRAME_KEY_RSA_SIGN = 1,		/* RSA_private_encrypt */
	/* 2 is not used: no RSA key exchange, so no private decryption */
	FRAME_KEY_ECDSA_SIGN = 3	/* ECDSA_sign, DER out */
};
/* RSA padding carried in KEY_REQUEST (0 for ECDSA): PKCS #1 v1.5 as
 * TLS 1.2 may sign, or none (the caller padded: RSA-PSS). */
enum frame_key_pad {
	FRAME_KEY_PAD_PKCS1 = 1,
	FRAME_KEY_PAD_NONE = 2
};
/* The largest RSA modulus or ECDSA signature carried: 8192 bits. */
#define FRAME_KEY_DATA_MAX 1024

/* Methods carried in AUTH_REQUEST. */
enum frame_method {
	FRAME_METHOD_USERPASS = 1,
	FRAME_METHOD_PLAIN = 2
};

/* Limits (RFC 4616 asks for 255-octet fields; we allow more secret). */
#define FRAME_USER_MAX   255
#define FRAME_SECRET_MAX 1024
#define FRAME_PAYLOAD_MAX 4096

struct frame {
	uint32_t type;
	uint32_t len;
	unsigned char data[FRAME_PAYLOAD_MAX];
	size_t pos;		/* decoder cursor */
};

/* Encoder: start a frame of a type, append fields, send it. */
void frame_init(struct frame *f, uint32_t type);
int frame_put(struct frame *f, const void *p, size_t n);
int frame_put_byte(struct frame *f, unsigned char c);
/* Write the whole frame to fd (blocking): 0 or -1. Wipes f afterwards,
 * since AUTH_REQUEST carries a password. */
int frame_send(int fd, struct frame *f);

/* What frame_recv returns: callers tell a clean end from a fault by this
 * code, never by the text in *why. */
enum frame_recv_result {
	FRAME_RECV_OK = 0,
	FRAME_RECV_ERROR = -1,	/* read error, time-out, bad header, truncated */
	FRAME_RECV_EOF = -2	/* the peer closed before a frame began */
};

/*
 * Decoder.  frame_recv reads one frame, waiting until deadline_ms
 * (io_now_ms() base; -1 forever).  Returns FRAME_RECV_OK, or
 * FRAME_RECV_EOF when the peer closed before the first byte of a frame,
 * or FRAME_RECV_ERROR on a read error, time-out, unknown type, over-long
 * length or a frame cut short; *why then names the problem for the log
 * (also set, to "end of file", with FRAME_RECV_EOF).  Both failures are
 * negative, so "< 0" still means "no frame".
 */
int frame_recv(int fd, struct frame *f, long long deadline_ms, const char **why);
/* Parse a frame already in memory (the fuzz target's and tests' door). */
int frame_parse(struct frame *f, const void *p, size_t n, const char **why);
/* Take the next field: 0 with p and n set (pointing into f), -1 if there is
 * no complete field or it is longer than max. */
int frame_get(struct frame *f, const unsigned char **p, size_t *n, size_t max);
/* 0 if every byte of the payload was consumed, -1 otherwise. */
int frame_end(const struct frame *f);
/* Wipe the frame's payload. */
void frame_wipe(struct frame *f);

#endif
