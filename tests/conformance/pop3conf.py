#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""pop3conf: a server-agnostic POP3 conformance suite (RFC 1939, RFC 2449,
RFC 3206 where advertised), TAP output, python3 standard library only.

    pop3conf.py --host H --port P --user U --password PW
                [--destructive] [--strict] [--expect-mbox FILE]

Non-destructive by default: it never sends QUIT in a session that marked a
message deleted; it undoes with RSET or drops the connection (RFC 1939
section 6: a session that ends without QUIT MUST NOT remove anything, which
is itself one of the checks).  --destructive deletes messages and QUITs,
then checks that the next session no longer sees them.  --expect-mbox FILE
compares every RETR with the messages of FILE byte for byte, in the CRLF
form RFC 1939 section 11 counts.  --strict adds popa3d's stricter-than-RFC
profile (see README.md).  Exit status: 0 all passed, 1 a check failed,
2 the server could not be reached or logged into, 3 pop3conf itself failed.

--tls speaks implicit TLS (POP3S, RFC 8314), --stls upgrades every session
with STLS (RFC 2595) before anything else and adds the STLS checks;
certificates are verified (--cafile for a private CA) unless --insecure.

Every failing check prints the last bytes exchanged on that connection as
TAP diagnostics (passwords masked).
"""
import argparse
import os
import ssl
import sys
import time
import traceback

# The checks live in modules beside this file; it runs from anywhere.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3conf_wire import Conn, LoginFailed, Report, show  # noqa: E402
# tests/e2e/test-conformance.py and test-clients.py use these as pop3conf.*.
from pop3conf_wire import header_end, mbox_messages, wire  # noqa: E402,F401
from pop3conf_auth import AuthorizationChecks  # noqa: E402
from pop3conf_trans import TransactionChecks  # noqa: E402
from pop3conf_modes import ModeChecks  # noqa: E402


# ------------------------------------------------------------------- suite
class Suite(AuthorizationChecks, TransactionChecks, ModeChecks):
    def __init__(self, args, rep):
        self.a = args
        self.rep = rep
        self.capa_auth = None	# tags announced in AUTHORIZATION, None: no CAPA
        self.capa_trans = None
        self.count = None
        self.size = None
        self.sizes = {}		# n -> octets (LIST)
        self.uidls = {}		# n -> unique-id
        self.msgs = {}		# n -> message octets (RETR, unstuffed)
        self.stat_line = None
        self.top_works = False
        self.conns = []
        self.expected = None
        self.ctx = None
        if args.tls or args.stls:
            self.ctx = ssl.create_default_context(cafile=args.cafile)
            if args.insecure:
                self.ctx.check_hostname = False
                self.ctx.verify_mode = ssl.CERT_NONE
        if args.expect_mbox:
            with open(args.expect_mbox, "rb") as f:
                self.expected = [wire(m) for m in mbox_messages(f.read())]

    # ---------------------------------------------------------- helpers
    def connect(self):
        tls = (self.ctx, self.a.host) if self.a.tls else None
        c = Conn(self.rep, self.a.host, self.a.port, self.a.timeout, tls)
        self.conns.append(c)
        return c

    def starttls(self, c):
        r = c.cmd("STLS")
        if not r.startswith(b"+OK"):
            raise LoginFailed("STLS answered %r" % r)
        c.wrap(self.ctx, self.a.host)

    def close_all(self):
        """After a failure: a session left open would keep the maildrop
        locked ([IN-USE]) for every later check."""
        for c in self.conns:
            c.close()
        self.conns = []

    def greet(self):
        c = self.connect()
        g = c.status()
        if not g.startswith(b"+OK"):
            raise LoginFailed("greeting %r" % g)
        if self.a.stls:
            self.starttls(c)
        return c

    def login(self):
        """A logged-in connection.  A mailbox still locked by the session
        we just dropped ([IN-USE], RFC 2449 section 8.1) is retried."""
        deadline = time.time() + self.a.timeout
        while True:
            c = self.greet()
            r = c.cmd("USER " + self.a.user)
            if not r.startswith(b"+OK"):
                c.close()
                raise LoginFailed("USER answered %r" % r)
            r = c.cmd("PASS " + self.a.password, mask=True)
            if r.startswith(b"+OK"):
                return c, r
            c.close()
            if (b"[IN-USE]" in r or b"[SYS/TEMP]" in r) and time.time() < deadline:
                time.sleep(0.2)
                continue
            raise LoginFailed("PASS answered %r" % r)

    def has(self, tag):
        return self.capa_auth is not None and (tag in self.capa_auth or
                                               tag in (self.capa_trans or {}))

    def retr_limit(self):
        n = self.count or 0
        return n if not self.a.max_retr else min(n, self.a.max_retr)

    def expect_err(self, c, cmd, name):
        r = c.cmd(cmd)
        self.rep.ok(r.startswith(b"-ERR"), name, c)
        # A wrong +OK to a multi-line command: read it, to stay in step.
        if r.startswith(b"+OK") and (cmd.split(" ")[0] in ("RETR", "TOP") or
                                     cmd in ("LIST", "UIDL", "CAPA")):
            c.multi()
        return r

    def group(self, name, fn):
        """Run a group of checks; an exception is one failed check."""
        try:
            fn()
        except Exception as e:
            self.rep.ok(False, "%s: completed without a protocol error" % name,
                        getattr(e, "conn", None),
                        "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
        self.close_all()

    @staticmethod
    def tags(lines):
        """CAPA lines -> {tag: line}; tags are case-insensitive (RFC 2449 s5)."""
        out = {}
        for ln in lines:
            t = ln.strip().split(b" ", 1)[0].upper()
            if t:
                out[t.decode("latin-1")] = ln.rstrip(b"\r\n")
        return out

    # --------------------------------------------------------------- run
    def run(self):
        try:
            c = self.greet()
            c.close()
        except (OSError, LoginFailed) as e:
            self.rep._print("Bail out! cannot reach %s:%d: %s" % (self.a.host, self.a.port, e))
            return 2
        self.group("AUTHORIZATION", self.authorization)
        self.group("wrong password", self.wrong_password)
        self.group("255-octet line", self.long_line)
        try:
            self.transaction()
        except LoginFailed as e:
            self.rep.ok(False, "USER + PASS: +OK (RFC 1939 s7)", None, str(e))
            self.rep.plan()
            return 2
        except Exception as e:
            self.rep.ok(False, "TRANSACTION checks completed", None,
                        "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
        self.close_all()
        self.group("pipelined login", self.pipelined_login)
        if self.a.stls:
            self.group("STLS injection", self.stls_injection)
        if self.a.strict:
            self.group("strict", self.strict)
        self.group("maildrop kept", self.unchanged)
        if self.a.destructive:
            self.group("destructive", self.destructive)
        bad = self.rep.bad_status
        self.rep.ok(not bad, "all %d status lines: '+OK'/'-ERR' in upper case, CRLF, <= 512 octets "
                    "(RFC 1939 s3)" % self.rep.status_lines, None,
                    "\n".join("%s: %s" % (w, show(l)) for l, w in bad[:10]))
        self.rep.plan()
        return 1 if self.rep.failed else 0


def parse_args(argv):
    p = argparse.ArgumentParser(description="POP3 conformance checks (RFC 1939/2449/3206), TAP output")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=110)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--destructive", action="store_true",
                   help="also DELE + QUIT and check the next session (removes messages!)")
    p.add_argument("--strict", action="store_true",
                   help="popa3d's stricter-than-RFC profile (overlong lines, NUL, CR, leading zeros...)")
    p.add_argument("--expect-mbox", metavar="FILE",
                   help="compare RETR byte for byte with the messages of this mbox file")
    p.add_argument("--tls", action="store_true", help="implicit TLS (POP3S, usually port 995)")
    p.add_argument("--stls", action="store_true", help="STLS (RFC 2595) at the start of every session")
    p.add_argument("--cafile", help="CA certificates to verify the server with (PEM)")
    p.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per socket operation")
    p.add_argument("--max-retr", type=int, default=0,
                   help="RETR/TOP/LIST n at most this many messages (0: all)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    rep = Report()
    try:
        return Suite(args, rep).run()
    except Exception:
        # A bug of ours must not look like a short, passing run.
        rep.diag(traceback.format_exc())
        rep._print("Bail out! pop3conf failed internally")
        return 3


if __name__ == "__main__":
    sys.exit(main())
