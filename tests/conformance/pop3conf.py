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
import collections
import re
import socket
import ssl
import sys
import time
import traceback

CRLF = b"\r\n"
STATUS_RE = re.compile(rb"^(\+OK|-ERR)( [^\r\n]*)?\r\n$")
# RFC 1939 section 5: "+OK nn mm", anything may follow the size.
STAT_RE = re.compile(rb"^\+OK (\d+) (\d+)(?: [^\r\n]*)?\r\n$")
SCAN_RE = re.compile(rb"^(\d+) (\d+)(?: [^\r\n]*)?\r\n$")
# RFC 2449 s8: "[" resp-level *("/" resp-level) "]", resp-level = 1*<ALPHA/DIGIT/"-">
RESP_CODE_RE = re.compile(rb"^-ERR \[[A-Za-z0-9-]+(?:/[A-Za-z0-9-]+)*\]")
UIDL_ONE_RE = re.compile(rb"^\+OK (\d+) ([\x21-\x7e]{1,70})\r\n$")
UIDL_LINE_RE = re.compile(rb"^(\d+) ([\x21-\x7e]{1,70})\r\n$")


class Closed(Exception):
    """The server closed the connection where an answer was due."""


class LoginFailed(Exception):
    pass


# --------------------------------------------------------------------- TAP
class Report:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.n = 0
        self.failed = 0
        self.todo_failed = 0
        self.status_lines = 0
        self.bad_status = []	# (line, why): RFC 1939 section 3 format

    def _print(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    def diag(self, text):
        for line in str(text).splitlines():
            self._print("# " + line)

    def ok(self, cond, name, conn=None, detail=None, todo=None):
        self.n += 1
        line = ("ok" if cond else "not ok") + " %d - %s" % (self.n, name)
        if todo:
            line += " # TODO " + todo
        self._print(line)
        if not cond:
            if todo:
                self.todo_failed += 1
            else:
                self.failed += 1
            if detail is not None:
                for d in str(detail).splitlines()[-40:]:
                    self._print("#   " + d)
            if conn is not None:
                self._print("#   last bytes on this connection (C: client, S: server):")
                for d in conn.transcript():
                    self._print("#     " + d)
        return bool(cond)

    def skip(self, name, why):
        self.n += 1
        self._print("ok %d - %s # SKIP %s" % (self.n, name, why))

    def note_status(self, line):
        """Every status line we read: RFC 1939 section 3 shape and size."""
        self.status_lines += 1
        if not STATUS_RE.match(line):
            self.bad_status.append((line, "not '+OK'/'-ERR' [SP text] CRLF"))
        elif len(line) > 512:
            self.bad_status.append((line, "longer than 512 octets"))
        elif line.startswith(b"-ERR [") and not RESP_CODE_RE.match(line):
            self.bad_status.append((line, "malformed response code (RFC 2449 s8)"))

    def plan(self):
        self._print("1..%d" % self.n)


# --------------------------------------------------------------- connection
def show(data, limit=160):
    r = repr(bytes(data[:limit]))
    if len(data) > limit:
        r += "... (%d bytes)" % len(data)
    return r


class Conn:
    """Exact bytes in and out, with a transcript for diagnostics."""

    def __init__(self, rep, host, port, timeout, tls=None):
        self.rep = rep
        self.s = socket.create_connection((host, port), timeout)
        self.s.settimeout(timeout)
        self.buf = b""
        self.log = collections.deque(maxlen=14)
        if tls:
            self.wrap(*tls)

    def wrap(self, ctx, hostname):
        """TLS from here on.  Bytes the server sent after its STLS +OK and
        before the handshake would be plaintext injected into the TLS
        session (RFC 2595 s4): there must be none."""
        if self.buf:
            raise Closed("%d plaintext bytes before the TLS handshake: %r"
                         % (len(self.buf), self.buf[:100]))
        self.s = ctx.wrap_socket(self.s, server_hostname=hostname)
        self.log.append("-- TLS %s %s" % (self.s.version(), self.s.cipher()[0]))

    def transcript(self):
        return list(self.log)

    def send(self, data, mask=False):
        self.log.append("C: " + ("<PASS line, masked>" if mask else show(data)))
        self.s.sendall(data)

    def nodelay(self):
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                break
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                self.log.append("S: <timeout> after %s" % show(self.buf))
                raise
            except (ConnectionResetError, ssl.SSLEOFError):
                chunk = b""
            if not chunk:
                self.log.append("S: <closed> after %s" % show(self.buf))
                raise Closed("connection closed; pending %r" % self.buf[:200])
            self.buf += chunk
        out, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        return out

    def status(self):
        ln = self.line()
        self.log.append("S: " + show(ln))
        self.rep.note_status(ln)
        return ln

    def cmd(self, text, mask=False):
        data = text if isinstance(text, bytes) else text.encode("latin-1")
        self.send(data + CRLF, mask=mask)
        return self.status()

    def multi(self):
        """Lines after a +OK up to the terminating '.', still dot-stuffed."""
        lines = []
        while True:
            ln = self.line()
            if ln == b".\r\n":
                self.log.append("S: <%d lines> .\\r\\n" % len(lines))
                return lines
            lines.append(ln)

    def closed_by_server(self, timeout=10):
        self.s.settimeout(timeout)
        try:
            data = self.s.recv(1)
        except (ConnectionResetError, ssl.SSLEOFError):
            return True
        except socket.timeout:
            return False
        return data == b"" and self.buf == b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def unstuff(lines):
    """RFC 1939 section 3: strip one leading '.' from stuffed lines."""
    return b"".join(l[1:] if l.startswith(b".") else l for l in lines)


# -------------------------------------------------------------------- mbox
def mbox_messages(data):
    """Messages of an mbox as Debian's MTAs write them (mboxo/mboxrd):
    a From_ line at the start of the file or after an empty line starts a
    message; the empty line before the next From_ line, and a final empty
    line, are separators; '>From ' lines are content, left as stored."""
    msgs = []
    cur = None		# offset where the current message's content starts
    prev_blank = True
    blank_off = None
    off = 0
    n = len(data)
    last_complete = True
    while off < n:
        nl = data.find(b"\n", off)
        end = n if nl < 0 else nl + 1
        line = data[off:end]
        blank = line in (b"\n", b"\r\n")
        if prev_blank and line.startswith(b"From "):
            if cur is not None:
                msgs.append(data[cur:blank_off])
            cur = end
            blank = False
        elif cur is None:
            raise ValueError("not an mbox: first line is no From_ line")
        prev_blank = blank
        if blank:
            blank_off = off
        last_complete = nl >= 0
        off = end
    if cur is not None:
        msgs.append(data[cur:blank_off] if prev_blank and last_complete else data[cur:])
    return msgs


def wire(msg):
    """RFC 1939 section 11's transmitted form: every line ends in CRLF."""
    out = re.sub(rb"(?<!\r)\n", b"\r\n", msg)
    if out and not out.endswith(b"\n"):
        out += b"\n" if out.endswith(b"\r") else CRLF
    return out


def header_end(msg):
    """Length of headers plus the empty line (or all of msg if none)."""
    if msg.startswith(CRLF):
        return 2
    i = msg.find(b"\r\n\r\n")
    return len(msg) if i < 0 else i + 4


# ------------------------------------------------------------------- suite
class Suite:
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

    # ------------------------------------------------------- TRANSACTION
    def transaction(self):
        rep = self.rep
        c, r = self.login()
        rep.ok(True, "USER + PASS: +OK (RFC 1939 s7)")

        if self.capa_auth is not None:
            r = c.cmd("CAPA")
            ok = r.startswith(b"+OK")
            self.capa_trans = self.tags(c.multi()) if ok else {}
            rep.diag("capabilities after login: %s" % " ".join(sorted(self.capa_trans)))
            # Every tag, STLS and SASL included: their templates say
            # "Announced states: both" (RFC 2595 s4, RFC 5034 s3; the IANA
            # POP3 capability registry lists both) even though their
            # commands are valid in AUTHORIZATION only, like USER's.
            missing = sorted(set(self.capa_auth) - set(self.capa_trans))
            rep.ok(ok and not missing,
                   "CAPA in TRANSACTION announces every AUTHORIZATION capability (RFC 2449 s5 MUST)",
                   c, "missing after login: %s" % missing)
        else:
            rep.skip("CAPA in TRANSACTION", "server has no CAPA")

        r = c.cmd("STAT")
        m = STAT_RE.match(r)
        rep.ok(m is not None, "STAT: '+OK nn mm' (RFC 1939 s5)", c)
        if not m:
            raise RuntimeError("STAT unusable, %r" % r)
        self.count, self.size = int(m.group(1)), int(m.group(2))
        self.stat_line = r
        rep.diag("maildrop: %d messages, %d octets" % (self.count, self.size))
        r = c.cmd("stat")
        rep.ok(r == self.stat_line, "commands are case-insensitive: 'stat' (RFC 1939 s3)", c)

        r = c.cmd("LIST")
        rep.ok(r.startswith(b"+OK"), "LIST: +OK (RFC 1939 s5)", c)
        lines = c.multi() if r.startswith(b"+OK") else []
        parsed = [SCAN_RE.match(l) for l in lines]
        rep.ok(all(parsed), "LIST: every line 'msg octets' (RFC 1939 s5)", c,
               "bad lines: %r" % [l for l, p in zip(lines, parsed) if not p][:5])
        for p in parsed:
            if p:
                self.sizes[int(p.group(1))] = int(p.group(2))
        nums = [int(p.group(1)) for p in parsed if p]
        rep.ok(len(nums) == self.count and len(set(nums)) == len(nums) and
               all(1 <= n <= self.count for n in nums),
               "LIST: one line per message, count equals STAT's", c,
               "STAT %d, LIST numbers %r" % (self.count, nums[:20]))
        rep.ok(sum(self.sizes.values()) == self.size,
               "LIST: sizes add up to STAT's size", c,
               "STAT %d, LIST sum %d" % (self.size, sum(self.sizes.values())))
        bad = []
        for n in sorted(self.sizes)[:self.retr_limit() or len(self.sizes)]:
            r = c.cmd("LIST %d" % n)
            if not self.list_ok(r, n):
                bad.append(r)
        rep.ok(not bad, "LIST n: '+OK n octets' matches the listing (RFC 1939 s5)", c, repr(bad[:5]))
        self.expect_err(c, "LIST %d" % (self.count + 1),
                        "LIST of a nonexistent message: -ERR (RFC 1939 s5)")
        # One group's protocol error must not hide the others' results:
        # each goes on in a fresh session if the last one broke.
        for name, fn in (("concurrent session", self.concurrent),
                         ("message numbers", self.numbers), ("RETR", self.retrieve),
                         ("TOP", self.top), ("UIDL", self.uidl), ("NOOP", self.noop),
                         ("DELE", self.dele)):
            try:
                fn(c)
            except Exception as e:
                rep.ok(False, "%s checks completed without a protocol error" % name, c,
                       "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
                self.close_all()
                c, _ = self.login()
        c.close()

    def concurrent(self, c):
        """A second login while this session holds the maildrop: a server
        may allow it or refuse it; refused, it says why (RFC 2449 s8.1)."""
        rep = self.rep
        d = self.greet()
        d.cmd("USER " + self.a.user)
        r = d.cmd("PASS " + self.a.password, mask=True)
        d.close()
        if r.startswith(b"+OK"):
            rep.diag("the server allows two sessions on one maildrop")
        refused_ok = b"[IN-USE]" in r if self.has("RESP-CODES") else r.startswith(b"-ERR")
        rep.ok(r.startswith(b"+OK") or refused_ok,
               "a second login while a session holds the maildrop: +OK, or -ERR [IN-USE] "
               "(RFC 2449 s8.1)", d)
        r = c.cmd("STAT")
        rep.ok(r == self.stat_line, "the first session is unaffected by the second login", c)

    def noop(self, c):
        r = c.cmd("NOOP")
        self.rep.ok(r.startswith(b"+OK"), "NOOP: +OK (RFC 1939 s5)", c)

    def list_ok(self, r, n):
        m = STAT_RE.match(r)	# "+OK n octets [...]" has STAT's shape
        return bool(m) and int(m.group(1)) == n and int(m.group(2)) == self.sizes.get(n)

    def numbers(self, c):
        """RFC 1939 s5/s7: a message-number that is not one -> -ERR."""
        big = "4294967297"	# 2^32 + 1: wraps to 1 in 32-bit code
        for cmd in ("RETR 0", "RETR -1", "RETR " + big, "LIST 0", "LIST -1", "LIST " + big,
                    "DELE 0", "DELE " + big, "UIDL 0", "UIDL " + big, "TOP 0 0",
                    "TOP %s 0" % big, "RETR abc", "LIST 1 2", "RETR 1 2", "DELE 1 2",
                    "RETR", "DELE", "TOP 1"):
            self.expect_err(c, cmd, "'%s': -ERR (invalid message-number or arguments)" % cmd)

    def retrieve(self, c):
        rep = self.rep
        if not self.count:
            rep.skip("RETR checks", "maildrop is empty")
            return
        bad_size, bad_end, bad_stuff, bad_crlf, bad_exp = [], [], [], [], []
        for n in range(1, self.retr_limit() + 1):
            r = c.cmd("RETR %d" % n)
            if not r.startswith(b"+OK"):
                bad_size.append((n, r))
                continue
            lines = c.multi()
            body = unstuff(lines)
            self.msgs[n] = body
            if len(body) != self.sizes.get(n):
                bad_size.append((n, "LIST says %s octets, RETR gave %d" % (self.sizes.get(n), len(body))))
            if lines and not lines[-1].endswith(CRLF):
                bad_end.append(n)
            # The only line that is a lone '.' is the terminator; any other
            # line starting with '.' must have been stuffed (RFC 1939 s3).
            if any(l.startswith(b".") and not l.startswith(b"..") for l in lines):
                bad_stuff.append(n)
            if body.count(b"\n") != body.count(CRLF):
                bad_crlf.append(n)
            if self.expected is not None and n <= len(self.expected) and body != self.expected[n - 1]:
                bad_exp.append((n, self.expected[n - 1][:200], body[:200]))
        rep.ok(not bad_size, "RETR n: +OK and octets received (after un-stuffing) equal LIST's (RFC 1939 s11)",
               c, repr(bad_size[:5]))
        rep.ok(not bad_end, "RETR n: multi-line ends in CRLF.CRLF (RFC 1939 s3)", c, repr(bad_end[:10]))
        rep.ok(not bad_stuff, "RETR n: no line begins with a single '.' unless stuffed (RFC 1939 s3)",
               c, repr(bad_stuff[:10]))
        rep.ok(not bad_crlf, "RETR n: every line ends in CRLF, no bare LF (RFC 1939 s3)", c, repr(bad_crlf[:10]))
        if self.expected is not None:
            rep.ok(self.count == len(self.expected),
                   "--expect-mbox: STAT counts the file's %d messages" % len(self.expected), c,
                   "STAT %d" % self.count)
            rep.ok(not bad_exp, "--expect-mbox: RETR byte-identical to the file's messages (CRLF form)",
                   c, "\n".join("msg %d\n want %r\n got  %r" % e for e in bad_exp[:3]))
            sizes_ok = all(self.sizes.get(i + 1) == len(m) for i, m in enumerate(self.expected))
            rep.ok(sizes_ok, "--expect-mbox: LIST sizes equal the CRLF octet counts", c,
                   "LIST %r\nfile %r" % (self.sizes, [len(m) for m in self.expected]))

    def top(self, c):
        rep = self.rep
        if not self.count:
            rep.skip("TOP checks", "maildrop is empty")
            return
        r = c.cmd("TOP 1 0")
        if not r.startswith(b"+OK"):
            if self.has("TOP"):
                rep.ok(False, "TOP 1 0: +OK (TOP is advertised, RFC 2449 s6.1)", c)
            else:
                rep.skip("TOP checks", "TOP not implemented and not advertised (optional)")
            return
        c.multi()
        self.top_works = True
        bad0, bad1, badall = [], [], []
        for n in sorted(self.msgs):
            full = self.msgs[n]
            h = header_end(full)
            # 99999999 lines: more than any body has, so the whole message.
            for k, bad in ((0, bad0), (1, bad1), (99999999, badall)):
                r = c.cmd("TOP %d %d" % (n, k))
                got = unstuff(c.multi()) if r.startswith(b"+OK") else None
                want = full[:h]
                if k == 1 and h < len(full):
                    nl = full.find(CRLF, h)
                    want = full[:nl + 2] if nl >= 0 else full
                elif k > 1:
                    want = full
                if got != want:
                    bad.append((n, want[:200], got[:200] if got is not None else r))
        rep.ok(not bad0, "TOP n 0: the headers and the empty line, a prefix of RETR (RFC 1939 s7)",
               c, "\n".join("msg %d want %r got %r" % b for b in bad0[:3]))
        rep.ok(not bad1, "TOP n 1: headers, empty line, first body line (RFC 1939 s7)",
               c, "\n".join("msg %d want %r got %r" % b for b in bad1[:3]))
        rep.ok(not badall, "TOP n 99999999: more lines than the body has gives the whole message "
               "(RFC 1939 s7)", c, "\n".join("msg %d want %r got %r" % b for b in badall[:3]))

    def uidl(self, c):
        rep = self.rep
        r = c.cmd("UIDL")
        if not r.startswith(b"+OK"):
            if self.has("UIDL"):
                rep.ok(False, "UIDL: +OK (UIDL is advertised, RFC 2449 s6.8)", c)
            else:
                rep.skip("UIDL checks", "UIDL not implemented and not advertised (optional)")
            return
        lines = c.multi()
        parsed = [UIDL_LINE_RE.match(l) for l in lines]
        rep.ok(all(parsed), "UIDL: lines 'msg id', id 1-70 octets in 0x21-0x7E (RFC 1939 s7)", c,
               "bad: %r" % [l for l, p in zip(lines, parsed) if not p][:5])
        for p in parsed:
            if p:
                self.uidls[int(p.group(1))] = p.group(2)
        ids = list(self.uidls.values())
        rep.ok(len(ids) == self.count and sorted(self.uidls) == sorted(self.sizes),
               "UIDL: one line per message, same numbers as LIST", c)
        rep.ok(len(set(ids)) == len(ids), "UIDL: ids are unique in the maildrop (RFC 1939 s7)", c,
               "duplicates: %r" % [i for i in ids if ids.count(i) > 1][:5])
        bad = []
        for n in sorted(self.uidls)[:self.retr_limit()]:
            r = c.cmd("UIDL %d" % n)
            m = UIDL_ONE_RE.match(r)
            if not m or int(m.group(1)) != n or m.group(2) != self.uidls[n]:
                bad.append(r)
        rep.ok(not bad, "UIDL n: '+OK n id' matches the listing (RFC 1939 s7)", c, repr(bad[:5]))

    def dele(self, c):
        """DELE, then undo: RSET, then DELE again and drop the connection."""
        rep = self.rep
        if not self.count:
            rep.skip("DELE checks", "maildrop is empty")
            c.close()
            return
        r = c.cmd("DELE 1")
        rep.ok(r.startswith(b"+OK"), "DELE 1: +OK (RFC 1939 s5)", c)
        self.expect_err(c, "LIST 1", "LIST of a deleted message: -ERR (RFC 1939 s5)")
        self.expect_err(c, "RETR 1", "RETR of a deleted message: -ERR (RFC 1939 s5)")
        if self.top_works:
            self.expect_err(c, "TOP 1 0", "TOP of a deleted message: -ERR (RFC 1939 s7)")
        if self.uidls:
            self.expect_err(c, "UIDL 1", "UIDL of a deleted message: -ERR (RFC 1939 s7)")
        r = c.cmd("STAT")
        m = STAT_RE.match(r)
        rep.ok(m and int(m.group(1)) == self.count - 1 and
               int(m.group(2)) == self.size - self.sizes.get(1, 0),
               "STAT after DELE excludes the deleted message (RFC 1939 s5)", c)
        r = c.cmd("LIST")
        lines = c.multi() if r.startswith(b"+OK") else []
        nums = [int(l.split(b" ")[0]) for l in lines if SCAN_RE.match(l)]
        rep.ok(nums == sorted(self.sizes)[1:],
               "LIST after DELE omits the deleted message, the others keep their numbers "
               "(RFC 1939 s5)", c, "LIST numbers %r" % nums[:20])
        if self.count >= 2:
            r = c.cmd("LIST 2")
            rep.ok(self.list_ok(r, 2), "after DELE 1, LIST 2 still names message 2 (no renumbering)",
                   c)
            if 2 in self.msgs:
                r = c.cmd("RETR 2")
                body = unstuff(c.multi()) if r.startswith(b"+OK") else None
                rep.ok(body == self.msgs[2], "after DELE 1, RETR 2 still sends message 2", c)
        self.expect_err(c, "DELE 1", "DELE of a deleted message: -ERR (RFC 1939 s5)")
        r = c.cmd("RSET")
        rep.ok(r.startswith(b"+OK"), "RSET: +OK (RFC 1939 s5)", c)
        r = c.cmd("STAT")
        rep.ok(r == self.stat_line, "RSET restores STAT", c)
        r = c.cmd("LIST 1")
        rep.ok(r.startswith(b"+OK 1 "), "RSET restores the message (LIST 1 +OK)", c)
        # Mark all of them and hang up without QUIT.
        for n in sorted(self.sizes):
            c.cmd("DELE %d" % n)
        c.close()
        c2, _ = self.login()
        r = c2.cmd("STAT")
        rep.ok(r == self.stat_line,
               "connection dropped after DELE: nothing removed (RFC 1939 s6 MUST NOT)", c2)
        if self.uidls:
            r = c2.cmd("UIDL")
            ids = [UIDL_LINE_RE.match(l) for l in c2.multi()] if r.startswith(b"+OK") else []
            again = {int(m.group(1)): m.group(2) for m in ids if m}
            rep.ok(again == self.uidls, "UIDL ids persist across sessions (RFC 1939 s7)", c2)
        self.pipelining(c2)
        r = c2.cmd("QUIT")
        rep.ok(r.startswith(b"+OK"), "QUIT in TRANSACTION (nothing deleted): +OK (RFC 1939 s6)", c2)
        rep.ok(c2.closed_by_server(), "QUIT in TRANSACTION: server closes", c2)
        c2.close()

    def pipelining(self, c):
        """RFC 2449 s6.6: ten commands in one write, answered in order."""
        rep = self.rep
        if not self.has("PIPELINING"):
            rep.skip("PIPELINING: 10 commands in one write", "PIPELINING not advertised")
            return
        plan = [("STAT", False), ("NOOP", False), ("LIST", True),
                ("LIST %d" % (self.count + 1), False)]
        if self.count:
            plan += [("LIST 1", False), ("RETR 1", True)]
            if self.uidls:
                plan.append(("UIDL 1", False))
            if self.top_works:
                plan.append(("TOP 1 0", True))
        while len(plan) < 9:
            plan.append(("NOOP", False))
        plan.append(("STAT", False))
        c.send(b"".join(p[0].encode() + CRLF for p in plan))
        got = []
        try:
            for cmd, multi in plan:
                r = c.status()
                body = c.multi() if multi and r.startswith(b"+OK") else None
                got.append((cmd, r, body))
        except (socket.timeout, Closed) as e:
            rep.ok(False, "PIPELINING: 10 commands in one write, 10 answers in order (RFC 2449 s6.6)",
                   c, "only %d answers, then %s" % (len(got), type(e).__name__))
            raise
        want_ok = {"LIST %d" % (self.count + 1): False}
        bad = []
        for cmd, r, body in got:
            ok = r.startswith(b"+OK") if want_ok.get(cmd, True) else r.startswith(b"-ERR")
            if cmd == "STAT":
                ok = r == self.stat_line
            elif cmd == "RETR 1":
                ok = ok and unstuff(body or []) == self.msgs.get(1)
            elif cmd == "LIST 1":
                ok = self.list_ok(r, 1)
            if not ok:
                bad.append((cmd, r))
        rep.ok(not bad, "PIPELINING: 10 commands in one write, 10 answers in order (RFC 2449 s6.6)",
               c, repr(bad[:5]))

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

    def unchanged(self):
        """Sessions dropped after DELE must not have removed anything
        (RFC 1939 s6).  Checked again here, many sessions later, because
        a server may finish a dropped session after the next one began."""
        if self.stat_line is None:
            return
        c, _ = self.login()
        r = c.cmd("STAT")
        ids = None
        if self.uidls:
            u = c.cmd("UIDL")
            lines = c.multi() if u.startswith(b"+OK") else []
            ids = {int(m.group(1)): m.group(2) for m in map(UIDL_LINE_RE.match, lines) if m}
        self.rep.ok(r == self.stat_line and (ids is None or ids == self.uidls),
                    "the non-destructive checks left the maildrop as they found it "
                    "(RFC 1939 s6)", c)
        c.cmd("QUIT")
        c.close()

    # ------------------------------------------------------- destructive
    def destructive(self):
        rep = self.rep
        if not self.count:
            rep.skip("--destructive: DELE + QUIT", "maildrop is empty")
            return
        gone = [1] if self.count < 3 else [1, self.count]
        c, _ = self.login()
        for n in gone:
            r = c.cmd("DELE %d" % n)
            rep.ok(r.startswith(b"+OK"), "--destructive: DELE %d +OK" % n, c)
        r = c.cmd("QUIT")
        rep.ok(r.startswith(b"+OK"), "--destructive: QUIT after DELE: +OK (UPDATE, RFC 1939 s6)", c)
        rep.ok(c.closed_by_server(), "--destructive: server closes after UPDATE", c)
        c.close()
        keep = [n for n in sorted(self.sizes) if n not in gone]
        c, _ = self.login()
        r = c.cmd("STAT")
        m = STAT_RE.match(r)
        rep.ok(m and int(m.group(1)) == len(keep) and
               int(m.group(2)) == sum(self.sizes[n] for n in keep),
               "--destructive: next session's STAT lacks exactly the deleted messages", c,
               "want %d %d" % (len(keep), sum(self.sizes[n] for n in keep)))
        if self.uidls:
            r = c.cmd("UIDL")
            ids = [UIDL_LINE_RE.match(l) for l in c.multi()] if r.startswith(b"+OK") else []
            rep.ok([m.group(2) for m in ids if m] == [self.uidls[n] for n in keep],
                   "--destructive: the other messages keep their UIDL ids (RFC 1939 s7)", c)
        bad = []
        for i, n in enumerate(keep, 1):
            if n not in self.msgs:
                continue
            r = c.cmd("RETR %d" % i)
            body = unstuff(c.multi()) if r.startswith(b"+OK") else None
            if body != self.msgs[n]:
                bad.append((i, n))
        rep.ok(not bad, "--destructive: the other messages are byte-identical after UPDATE", c,
               "renumbered/original: %r" % bad[:5])
        r = c.cmd("QUIT")
        c.close()

    # ------------------------------------------------------------ strict
    def strict(self):
        """popa3d's profile: stricter than RFC 1939 demands (README.md)."""
        rep = self.rep
        c, _ = self.login()
        c.nodelay()
        marker = "LIST 1" if self.count else "STAT"
        want = c.cmd(marker)
        for size, label in ((1024, "1 KB"), (65536, "64 KB"), (10 * 1024 * 1024, "10 MB")):
            c.send(b"NOOP " + b"x" * (size - 7) + CRLF + marker.encode() + CRLF)
            r1 = c.status()
            r2 = c.status()
            rep.ok(r1.startswith(b"-ERR") and r2 == want,
                   "--strict: a %s line gets exactly one -ERR, the next command works" % label, c)
        for raw, what in ((b"NOOP\x00\r\n", "NUL in a command"),
                          (b"NO\x00OP\r\n", "NUL inside the keyword"),
                          (b"RETR 1\x00\r\n", "NUL after an argument"),
                          (b"NO\rOP\r\n", "bare CR inside a line"),
                          (b"STAT\r\r\n", "CR CR LF"),
                          (b"\r\n", "empty line"),
                          (b" \r\n", "a lone space"),
                          (b":\r\n", "':'"),
                          (b"RETR 01\r\n", "leading zero 'RETR 01'"),
                          (b"LIST 01\r\n", "leading zero 'LIST 01'"),
                          (b"TOP 1 00\r\n", "leading zero 'TOP 1 00'"),
                          (b"TOP 1 -1\r\n", "'TOP 1 -1'"),
                          (b"RETR +1\r\n", "'RETR +1'"),
                          (b"RETR 1 \r\n", "trailing space 'RETR 1 '"),
                          (b"RETR  1\r\n", "two spaces 'RETR  1'"),
                          (b"NOOP x\r\n", "an argument to NOOP"),
                          (b"STAT 1\r\n", "an argument to STAT"),
                          (b"RETR 18446744073709551617\r\n", "RETR 2^64+1"),
                          (b"TOP 1 18446744073709551617\r\n", "TOP 1 2^64+1"),
                          (b"APOP x y\r\n", "an unknown command (APOP) after login")):
            c.send(raw + marker.encode() + CRLF)
            r1 = c.status()
            r2 = c.status()
            rep.ok(r1.startswith(b"-ERR") and r2 == want,
                   "--strict: %s -> one -ERR, session in step" % what, c)
        for cmd in ("STAT", marker):
            want1 = c.cmd(cmd)
            for b in cmd.encode() + CRLF:
                c.send(bytes([b]))
                time.sleep(0.01)
            r = c.status()
            rep.ok(r == want1, "--strict: '%s' sent one byte per write works" % cmd, c)
        r = c.cmd("NOOP")
        rep.ok(r.startswith(b"+OK"), "--strict: after all that the session still works (NOOP)", c)
        c.close()

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
