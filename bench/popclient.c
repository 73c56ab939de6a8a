/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * popclient: the load generator and yardsticks of bench/run (not part of
 * make check; bench/run builds it with cc into a temp dir).  Runs as an
 * ordinary client: never as part of a server, never off loopback by design.
 *
 * Written in C so that the client is not what gets measured: the storm
 * runs one thread per concurrent client, and the bulk paths scan replies
 * with memmem()/memchr() over a large buffer instead of line by line.
 *
 *   popclient storm HOST PORT SECONDS CONC USERPREFIX NUSERS PASS
 *                   (POPCLIENT_SPREAD=1: a new 127/8 source address per session;
 *                    POPCLIENT_MAX_SESSIONS=N: stop after N sessions)
 *   popclient scan  HOST PORT USER PASS
 *   popclient retr  HOST PORT USER PASS DEPTH
 *   popclient dele  HOST PORT USER PASS first|last|every10
 *   popclient mem   HOST PORT USER PASS 0|1|2   1: RETR 1; 2: UIDL, RETR 1, RETR last
 *   popclient raw   FILE            loopback TCP transfer of FILE's bytes
 *   popclient memchr FILE           read()+memchr('\n') pass over FILE
 *
 * Every mode prints one line of "key value" pairs on stdout; bench/run
 * parses it.  Exit 0 on success, 1 on any protocol or system error.
 * Every wait is bounded by SO_RCVTIMEO/SO_SNDTIMEO (IO_TIMEOUT seconds).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (1 << 20)
#define IO_TIMEOUT 300
#define MAX_LAT (1 << 20)

struct conn {
	int fd;
	char *buf;
	size_t pos, end;
	unsigned long long rx;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* this process's user+system CPU seconds: is the client the bottleneck? */
static double cpu_self(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0.0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("popclient: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static unsigned long parse_ul(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end)
		die("bad %s: %s", what, s);
	return v;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { IO_TIMEOUT, 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		die("setsockopt: %s", strerror(errno));
}

/* returns -1 on failure so the storm can count refused connections */
/* src: a loopback source address to bind (host order), 0 for the kernel's */
static int conn_open(struct conn *c, const char *host, unsigned port, in_addr_t src)
{
	struct sockaddr_in sa;
	int one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("bad address %s", host);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	set_timeouts(c->fd);
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("TCP_NODELAY: %s", strerror(errno));
	if (src) {
		struct sockaddr_in la;

		memset(&la, 0, sizeof(la));
		la.sin_family = AF_INET;
		la.sin_addr.s_addr = htonl(src);
		if (bind(c->fd, (struct sockaddr *)&la, sizeof(la)) < 0)
			die("bind source: %s", strerror(errno));
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	if (!c->buf) {
		c->buf = malloc(BUFSZ);
		if (!c->buf)
			die("out of memory");
	}
	c->pos = c->end = 0;
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0 && close(c->fd) < 0)
		die("close: %s", strerror(errno));
	c->fd = -1;
}

/* Keeps the 4 bytes before pos: read_multi() looks back 2 bytes for the
 * CRLF that precedes a terminating ".". */
static int conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->end == BUFSZ) {
		size_t keep = c->pos < 4 ? c->pos : 4;

		if (c->pos - keep == 0)
			return -1;	/* a line longer than the buffer */
		memmove(c->buf, c->buf + c->pos - keep, c->end - (c->pos - keep));
		c->end -= c->pos - keep;
		c->pos = keep;
	}
	do
		n = read(c->fd, c->buf + c->end, BUFSZ - c->end);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	c->end += (size_t)n;
	c->rx += (unsigned long long)n;
	return 0;
}

static void conn_send(struct conn *c, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(c->fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %s", n < 0 ? strerror(errno) : "short");
		s += n;
		len -= (size_t)n;
	}
}

static void conn_cmd(struct conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		die("command too long");
	conn_send(c, line, (size_t)n);
}

/* One reply line; returns a pointer into the buffer (NUL-terminated in
 * place of its LF) or NULL on EOF/timeout. */
static char *conn_line(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->buf + c->pos, '\n', c->end - c->pos);

		if (nl) {
			char *line = c->buf + c->pos;

			c->pos = (size_t)(nl - c->buf) + 1;
			*nl = '\0';
			return line;
		}
		if (conn_fill(c) < 0)
			return NULL;
	}
}

static int conn_ok(struct conn *c, char **line)
{
	char *l = conn_line(c);

	if (line)
		*line = l;
	return l && strncmp(l, "+OK", 3) == 0;
}

/* Skips a multi-line body up to and including "\r\n.\r\n" (the CRLF being
 * the end of the status line or of the last body line). */
static int read_multi(struct conn *c)
{
	static const char term[] = "\r\n.\r\n";

	for (;;) {
		size_t s = c->pos - 2;

		if (c->end >= s + 5) {
			char *hit = memmem(c->buf + s, c->end - s, term, 5);

			if (hit) {
				c->pos = (size_t)(hit - c->buf) + 5;
				return 0;
			}
			c->pos = c->end - 2;
		}
		if (conn_fill(c) < 0)
			return -1;
	}
}

static unsigned long login(struct conn *c, const char *user, const char *pass)
{
	char *l;

	if (!conn_ok(c, &l))
		die("greeting: %s", l ? l : "EOF");
	conn_cmd(c, "USER %s\r\n", user);
	if (!conn_ok(c, &l))
		die("USER: %s", l ? l : "EOF");
	conn_cmd(c, "PASS %s\r\n", pass);
	if (!conn_ok(c, &l))
		die("PASS: %s", l ? l : "EOF");
	conn_cmd(c, "STAT\r\n");
	if (!conn_ok(c, &l))
		die("STAT: %s", l ? l : "EOF");
	return strtoul(l + 3, NULL, 10);
}

static void quit(struct conn *c)
{
	char *l;

	conn_cmd(c, "QUIT\r\n");
	if (!conn_ok(c, &l))
		die("QUIT: %s", l ? l : "EOF");
	/* the server's close, so the session's UPDATE is complete */
	while (conn_fill(c) == 0)
		c->pos = c->end;
	conn_close(c);
}

/* ------------------------------------------------------------ storm */

struct storm {
	const char *host, *prefix, *pass;
	unsigned port, nusers, id, conc;
	int spread;
	double until;
	unsigned long sessions, errors;
	double *lat;
	size_t nlat;
};

static unsigned long storm_budget, storm_started;

static int storm_one(struct conn *c, struct storm *s, const char *user)
{
	char *l;

	/* a new loopback source address for every session: popa3d 1.0.3's
	 * standalone mode admits a few dozen sessions per source address in
	 * ten seconds; loopback answers for all of 127.0.0.0/8 */
	in_addr_t src = s->spread ? 0x7f000002u + (in_addr_t)(((unsigned long)s->sessions + s->errors) *
							     s->conc + s->id) % 0xfffff0u : 0;

	if (conn_open(c, s->host, s->port, src) < 0)
		return -1;
	if (!conn_ok(c, &l))
		goto fail;
	conn_cmd(c, "USER %s\r\n", user);
	if (!conn_ok(c, &l))
		goto fail;
	conn_cmd(c, "PASS %s\r\n", s->pass);
	if (!conn_ok(c, &l))
		goto fail;
	conn_cmd(c, "STAT\r\n");
	if (!conn_ok(c, &l))
		goto fail;
	conn_cmd(c, "QUIT\r\n");
	if (!conn_ok(c, &l))
		goto fail;
	while (conn_fill(c) == 0)
		c->pos = c->end;
	conn_close(c);
	return 0;
fail:
	if (s->errors < 3)
		fprintf(stderr, "popclient: storm %s: %s\n", user, l ? l : "EOF");
	conn_close(c);
	return -1;
}

static void *storm_thread(void *arg)
{
	struct storm *s = arg;
	struct conn c = { -1, NULL, 0, 0, 0 };
	char user[64];
	int n = snprintf(user, sizeof(user), "%s%u", s->prefix, s->id % s->nusers + 1);

	if (n < 0 || (size_t)n >= sizeof(user))
		die("user prefix too long");
	while (now() < s->until) {
		double t0 = now();

		/* POPCLIENT_MAX_SESSIONS: a session budget shared by the threads */
		if (storm_budget && __atomic_fetch_add(&storm_started, 1, __ATOMIC_RELAXED) >= storm_budget)
			break;
		if (storm_one(&c, s, user) < 0) {
			s->errors++;
			if (s->errors > 1000)
				break;
			continue;
		}
		s->sessions++;
		if (s->nlat < MAX_LAT)
			s->lat[s->nlat++] = now() - t0;
	}
	free(c.buf);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int storm(char **av)
{
	unsigned conc = (unsigned)parse_ul(av[3], "concurrency");
	double secs = (double)parse_ul(av[2], "seconds");
	struct storm *st = calloc(conc, sizeof(*st));
	pthread_t *th = calloc(conc, sizeof(*th));
	unsigned long sessions = 0, errors = 0;
	size_t nlat = 0, i;
	double *all, t0, el;
	/* POPCLIENT_SPREAD=1: every session from its own 127/8 source
	 * address (see storm_one); the default is one source, 127.0.0.1 */
	int spread = getenv("POPCLIENT_SPREAD") && strcmp(getenv("POPCLIENT_SPREAD"), "1") == 0;

	if (!st || !th || conc == 0 || conc > 1024)
		die("bad concurrency");
	if (getenv("POPCLIENT_MAX_SESSIONS"))
		storm_budget = parse_ul(getenv("POPCLIENT_MAX_SESSIONS"), "POPCLIENT_MAX_SESSIONS");
	t0 = now();
	for (i = 0; i < conc; i++) {
		st[i] = (struct storm){ av[0], av[4], av[6], (unsigned)parse_ul(av[1], "port"),
			(unsigned)parse_ul(av[5], "nusers"), (unsigned)i, conc, spread, t0 + secs, 0, 0,
			malloc(MAX_LAT * sizeof(double)), 0 };
		if (!st[i].lat || st[i].nusers == 0)
			die("out of memory / no users");
		if (pthread_create(&th[i], NULL, storm_thread, &st[i]))
			die("pthread_create");
	}
	for (i = 0; i < conc; i++) {
		pthread_join(th[i], NULL);
		sessions += st[i].sessions;
		errors += st[i].errors;
		nlat += st[i].nlat;
	}
	el = now() - t0;
	all = malloc((nlat + 1) * sizeof(double));
	if (!all)
		die("out of memory");
	nlat = 0;
	for (i = 0; i < conc; i++) {
		memcpy(all + nlat, st[i].lat, st[i].nlat * sizeof(double));
		nlat += st[i].nlat;
		free(st[i].lat);
	}
	qsort(all, nlat, sizeof(double), cmp_double);
	printf("sessions %lu errors %lu elapsed %.4f rate %.2f client_cpu_s %.3f p50_ms %.3f p99_ms %.3f\n",
	       sessions, errors, el, (double)sessions / el, cpu_self(),
	       nlat ? all[nlat / 2] * 1e3 : 0.0,
	       nlat ? all[(size_t)((double)(nlat - 1) * 0.99)] * 1e3 : 0.0);
	free(all);
	free(st);
	free(th);
	return sessions ? 0 : 1;
}

/* ------------------------------------------------------------ sessions */

static int scan(char **av)
{
	struct conn c = { -1, NULL, 0, 0, 0 };
	double t0 = now(), t1, t2;
	unsigned long n, lines = 0;
	char *l;

	if (conn_open(&c, av[0], (unsigned)parse_ul(av[1], "port"), 0) < 0)
		die("connect: %s", strerror(errno));
	n = login(&c, av[2], av[3]);
	t1 = now();
	conn_cmd(&c, "UIDL\r\n");
	if (!conn_ok(&c, &l))
		die("UIDL: %s", l ? l : "EOF");
	for (;;) {
		l = conn_line(&c);
		if (!l)
			die("UIDL: EOF");
		if (strcmp(l, ".\r") == 0)
			break;
		lines++;
	}
	t2 = now();
	quit(&c);
	printf("messages %lu stat_s %.4f uidl_s %.4f uidl_lines %lu\n", n, t1 - t0, t2 - t1, lines);
	free(c.buf);
	return lines == n ? 0 : 1;
}

static int retr(char **av)
{
	struct conn c = { -1, NULL, 0, 0, 0 };
	unsigned long n, depth = parse_ul(av[4], "depth"), sent = 1, done = 0;
	unsigned long long rx0;
	double t0, t1, c0;
	char *l;

	if (depth == 0)
		die("depth 0");
	if (conn_open(&c, av[0], (unsigned)parse_ul(av[1], "port"), 0) < 0)
		die("connect: %s", strerror(errno));
	n = login(&c, av[2], av[3]);
	rx0 = c.rx - (c.end - c.pos);
	c0 = cpu_self();
	t0 = now();
	/* up to DEPTH commands in flight (RFC 2449 PIPELINING style): one
	 * round trip per message would measure loopback latency instead */
	while (done < n) {
		while (sent <= n && sent - done - 1 < depth)
			conn_cmd(&c, "RETR %lu\r\n", sent++);
		if (!conn_ok(&c, &l))
			die("RETR %lu: %s", done + 1, l ? l : "EOF");
		if (read_multi(&c) < 0)
			die("RETR %lu: EOF in body", done + 1);
		done++;
	}
	t1 = now();
	printf("messages %lu bytes %llu retr_s %.4f mbps %.1f client_cpu_s %.3f\n", n,
	       c.rx - (c.end - c.pos) - rx0, t1 - t0,
	       (double)(c.rx - (c.end - c.pos) - rx0) / (t1 - t0) / 1e6, cpu_self() - c0);
	quit(&c);
	free(c.buf);
	return 0;
}

static int dele(char **av)
{
	struct conn c = { -1, NULL, 0, 0, 0 };
	unsigned long n, i, dels = 0;
	double t0, t1, t2;
	char *l;

	t0 = now();
	if (conn_open(&c, av[0], (unsigned)parse_ul(av[1], "port"), 0) < 0)
		die("connect: %s", strerror(errno));
	n = login(&c, av[2], av[3]);
	for (i = 1; i <= n; i++) {
		int del = (strcmp(av[4], "first") == 0 && i == 1) ||
			  (strcmp(av[4], "last") == 0 && i == n) ||
			  (strcmp(av[4], "every10") == 0 && i % 10 == 0);

		if (!del)
			continue;
		conn_cmd(&c, "DELE %lu\r\n", i);
		if (!conn_ok(&c, &l))
			die("DELE %lu: %s", i, l ? l : "EOF");
		dels++;
	}
	t1 = now();
	quit(&c);
	t2 = now();
	printf("messages %lu deleted %lu session_s %.4f quit_s %.4f\n", n, dels, t2 - t0, t2 - t1);
	free(c.buf);
	return 0;
}

static int mem(char **av)
{
	struct conn c = { -1, NULL, 0, 0, 0 };
	unsigned long n, what = parse_ul(av[4], "retr1");
	double t0 = now();
	char go[16];
	char *l;

	if (conn_open(&c, av[0], (unsigned)parse_ul(av[1], "port"), 0) < 0)
		die("connect: %s", strerror(errno));
	n = login(&c, av[2], av[3]);
	if (what == 2) {
		/* the per-message work of a whole session: UIDL, then RETR of
		 * the first and the last message */
		conn_cmd(&c, "UIDL\r\n");
		if (!conn_ok(&c, &l) || read_multi(&c) < 0)
			die("UIDL: %s", l ? l : "EOF");
	}
	if (what && n) {
		conn_cmd(&c, "RETR 1\r\n");
		if (!conn_ok(&c, &l) || read_multi(&c) < 0)
			die("RETR 1: %s", l ? l : "EOF");
	}
	if (what == 2 && n) {
		conn_cmd(&c, "RETR %lu\r\n", n);
		if (!conn_ok(&c, &l) || read_multi(&c) < 0)
			die("RETR %lu: %s", n, l ? l : "EOF");
	}
	/* bench/run samples the session's VmHWM while it is still alive */
	printf("ready messages %lu rx %llu work_s %.4f\n", n, c.rx, now() - t0);
	fflush(stdout);
	if (!fgets(go, sizeof(go), stdin))
		die("no go from bench/run");
	quit(&c);
	free(c.buf);
	return 0;
}

/* ------------------------------------------------------------ yardsticks */

static int raw(char **av)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int ls, fd, st;
	unsigned long long got = 0;
	char *buf = malloc(BUFSZ);
	double t0, t1;
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!buf || ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 1) < 0 || getsockname(ls, (struct sockaddr *)&sa, &sl) < 0)
		die("listen: %s", strerror(errno));
	t0 = now();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* the sender: reads the file from the page cache like a server */
		int in = open(av[0], O_RDONLY | O_CLOEXEC), s = socket(AF_INET, SOCK_STREAM, 0);
		ssize_t n;

		if (in < 0 || s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(1);
		set_timeouts(s);
		while ((n = read(in, buf, 65536)) > 0) {
			char *p = buf;

			while (n > 0) {
				ssize_t w = write(s, p, (size_t)n);

				if (w <= 0)
					_exit(1);
				p += w;
				n -= w;
			}
		}
		_exit(n < 0 || close(s) < 0);
	}
	fd = accept(ls, NULL, NULL);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	set_timeouts(fd);
	for (;;) {
		ssize_t n = read(fd, buf, BUFSZ);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read: %s", strerror(errno));
		if (n == 0)
			break;
		got += (unsigned long long)n;
	}
	t1 = now();
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		die("sender failed");
	printf("bytes %llu raw_s %.4f mbps %.1f client_cpu_s %.3f\n", got, t1 - t0,
	       (double)got / (t1 - t0) / 1e6, cpu_self());
	close(fd);
	close(ls);
	free(buf);
	return 0;
}

static int memchr_pass(char **av)
{
	int fd = open(av[0], O_RDONLY | O_CLOEXEC);
	char *buf = malloc(BUFSZ);
	unsigned long long lines = 0, bytes = 0;
	double t0 = now(), t1;
	ssize_t n;

	if (fd < 0 || !buf)
		die("%s: %s", av[0], strerror(errno));
	while ((n = read(fd, buf, BUFSZ)) > 0) {
		char *p = buf, *e = buf + n;

		bytes += (unsigned long long)n;
		while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
			lines++;
			p++;
		}
	}
	if (n < 0)
		die("read: %s", strerror(errno));
	t1 = now();
	printf("bytes %llu lines %llu memchr_s %.4f\n", bytes, lines, t1 - t0);
	close(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int args;
		int (*fn)(char **);
	} modes[] = {
		{ "storm", 7, storm }, { "scan", 4, scan }, { "retr", 5, retr },
		{ "dele", 5, dele }, { "mem", 5, mem }, { "raw", 1, raw },
		{ "memchr", 1, memchr_pass },
	};
	size_t i;

	for (i = 0; argc > 1 && i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[1], modes[i].name) == 0) {
			if (argc - 2 != modes[i].args)
				die("%s takes %d arguments", modes[i].name, modes[i].args);
			return modes[i].fn(argv + 2);
		}
	die("usage: popclient storm|scan|retr|dele|mem|raw|memchr ... (see bench/README.md)");
	return 1;
}
