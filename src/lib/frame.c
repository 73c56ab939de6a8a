/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader, the pre-auth child, the auth helper,
 * the key holder.
 * Typed, length-prefixed frames between processes; see frame.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "frame.h"
#include "sysio.h"

/* Per-type payload ceiling, checked before any payload byte is read. */
static const uint32_t frame_max[FRAME_TYPE_MAX + 1] = {
	[FRAME_AUTH_REQUEST] = 3 * 2 + 1 + FRAME_USER_MAX + FRAME_SECRET_MAX,
	[FRAME_AUTH_REPLY] = 2 + 1,
	[FRAME_AUTH_RESULT] = 2 + 1 + 2 + FRAME_USER_MAX,
	[FRAME_TLS_ACTIVE] = 2 + FRAME_DETAIL_MAX,
	[FRAME_PROXY_SOURCE] = 2 + 1 + 2 + 16,
	[FRAME_PROXY_VERDICT] = 2 + 1 + 2 + 8,
	[FRAME_USER_NOTE] = 2 + 1 + 2 + FRAME_USER_MAX,
	[FRAME_USER_VERDICT] = 2 + 1,
	[FRAME_KEY_REQUEST] = 2 + 1 + 2 + 1 + 2 + FRAME_KEY_DATA_MAX,
	[FRAME_KEY_REPLY] = 2 + FRAME_KEY_DATA_MAX,
	[FRAME_EVICT] = 0,
	[FRAME_PREAUTH_END] = 2 + 1 + 2 + FRAME_DETAIL_MAX,
};

void frame_init(struct frame *f, uint32_t type)
{
	f->type = type;
	f->len = 0;
	f->pos = 0;
}

int frame_put(struct frame *f, const void *p, size_t n)
{
	if (n > UINT16_MAX || n + 2 > sizeof f->data - f->len) {
		errno = E2BIG;
		return -1;
	}
	f->data[f->len] = (unsigned char)(n >> 8);
	f->data[f->len + 1] = (unsigned char)n;
	if (n)
		memcpy(f->data + f->len + 2, p, n);
	f->len += (uint32_t)n + 2;
	return 0;
}

int frame_put_byte(struct frame *f, unsigned char c)
{
	return frame_put(f, &c, 1);
}

void frame_wipe(struct frame *f)
{
	explicit_bzero(f->data, sizeof f->data);
	f->len = 0;
	f->pos = 0;
}

int frame_send(int fd, struct frame *f)
{
	unsigned char msg[8 + FRAME_PAYLOAD_MAX];
	int r;

	if (f->type == 0 || f->type > FRAME_TYPE_MAX || f->len > frame_max[f->type]) {
		frame_wipe(f);
		errno = EINVAL;
		return -1;
	}
	/* One write: the header and payload arrive together or not at all. */
	memcpy(msg, &f->type, 4);
	memcpy(msg + 4, &f->len, 4);
	memcpy(msg + 8, f->data, f->len);
	r = io_write_full(fd, msg, 8 + (size_t)f->len);
	explicit_bzero(msg, sizeof msg);
	frame_wipe(f);
	return r;
}

static int frame_check_header(struct frame *f, const char **why)
{
	if (f->type == 0 || f->type > FRAME_TYPE_MAX) {
		*why = "unknown frame type";
		return -1;
	}
	if (f->len > frame_max[f->type]) {
		*why = "frame longer than its type allows";
		return -1;
	}
	return 0;
}

static int frame_read_exact(int fd, void *p, size_t n, long long deadline_ms,
			    const char **why)
{
	unsigned char *q = p;

	while (n > 0) {
		ssize_t r = io_read_deadline(fd, q, n, deadline_ms);

		if (r < 0) {
			*why = errno == ETIMEDOUT ? "timed out" : "read error";
			return FRAME_RECV_ERROR;
		}
		if (r == 0) {
			*why = "end of file";
			return FRAME_RECV_EOF;
		}
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

int frame_recv(int fd, struct frame *f, long long deadline_ms, const char **why)
{
	unsigned char hdr[8];
	int r;

	f->pos = 0;
	f->len = 0;
	/* EOF inside the header counts as EOF, as it always has: the peer
	 * ended; inside the payload it is a truncated frame */
	r = frame_read_exact(fd, hdr, sizeof hdr, deadline_ms, why);
	if (r < 0)
		return r;
	memcpy(&f->type, hdr, 4);
	memcpy(&f->len, hdr + 4, 4);
	if (frame_check_header(f, why) < 0) {
		f->len = 0;
		return FRAME_RECV_ERROR;
	}
	r = frame_read_exact(fd, f->data, f->len, deadline_ms, why);
	if (r < 0) {
		if (r == FRAME_RECV_EOF)
			*why = "truncated frame";
		frame_wipe(f);
		return FRAME_RECV_ERROR;
	}
	return FRAME_RECV_OK;
}

int frame_parse(struct frame *f, const void *p, size_t n, const char **why)
{
	const unsigned char *q = p;

	f->pos = 0;
	f->len = 0;
	if (n < 8) {
		*why = "truncated frame";
		return -1;
	}
	memcpy(&f->type, q, 4);
	memcpy(&f->len, q + 4, 4);
	if (frame_check_header(f, why) < 0) {
		f->len = 0;
		return -1;
	}
	if (n - 8 != f->len) {
		*why = n - 8 < f->len ? "truncated frame" : "trailing bytes after frame";
		f->len = 0;
		return -1;
	}
	memcpy(f->data, q + 8, f->len);
	return 0;
}

int frame_get(struct frame *f, const unsigned char **p, size_t *n, size_t max)
{
	size_t flen;

	if (f->len - f->pos < 2)
		return -1;
	flen = (size_t)f->data[f->pos] << 8 | f->data[f->pos + 1];
	if (flen > max || flen > f->len - f->pos - 2)
		return -1;
	*p = f->data + f->pos + 2;
	*n = flen;
	f->pos += 2 + flen;
	return 0;
}

int frame_end(const struct frame *f)
{
	return f->pos == f->len ? 0 : -1;
}
