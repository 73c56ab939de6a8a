/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the listener, the leader, the key holder, the pre-auth child.
 * The TLS key holder; see keyholder.h.
 *
 * Three processes run code from this file:
 *   - the listener or leader (root) open the certificate and key files,
 *     read the certificate chain (public) and fork the holder; they never
 *     read the key;
 *   - the holder reads the key as root, drops (sandbox_keyholder) and then
 *     only answers packets: it never parses anything but keyproto frames
 *     and control messages from root leaders, never opens a file, and a
 *     malformed request ends that channel, not the holder;
 *   - the pre-auth child asks it for its handshake's one signature.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "keyholder.h"
#include "keyproto.h"
#include "log.h"
#include "sandbox.h"
#include "sysio.h"
#include "tls.h"

/* A certificate chain is a few KiB; this bounds what root reads. */
#define KEYHOLDER_CHAIN_MAX (256 * 1024)
/* How long a new holder may take to load the key and drop. */
#define KEYHOLDER_START_MS 10000
/* How long a TLS endpoint waits for a signature (a busy holder queues). */
#define KEYHOLDER_REPLY_MS 30000

/* What this process knows of the daemon's holder (the listener's, and
 * each leader's copy until keyholder_connect closes it). */
static struct {
	unsigned char *chain;	/* the chain the holder's key matches */
	size_t chain_len;
	int ctl;		/* SOCK_SEQPACKET to the holder, or -1 */
} kh = { NULL, 0, -1 };

/* Open both files (root), read the chain: 0 with the key descriptor, or
 * -1 with *why naming the file. */
static int keyholder_files(const struct options *o, unsigned char **chain, size_t *len,
			   int *key_fd, const char **why)
{
	const char *which = "";
	struct stat st;
	unsigned char *p;
	int cfd;

	if (!o->tls_cert || !o->tls_key ||
	    tls_open_files(o->tls_cert, o->tls_key, &cfd, key_fd, &which) < 0) {
		*why = *which ? which : "--tls-cert and --tls-key";
		return -1;
	}
	if (fstat(cfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > KEYHOLDER_CHAIN_MAX) {
		close(cfd);
		close(*key_fd);
		*why = "--tls-cert (must be a regular file of at most 256 KiB)";
		errno = EINVAL;
		return -1;
	}
	p = xmalloc((size_t)st.st_size);
	if (io_read_full(cfd, p, (size_t)st.st_size) < 0) {
		int saved = errno ? errno : EIO;

		free(p);
		close(cfd);
		close(*key_fd);
		errno = saved;
		*why = "--tls-cert";
		return -1;
	}
	close(cfd);
	*chain = p;
	*len = (size_t)st.st_size;
	return 0;
}

/* The key operation, as keyproto_answer calls it. */
static int keyholder_op(void *key, unsigned op, unsigned pad, const unsigned char *in, size_t n,
			unsigned char *out, size_t outmax, size_t *outlen)
{
	return tls_key_op(key, op, pad, in, n, out, outmax, outlen);
}

/* One byte of data and room for control data: a control message. */
static void keyholder_msg(struct msghdr *mh, struct iovec *iov, unsigned char *byte,
			  void *control, size_t size)
{
	memset(mh, 0, sizeof *mh);
	memset(control, 0, size);
	iov->iov_base = byte;
	iov->iov_len = 1;
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	mh->msg_control = control;
	mh->msg_controllen = size;
}

/*
 * A channel sent over ctl by a leader: the descriptor, -1 for a message
 * without exactly one socket (closed), -2 at EOF.
 */
static int keyholder_take(int ctl)
{
	union {
		struct cmsghdr h;
		unsigned char b[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	unsigned char byte;
	int fds[4], nfds = 0;
	ssize_t n;

	keyholder_msg(&mh, &iov, &byte, cm.b, sizeof cm.b);
	do
		n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return -2;
	if (n < 0)
		return errno == EAGAIN ? -1 : -2;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
			if (nfds < 4)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	if (nfds == 1 && !(mh.msg_flags & MSG_CTRUNC)) {
		struct stat st;

		if (fstat(fds[0], &st) == 0 && S_ISSOCK(st.st_mode))
			return fds[0];
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return -1;
}

/*
 * The holder's loop: ctl (or -1) brings channels, each channel gets its
 * answers.  Returns when ctl has ended and no channel is left.
 */
static void keyholder_serve(struct tls_key *key, int ctl, int chan, size_t max_chans)
{
	struct pollfd *pfd = xcalloc(max_chans + 1, sizeof *pfd);
	unsigned *ops = xcalloc(max_chans + 1, sizeof *ops);
	unsigned char pkt[KEYPROTO_PACKET_MAX + 1];
	size_t nch = 0;

	pfd[0].fd = ctl;
	pfd[0].events = POLLIN;
	if (chan >= 0) {
		pfd[1].fd = chan;
		pfd[1].events = POLLIN;
		nch = 1;
	}
	while (pfd[0].fd >= 0 || nch > 0) {
		if (poll(pfd, (nfds_t)(nch + 1), -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("key holder: poll: %m");
		}
		if (pfd[0].fd >= 0 && pfd[0].revents) {
			int fd = keyholder_take(pfd[0].fd);

			if (fd == -2) {
				close(pfd[0].fd);
				pfd[0].fd = -1;
			} else if (fd >= 0 && nch < max_chans) {
				nch++;
				pfd[nch].fd = fd;
				pfd[nch].events = POLLIN;
				pfd[nch].revents = 0;
				ops[nch] = 0;
			} else if (fd >= 0) {
				/* full: that handshake fails, the others go on */
				log_msg(LOG_WARNING, "key holder: %zu channels open, one refused", nch);
				close(fd);
			}
		}
		for (size_t i = 1; i <= nch;) {
			struct frame reply;
			const char *why = NULL;
			ssize_t n;
			int r = -1;

			if (!pfd[i].revents) {
				i++;
				continue;
			}
			n = read(pfd[i].fd, pkt, sizeof pkt);
			if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
				i++;
				continue;
			}
			if (n > 0) {
				r = keyproto_answer(&ops[i], pkt, (size_t)n, keyholder_op, key,
						    &reply, &why);
				if (r < 0)
					log_msg(LOG_WARNING, "key holder: channel closed: %s", why);
				else if (frame_send(pfd[i].fd, &reply) < 0)
					r = -1;
			}
			explicit_bzero(pkt, sizeof pkt);
			if (r > 0) {
				i++;
				continue;
			}
			/* EOF, error, garbage or a spent budget: the channel ends */
			close(pfd[i].fd);
			pfd[i] = pfd[nch];
			ops[i] = ops[nch];
			nch--;
		}
	}
	free(pfd);
	free(ops);
}

/* The holder process; never returns.  report: one byte 0 once ready, or
 * the reason it is not, then closed. */
static void keyholder_child(const struct options *o, int ctl, int chan, int key_fd,
			    const unsigned char *chain, size_t chain_len, int report)
{
	/* stderr only for --log-stderr: under inetd it may be the client's
	 * socket, which the holder has no business holding */
	int keep[5] = { ctl, chan, key_fd, report, log_to_stderr() ? 2 : -1 };
	struct tls_key *key;
	const char *why = NULL;
	size_t max_chans = 1;
	int maxfd = log_fd();

	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* a TLS endpoint that hangs up before its reply must not kill us */
	signal(SIGPIPE, SIG_IGN);
	io_close_from(0, keep, 5);
	/* 0, 1, 2 on /dev/null, as in every sandboxed process, unless one of
	 * them is a descriptor the holder needs (a daemon started with them
	 * closed) */
	if (ctl > 2 && chan != 0 && chan != 1 && chan != 2 && key_fd > 2 && report > 2)
		sandbox_null_stdio(-1, -1, log_to_stderr());
	key = tls_key_load(chain, chain_len, key_fd, &why);
	close(key_fd);
	if (!key) {
		char msg[256];
		int n = snprintf(msg, sizeof msg, "%c%s", 1, why);

		if (io_write_full(report, msg, n > 0 && (size_t)n < sizeof msg ?
				  (size_t)n : sizeof msg - 1) < 0) {
		}
		_exit(1);
	}
	for (int i = 0; i < 5; i++)
		if (keep[i] > maxfd && keep[i] != key_fd)
			maxfd = keep[i];
	if (ctl >= 0) {
		/* Room for a channel per connection: a handshake happens
		 * before login, so both budgets (--max-preauth and
		 * --max-sessions) count, within the hard limit the drop
		 * cannot raise. */
		struct rlimit rl;

		max_chans = o->max_preauth + o->max_sessions + 16;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY) {
			rlim_t room = rl.rlim_max > (rlim_t)maxfd + 2 ?
				      rl.rlim_max - (rlim_t)maxfd - 1 : 1;

			if (max_chans > room)
				max_chans = (size_t)room;
		}
	}
	sandbox_keyholder(o->user, o->empty_dir, maxfd + (int)max_chans, ctl);	/* fatal() on failure */
	if (io_write_full(report, "", 1) < 0)
		_exit(1);
	close(report);
	keyholder_serve(key, ctl, chan, max_chans);
	tls_key_free(key);
	_exit(0);
}

/* Fork a holder with ctl or chan and wait for it to be ready: its pid,
 * or -1 with the reason in err. */
static pid_t keyholder_spawn(const struct options *o, int ctl, int chan, int key_fd,
			     const unsigned char *chain, size_t chain_len, struct buf *err)
{
	char msg[256];
	int fd, status;
	ssize_t n;
	pid_t pid;

	pid = io_fork_pipe(&fd);
	if (pid < 0) {
		buf_printf(err, "TLS key holder: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		keyholder_child(o, ctl, chan, key_fd, chain, chain_len, fd);
	n = io_read_deadline(fd, msg, sizeof msg - 1, io_now_ms() + KEYHOLDER_START_MS);
	close(fd);
	if (n == 1 && msg[0] == 0)
		return pid;
	if (n > 1 && msg[0] == 1) {
		msg[n] = '\0';
		buf_printf(err, "TLS key holder: %s (--tls-cert %s, --tls-key %s)", msg + 1,
			   o->tls_cert, o->tls_key);
	} else {
		buf_printf(err, "TLS key holder: did not start");
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

int keyholder_start(const struct options *o, struct buf *err)
{
	unsigned char *chain = NULL;
	size_t len = 0;
	const char *why = NULL;
	int key_fd, sv[2];
	pid_t pid;

	if (!o->tls_cert) {
		/* TLS is off: the old holder ends with its channels */
		if (kh.ctl >= 0)
			close(kh.ctl);
		kh.ctl = -1;
		return 0;
	}
	if (keyholder_files(o, &chain, &len, &key_fd, &why) < 0) {
		buf_printf(err, "TLS key holder: cannot open %s: %s", why, strerror(errno));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		buf_printf(err, "TLS key holder: socketpair: %s", strerror(errno));
		free(chain);
		close(key_fd);
		return -1;
	}
	pid = keyholder_spawn(o, sv[1], -1, key_fd, chain, len, err);
	close(sv[1]);
	close(key_fd);
	if (pid < 0) {
		close(sv[0]);
		free(chain);
		return -1;
	}
	/* The listener reaps it like any child; a retired one ends when the
	 * leaders that hold its channels do. */
	if (kh.ctl >= 0)
		close(kh.ctl);
	free(kh.chain);
	kh.ctl = sv[0];
	kh.chain = chain;
	kh.chain_len = len;
	return 0;
}

/* Hand the holder end of a new channel to the daemon's holder: 0 with
 * *chan, or -1 (the holder is gone or its queue is full). */
static int keyholder_ask_daemon(int *chan)
{
	union {
		struct cmsghdr h;
		unsigned char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	unsigned char byte = 0;
	int sv[2];
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	keyholder_msg(&mh, &iov, &byte, cm.b, sizeof cm.b);
	c = CMSG_FIRSTHDR(&mh);
	if (!c) {	/* cannot be: keyholder_msg gave room for one header */
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
	/* never wait on a stuck holder: this connection then gets its own */
	do
		n = sendmsg(kh.ctl, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	close(sv[1]);
	if (n != 1) {
		close(sv[0]);
		return -1;
	}
	*chan = sv[0];
	return 0;
}

int keyholder_connect(const struct options *o, int want, struct keyholder_conn *conn,
		      const char **why)
{
	struct buf err;
	int key_fd, sv[2], r;
	pid_t pid;

	conn->chan = -1;
	conn->chain = NULL;
	conn->chain_len = 0;
	conn->pid = -1;
	if (kh.ctl >= 0) {
		r = want ? keyholder_ask_daemon(&conn->chan) : 0;
		if (want && r < 0)
			log_msg(LOG_WARNING, "TLS key holder unreachable (%m); this connection gets its own");
		close(kh.ctl);
		kh.ctl = -1;
		if (!want)
			return 0;
		if (r == 0) {
			conn->chain = kh.chain;
			conn->chain_len = kh.chain_len;
			return 0;
		}
	}
	if (!want)
		return 0;
	/* inetd mode, or the daemon's holder failed: one for this connection,
	 * on the files as they are now */
	free(kh.chain);
	kh.chain = NULL;
	if (keyholder_files(o, &kh.chain, &kh.chain_len, &key_fd, why) < 0) {
		log_msg(LOG_ERR, "TLS: cannot open %s: %m", *why);
		*why = "cannot open the TLS files";
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		close(key_fd);
		*why = "socketpair failed";
		return -1;
	}
	buf_init(&err, 512);
	pid = keyholder_spawn(o, -1, sv[1], key_fd, kh.chain, kh.chain_len, &err);
	close(sv[1]);
	close(key_fd);
	if (pid < 0) {
		log_msg(LOG_ERR, "%s", buf_cstr(&err));
		buf_free(&err);
		close(sv[0]);
		*why = "no TLS key holder";
		return -1;
	}
	buf_free(&err);
	conn->chan = sv[0];
	conn->chain = kh.chain;
	conn->chain_len = kh.chain_len;
	conn->pid = pid;
	return 0;
}

void keyholder_end(struct keyholder_conn *conn)
{
	int status;

	if (conn->chan >= 0) {
		close(conn->chan);
		conn->chan = -1;
	}
	if (conn->pid <= 0)
		return;
	/*
	 * It ends at EOF on its channel, which the pre-auth child closed
	 * after its handshake or at its exit.  As the mail user we cannot
	 * kill it (it runs as the pre-auth user); a holder still running
	 * then is reparented and ends with its channel.
	 */
	if (io_wait_child(conn->pid, &status, io_now_ms() + 2000) == 1 &&
	    kill(conn->pid, SIGKILL) == 0)
		io_wait_child(conn->pid, &status, -1);
	conn->pid = -1;
}

/* The pre-auth child's side: ask, wait, check. */
static int keyholder_ask(void *ctx, unsigned op, unsigned pad, const unsigned char *in, size_t n,
			 unsigned char *out, size_t outmax, size_t *outlen)
{
	struct keyholder_conn *conn = ctx;
	struct frame f;
	const unsigned char *p;
	const char *why = NULL;
	size_t len;

	if (conn->chan < 0 || keyproto_encode_request(&f, op, pad, in, n) < 0 ||
	    frame_send(conn->chan, &f) < 0 ||
	    keyproto_recv(conn->chan, &f, io_now_ms() + KEYHOLDER_REPLY_MS, &why) < 0 ||
	    keyproto_parse_reply(&f, &p, &len, &why) < 0 || len > outmax) {
		frame_wipe(&f);
		return -1;
	}
	memcpy(out, p, len);
	*outlen = len;
	frame_wipe(&f);
	return 0;
}

static void keyholder_done(void *ctx)
{
	struct keyholder_conn *conn = ctx;

	if (conn->chan >= 0)
		close(conn->chan);
	conn->chan = -1;
}

struct tls *keyholder_tls(struct keyholder_conn *conn, const char **why)
{
	static struct tls_signer signer;

	signer.op = keyholder_ask;
	signer.done = keyholder_done;
	signer.ctx = conn;
	return tls_server_new(conn->chain, conn->chain_len, &signer, why);
}
