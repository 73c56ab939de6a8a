/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: command line and config file parsing (src/options.c). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "buf.h"
#include "mbox.h"
#include "options.h"
#include "tap.h"

static int parse_argv(struct options *o, struct buf *err, int argc, const char *const *argv)
{
	options_defaults(o);
	buf_reset(err);
	return options_parse(o, argc, argv, err);
}

static int parse_cfg(struct options *o, struct buf *err, const char *text)
{
	options_defaults(o);
	buf_reset(err);
	return options_parse_config(o, text, strlen(text), "test.conf", err);
}

static int path_of(const char *tmpl, const char *u, const char *h, char *out, size_t n)
{
	struct buf b;
	int r;

	buf_init(&b, 4096);
	r = account_mailbox_path(tmpl, u, h, &b);
	if (r == 0)
		snprintf(out, n, "%s", buf_cstr(&b));
	buf_free(&b);
	return r;
}

int main(void)
{
	struct options o;
	struct buf err;
	struct opt_listen l;
	char path[256];

	buf_init(&err, 1024);

	options_defaults(&o);
	ok(o.timeout == 600 && o.max_sessions == 100 && o.max_per_source == 10 &&
	   o.max_messages == 2097152 && o.max_mailbox_size == 0, "interface.md defaults");

	{
		const char *av[] = { "popa3d", "-D", "-F", "-l", "127.0.0.1:1110", "--listen", "[::1]:1111",
			"--timeout", "900", "--max-sessions=7", "--log-stderr", "--auth", "shadow", NULL };

		ok(parse_argv(&o, &err, 13, av) == 0, "typical command line parses: %s", buf_cstr(&err));
		ok(o.daemon && o.foreground && o.log_stderr, "flags");
		ok(o.nlisten == 2 && o.listen[0].addr.ss_family == AF_INET &&
		   o.listen[1].addr.ss_family == AF_INET6, "two listeners, v4 and v6");
		ok(ntohs(((struct sockaddr_in *)&o.listen[0].addr)->sin_port) == 1110, "port parsed");
		ok(o.timeout == 900 && o.max_sessions == 7 && o.auth == OPT_AUTH_SHADOW, "values");
		options_free(&o);
	}
	{
		const char *av[] = { "popa3d", "-DF", NULL };

		ok(parse_argv(&o, &err, 2, av) == 0 && o.daemon && o.foreground, "grouped short flags");
	}
	{
		const char *av[] = { "popa3d", "--timeout", "-5", NULL };

		ok(parse_argv(&o, &err, 3, av) == -1 && strstr(buf_cstr(&err), "--timeout"),
		   "negative number rejected, message names the option: %s", buf_cstr(&err));
	}
	{
		const char *av[] = { "popa3d", "--timeout", "0", NULL };

		ok(parse_argv(&o, &err, 3, av) == -1, "timeout 0 rejected");
	}
	{
		const char *av[] = { "popa3d", "--max-sessions", "99999999999999999999", NULL };

		ok(parse_argv(&o, &err, 3, av) == -1, "overflowing number rejected");
	}
	{
		const char *av[] = { "popa3d", "--no-such-thing", NULL };

		ok(parse_argv(&o, &err, 2, av) == -1 && strstr(buf_cstr(&err), "unknown option"),
		   "unknown option: %s", buf_cstr(&err));
	}
	{
		const char *av[] = { "popa3d", "--timeout", NULL };

		ok(parse_argv(&o, &err, 2, av) == -1 && strstr(buf_cstr(&err), "needs a value"), "missing value");
	}
	{
		const char *av[] = { "popa3d", "--mailbox", "maildir:%h/Maildir", NULL };

		ok(parse_argv(&o, &err, 3, av) == 0 && strcmp(o.mailbox, "%h/Maildir") == 0 &&
		   o.mailbox_format == MBOX_FORMAT_MAILDIR, "maildir: prefix stripped, format set");
		options_free(&o);
	}
	{
		const char *av[] = { "popa3d", "--mailbox", "maildir:Maildir", NULL };

		ok(parse_argv(&o, &err, 3, av) == -1 && strstr(buf_cstr(&err), "bad template"),
		   "maildir: relative template refused");
	}
	{
		const char *av[] = { "popa3d", "--mailbox", "mbox:%h/mail/inbox", "--lock-method", "flock,dotlock", NULL };

		ok(parse_argv(&o, &err, 5, av) == 0 && strcmp(o.mailbox, "%h/mail/inbox") == 0,
		   "mbox: prefix stripped");
		ok(o.lock_methods == (MBOX_LOCK_FLOCK | MBOX_LOCK_DOT), "lock methods");
		options_free(&o);
	}
	{
		const char *av[] = { "popa3d", "--uidl", "dovecot", NULL };
		const char *bad[] = { "popa3d", "--uidl", "Dovecot", NULL };

		ok(parse_argv(&o, &err, 3, av) == 0 && o.uidl == MBOX_UIDL_DOVECOT,
		   "--uidl dovecot");
		options_free(&o);
		ok(parse_argv(&o, &err, 3, bad) == -1 && strstr(buf_cstr(&err), "popa3d or dovecot"),
		   "--uidl: only popa3d or dovecot");
	}
	{
		const char *av[] = { "popa3d", NULL };

		ok(parse_argv(&o, &err, 1, av) == 0 && o.uidl == MBOX_UIDL_POPA3D,
		   "--uidl: popa3d by default");
		options_free(&o);
	}
	{
		const char *av[] = { "popa3d", "--lock-method", "dotlock", NULL };

		ok(parse_argv(&o, &err, 3, av) == -1, "dotlock alone is not enough");
	}
	{
		const char *av[] = { "popa3d", "--mailbox", "relative/%u", NULL };

		ok(parse_argv(&o, &err, 3, av) == -1, "relative mailbox template refused");
	}

	/* listen addresses */
	ok(options_parse_listen("0.0.0.0:110", &l) == 0, "0.0.0.0:110");
	ok(options_parse_listen("[::]:110", &l) == 0 && l.addr.ss_family == AF_INET6, "[::]:110");
	ok(options_parse_listen("::1:110", &l) == -1, "bare IPv6 without brackets refused");
	ok(options_parse_listen("127.0.0.1:0", &l) == -1, "port 0 refused");
	ok(options_parse_listen("127.0.0.1:65536", &l) == -1, "port 65536 refused");
	ok(options_parse_listen("127.0.0.1", &l) == -1, "no port refused");
	ok(options_parse_listen("localhost:110", &l) == -1, "names refused (no DNS at start-up)");
	ok(options_parse_listen("[::1]110", &l) == -1, "missing colon after bracket");
	ok(options_parse_listen("1.2.3.4:+110", &l) == -1, "signed port refused");

	/* config file */
	ok(parse_cfg(&o, &err, "# comment\n\n  timeout 700  \r\nmax-per-source\t3\nlog-stderr\nrequire-tls no\n") == 0,
	   "config file parses: %s", buf_cstr(&err));
	ok(o.timeout == 700 && o.max_per_source == 3 && o.log_stderr == 1, "config values");
	ok(parse_cfg(&o, &err, "timeout 700\nbogus 1\n") == -1 &&
	   strstr(buf_cstr(&err), "test.conf:2") != NULL, "unknown name, message has file:line: %s", buf_cstr(&err));
	ok(parse_cfg(&o, &err, "timeout\n") == -1, "missing value");
	ok(parse_cfg(&o, &err, "timeout 1x\n") == -1 && strstr(buf_cstr(&err), "test.conf:1"),
	   "bad number in file names the line: %s", buf_cstr(&err));
	ok(parse_cfg(&o, &err, "config /etc/x\n") == -1, "config may not include config");
	ok(options_parse_config(&o, "timeout 7\0", 10, "nul.conf", &err) == -1, "NUL byte refused");
	{
		static char longline[6000];

		memset(longline, 'a', sizeof longline - 1);
		ok(parse_cfg(&o, &err, longline) == -1 && strstr(buf_cstr(&err), "longer"), "overlong line refused");
	}
	ok(parse_cfg(&o, &err, "log-stderr maybe\n") == -1, "flag with a bad value");
	ok(parse_cfg(&o, &err, "expire 30\nlogin-delay 900\n") == 0 && strcmp(o.expire, "30") == 0 &&
	   o.login_delay == 900, "expire and login-delay");
	options_free(&o);
	ok(parse_cfg(&o, &err, "expire soon\n") == -1, "expire must be NEVER or days");
	options_free(&o);
	{
		const char *av[] = { "popa3d", "--pid-file", "/run/a\nb", NULL };

		ok(parse_argv(&o, &err, 3, av) == -1 && strstr(buf_cstr(&err), "newline"),
		   "a value with a newline (-T could not print it): %s", buf_cstr(&err));
		options_free(&o);
	}
	/* popa3d -t lists every bad line; the good ones still apply */
	ok(parse_cfg(&o, &err, "timeout x\nmax-sessions 7\nbogus\nfail-delay -1\n") == -1 &&
	   strcmp(buf_cstr(&err), "test.conf:1: --timeout: \"x\" is not a number from 1 to 86400\n"
		  "test.conf:3: unknown option \"bogus\"\n"
		  "test.conf:4: --fail-delay: \"-1\" is not a number from 0 to 60000") == 0 &&
	   o.max_sessions == 7, "three bad lines: three lines, the good one applied: %s",
	   buf_cstr(&err));
	options_free(&o);
	{
		struct buf out;
		struct options o2;

		options_defaults(&o);
		options_finish(&o);
		buf_init(&out, 65536);
		options_show(&o, &out);
		options_defaults(&o2);
		buf_reset(&err);
		ok(options_parse_config(&o2, out.data, out.len, "shown", &err) == 0 &&
		   (options_finish(&o2), 1) && o2.max_sessions == o.max_sessions &&
		   o2.lock_methods == o.lock_methods && o2.nlisten == 1 &&
		   strcmp(o2.mailbox, o.mailbox) == 0 && o2.auth == o.auth,
		   "options_show's defaults parse back to the same options: %s", buf_cstr(&err));
		options_free(&o2);
		buf_free(&out);
	}
	options_free(&o);

	/* -c: file first, command line overrides */
	{
		char cfg[] = "/tmp/popa3d-test-opt.XXXXXX";
		int fd = mkstemp(cfg);
		const char text[] = "timeout 800\nmax-sessions 5\nlisten 127.0.0.1:2110\n";
		const char *av[] = { "popa3d", "--max-sessions", "6", "-c", cfg, NULL };
		const char *av2[] = { "popa3d", "-c", cfg, "-l", "127.0.0.1:3110", NULL };

		ok(fd >= 0 && write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1), "write config");
		close(fd);
		ok(parse_argv(&o, &err, 5, av) == 0 && o.timeout == 800 && o.max_sessions == 6,
		   "command line overrides the file whatever the order");
		ok(o.nlisten == 1, "file's listener kept without -l");
		options_free(&o);
		ok(parse_argv(&o, &err, 5, av2) == 0 && o.nlisten == 1 &&
		   ntohs(((struct sockaddr_in *)&o.listen[0].addr)->sin_port) == 3110,
		   "-l on the command line replaces the file's listeners");
		options_free(&o);
		unlink(cfg);
		{
			const char *av3[] = { "popa3d", "-c", "/nonexistent/popa3d.conf", NULL };

			ok(parse_argv(&o, &err, 3, av3) == -1 && strstr(buf_cstr(&err), "/nonexistent"),
			   "missing config file named: %s", buf_cstr(&err));
		}
	}

	/* the 'l' of a -c word is not a -l: only a listener replaces listeners */
	{
		char cfg[] = "/tmp/popa3d-test-listen.XXXXXX";
		char word[sizeof cfg + 2];
		int fd = mkstemp(cfg);
		const char text[] = "listen 127.0.0.1:2110\n";
		const char *av[] = { "popa3d", word, NULL };

		snprintf(word, sizeof word, "-c%s", cfg);
		ok(fd >= 0 && write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1),
		   "write config");
		close(fd);
		ok(parse_argv(&o, &err, 2, av) == 0 && (options_finish(&o), o.nlisten == 1) &&
		   ntohs(((struct sockaddr_in *)&o.listen[0].addr)->sin_port) == 2110,
		   "-cFILE with an l in it keeps the file's listener, which replaces the default");
		options_free(&o);
		unlink(cfg);
	}
	{
		const char *av[] = { "popa3d", "--timeout=", "-D", NULL };

		ok(parse_argv(&o, &err, 3, av) == -1 && strstr(buf_cstr(&err), "\"\" is not a number") &&
		   o.daemon, "--timeout= is an empty value, not the next word: %s", buf_cstr(&err));
	}

	/* defaults: one place each */
	{
		struct mbox_opts m;

		options_defaults(&o);
		mbox_opts_default(&m);
		ok(o.max_messages == m.max_messages && o.max_mailbox_size == m.max_size &&
		   o.lock_methods == m.lock_methods && o.lock_timeout == (uint64_t)m.lock_timeout,
		   "the mailbox limits' defaults are the engine's (mbox_opts_default)");
		ok(!o.user && !o.mailbox && o.nlisten == 0, "allocating defaults wait for options_finish");
		options_finish(&o);
		ok(o.user && strcmp(o.user, POPA3D_USER) == 0 && o.empty_dir &&
		   strcmp(o.empty_dir, POPA3D_EMPTY_DIR) == 0 && strcmp(o.pam_service, "popa3d") == 0 &&
		   o.nlisten == 1 && strcmp(o.listen[0].text, "0.0.0.0:110") == 0,
		   "options_finish fills in the table's remaining defaults");
		options_free(&o);
	}

	/* --help: from the table, each default as -T prints it */
	{
		struct buf out;
		const char *h;

		buf_init(&out, 65536);
		options_usage(&out);
		h = buf_cstr(&out);
		ok(h && strstr(h, "Usage: popa3d") && strstr(h, "  -D, --daemon ") &&
		   strstr(h, "  -c, --config FILE ") && strstr(h, "  -h, --help "),
		   "--help lists the short and long names");
		ok(h && strstr(h, "--timeout SECONDS     idle timeout [600]\n") &&
		   strstr(h, "plain POP3 listener, repeatable [0.0.0.0:110]\n") &&
		   strstr(h, "fcntl,flock,dotlock [fcntl,dotlock]\n") &&
		   strstr(h, "[mbox:" POPA3D_MAIL_SPOOL "/%u]\n") &&
		   strstr(h, "0 no limit [2097152]\n"),
		   "--help shows the defaults, the engine's too");
		ok(h && strstr(h, "[not sent]\n") && !strstr(h, "[not sent] [") &&
		   strstr(h, "--require-tls         refuse USER/PASS/AUTH before TLS\n"),
		   "no default after a text's own bracket, none for a flag");
		buf_free(&out);
	}

	/* TLS options: what goes with what (options_check) */
	{
		static const struct {
			const char *cfg;
			int ok;
			const char *what;
		} cases[] = {
			{ "tls-cert /c\ntls-key /k\n", 1, "cert and key" },
			{ "tls-cert /c\ntls-key /k\nrequire-tls\nlisten-tls 127.0.0.1:995\n", 1,
			  "cert, key, --require-tls and a POP3S listener" },
			{ "tls-cert /c\n", 0, "a cert without a key" },
			{ "tls-key /k\n", 0, "a key without a cert" },
			{ "listen-tls 127.0.0.1:995\n", 0, "a POP3S listener without cert and key" },
			{ "require-tls\n", 0, "--require-tls without cert and key" },
			{ "allow-plaintext-auth\n", 1, "--allow-plaintext-auth alone" },
		};

		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			int r = parse_cfg(&o, &err, cases[i].cfg);

			if (r == 0) {
				options_finish(&o);
				r = options_check(&o, &err);
			}
#ifndef HAVE_TLS
			if (strstr(cases[i].cfg, "tls"))
				ok(r == -1 && strstr(buf_cstr(&err), "without TLS"),
				   "built without TLS: %s refused", cases[i].what);
			else
#endif
			ok((r == 0) == cases[i].ok, "%s: %s (%s)", cases[i].what,
			   cases[i].ok ? "accepted" : "refused", buf_cstr(&err));
			options_free(&o);
		}
		ok(parse_cfg(&o, &err, "listen-tls 127.0.0.1:995\n") == 0 && o.nlisten == 1 &&
		   o.listen[0].tls == 1, "listen-tls marks its listener TLS");
		options_free(&o);
	}

	/* mailbox template expansion */
	ok(path_of("/var/mail/%u", "alice", "/home/alice", path, sizeof path) == 0 &&
	   strcmp(path, "/var/mail/alice") == 0, "%%u");
	ok(path_of("%h/mbox", "alice", "/home/alice", path, sizeof path) == 0 &&
	   strcmp(path, "/home/alice/mbox") == 0, "%%h");
	ok(path_of("/x/100%%/%u", "a", "/h", path, sizeof path) == 0 && strcmp(path, "/x/100%/a") == 0, "%%%%");
	ok(path_of("/var/mail/%u", "../etc", "/h", path, sizeof path) == -1, "user with a slash refused");
	ok(path_of("/var/mail/%u", "..", "/h", path, sizeof path) == -1, "user .. refused");
	ok(path_of("/var/mail/%u", "", "/h", path, sizeof path) == -1, "empty user refused");
	ok(path_of("%h/mbox", "a", "relative", path, sizeof path) == -1, "relative home refused");
	ok(path_of("/var/mail/%x", "a", "/h", path, sizeof path) == -1, "unknown escape refused");
	ok(path_of("/var/mail/%", "a", "/h", path, sizeof path) == -1, "trailing %% refused");
	ok(path_of("%h/../x", "a", "/h", path, sizeof path) == -1, ".. component refused");
	ok(path_of("/var/mail/..%u", "a", "/h", path, sizeof path) == 0, "..a is a name, not a parent");
	buf_free(&err);
	return tap_done();
}
