# SPDX-License-Identifier: BSD-2-Clause
"""pop3conf's AUTHORIZATION checks (RFC 1939 s4, s7; RFC 2449 s4, s5;
RFC 2595; RFC 3206): greeting, CAPA, commands refused before login, STLS,
wrong passwords, a 255-octet line and a pipelined login.  A mix-in of
pop3conf.Suite, which supplies connect/greet/login and the report."""
import socket
import ssl
import time

from pop3conf_wire import CRLF, Closed, LoginFailed


class AuthorizationChecks:
    # ----------------------------------------------------- AUTHORIZATION
    def authorization(self):
        rep = self.rep
        c = self.connect()
        g = c.status()
        rep.ok(g.startswith(b"+OK"), "greeting is +OK (RFC 1939 s4)", c)
        rep.ok(g.endswith(CRLF) and len(g) <= 512,
               "greeting ends in CRLF, <= 512 octets (RFC 1939 s3)", c)
        if self.a.stls:
            self.stls_checks(c)

        r = c.cmd("CAPA")
        if r.startswith(b"+OK"):
            lines = c.multi()
            self.capa_auth = self.tags(lines)
            rep.ok(all(l.endswith(CRLF) and not l.startswith(b".") for l in lines),
                   "CAPA in AUTHORIZATION: multi-line, ends with '.' (RFC 2449 s5)", c)
            rep.diag("capabilities before login: %s" % " ".join(sorted(self.capa_auth)))
            r2 = c.cmd("capa")
            same = r2.startswith(b"+OK") and self.tags(c.multi()) == self.capa_auth
            rep.ok(same, "commands are case-insensitive: 'capa' (RFC 1939 s3)", c)
        else:
            rep.ok(r.startswith(b"-ERR"), "CAPA unsupported: -ERR (RFC 2449 s5 optional)", c)
            rep.diag("server has no CAPA: capability-dependent checks are skipped")

        for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "NOOP", "RSET"):
            self.expect_err(c, cmd, "%s before login: -ERR (RFC 1939 s4)" % cmd)
        self.expect_err(c, "PASS " + self.a.password,
                        "PASS without USER: -ERR (RFC 1939 s7)")
        r = c.cmd("UsEr " + self.a.user)
        rep.ok(r.startswith(b"+OK"), "commands are case-insensitive: 'UsEr' (RFC 1939 s3)", c)
        r = c.cmd("quit")
        rep.ok(r.startswith(b"+OK"), "QUIT in AUTHORIZATION: +OK (RFC 1939 s6)", c)
        rep.ok(c.closed_by_server(), "QUIT in AUTHORIZATION: server closes", c)
        c.close()

    def stls_checks(self, c):
        """RFC 2595 s4: STLS announced, +OK, then TLS; not offered again."""
        rep = self.rep
        r = c.cmd("CAPA")
        tags = self.tags(c.multi()) if r.startswith(b"+OK") else {}
        rep.ok("STLS" in tags, "CAPA before TLS announces STLS (RFC 2595 s4)", c)
        r = c.cmd("STLS")
        rep.ok(r.startswith(b"+OK"), "STLS: +OK (RFC 2595 s4)", c)
        if not r.startswith(b"+OK"):
            raise LoginFailed("STLS answered %r" % r)
        c.wrap(self.ctx, self.a.host)
        rep.ok(True, "TLS handshake after STLS (%s), no plaintext before it" % c.s.version())
        r = c.cmd("CAPA")
        tags = self.tags(c.multi()) if r.startswith(b"+OK") else {}
        rep.ok(r.startswith(b"+OK"), "CAPA under TLS works (RFC 2595 s4: re-issue CAPA)", c)
        if self.a.strict:
            # RFC 2595 s4 lets the list change after STLS; offering STLS
            # again would only invite an -ERR.
            rep.ok("STLS" not in tags, "--strict: CAPA under TLS no longer offers STLS", c)
        r = c.cmd("STLS")
        rep.ok(r.startswith(b"-ERR"), "STLS under TLS: -ERR (RFC 2595 s4)", c)

    def stls_injection(self):
        """CVE-2011-0411 class: a command sent in plaintext right behind
        STLS must not be run inside the TLS session.  After the handshake
        we send CAPA; its +OK must be the first answer we get.  Hanging up
        on such a client is safe too; answering in plaintext is not."""
        rep = self.rep
        name = "plaintext pipelined behind STLS is not run under TLS (RFC 2595 s4, CVE-2011-0411)"
        c = self.connect()
        c.status()
        c.send(b"STLS\r\nXINJECTED\r\n")
        r = c.status()
        if not r.startswith(b"+OK"):
            rep.ok(False, name, c, "STLS answered %r" % r)
            return
        try:
            c.wrap(self.ctx, self.a.host)
        except Closed as e:		# plaintext after the +OK
            rep.ok(False, name, c, str(e))
            return
        except (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError):
            rep.ok(True, name + ": the server hung up")
            return
        except ssl.SSLError as e:
            rep.ok(False, name, c, "TLS handshake failed: %s" % e)
            return
        try:
            r = c.cmd("CAPA")
        except Closed:
            rep.ok(True, name + ": the server hung up")
            return
        rep.ok(r.startswith(b"+OK"), name, c)

    def wrong_password(self):
        rep = self.rep
        c = self.greet()
        r = c.cmd("USER " + self.a.user)
        r = c.cmd("PASS " + self.a.password + "-wrong", mask=True)
        rep.ok(r.startswith(b"-ERR"), "wrong password: -ERR (RFC 1939 s7)", c)
        r_again = None
        try:
            # RFC 1939 s7: PASS "may only be given ... immediately after a
            # successful USER command"; a server may also hang up here.
            r_again = c.cmd("PASS " + self.a.password, mask=True)
        except (Closed, OSError):
            pass
        rep.ok(r_again is None or r_again.startswith(b"-ERR"),
               "right password in a second PASS without a new USER: -ERR or hang-up (RFC 1939 s7)", c)
        if self.has("AUTH-RESP-CODE"):
            rep.ok(r.startswith(b"-ERR [AUTH]"),
                   "wrong password: -ERR [AUTH] since AUTH-RESP-CODE is advertised (RFC 3206 s6)", c)
        else:
            rep.skip("wrong password: [AUTH] code", "AUTH-RESP-CODE not advertised")
        # RFC 1939 s7: after a failed PASS the client may start again.
        if r_again is not None:
            r = c.cmd("USER " + self.a.user)
            if r.startswith(b"+OK"):
                r = c.cmd("PASS " + self.a.password, mask=True)
            rep.ok(r.startswith(b"+OK"), "after a failed PASS, USER + PASS again logs in "
                   "(RFC 1939 s7)", c)
        c.close()

    def long_line(self):
        """RFC 2449 s4: servers with CAPA MUST accept 255-octet command
        lines.  USER is the only command whose argument can legitimately be
        that long; +OK or -ERR are both fine, a hang-up or two answers not."""
        rep = self.rep
        if self.capa_auth is None:
            rep.skip("255-octet command line accepted", "no CAPA: RFC 2449 s4 does not apply")
            return
        c = self.greet()
        line = "USER " + "a" * 248
        assert len(line) + 2 == 255
        r = c.cmd(line)
        rep.ok(r.startswith(b"+OK") or r.startswith(b"-ERR"),
               "255-octet command line: one status line, no hang-up (RFC 2449 s4 MUST)", c)
        r = c.cmd("QUIT")
        rep.ok(r.startswith(b"+OK"), "after the 255-octet line the session is in step (QUIT +OK)", c)
        c.close()

    def pipelined_login(self):
        rep = self.rep
        if not self.has("PIPELINING"):
            rep.skip("PIPELINING: USER/PASS/STAT/QUIT in one write", "PIPELINING not advertised")
            return
        deadline = time.time() + self.a.timeout
        while True:
            c = self.greet()
            c.send(("USER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n" % (self.a.user, self.a.password))
                   .encode("latin-1"), mask=True)
            try:
                r1, r2 = c.status(), c.status()
            except (socket.timeout, Closed) as e:
                rep.ok(False, "PIPELINING: USER/PASS/STAT/QUIT in one write answered in order "
                       "(RFC 2449 s6.6)", c, type(e).__name__)
                return
            if (b"[IN-USE]" in r2) and time.time() < deadline:
                c.close()
                time.sleep(0.2)
                continue
            break
        r3, r4 = c.status(), c.status()
        rep.ok(r1.startswith(b"+OK") and r2.startswith(b"+OK") and r3 == self.stat_line and
               r4.startswith(b"+OK"),
               "PIPELINING: USER/PASS/STAT/QUIT in one write answered in order (RFC 2449 s6.6)", c)
        c.close()
