# SPDX-License-Identifier: BSD-2-Clause
"""pop3conf's optional modes: --destructive (DELE + QUIT removes exactly
what was deleted, RFC 1939 s6) and --strict (popa3d's stricter-than-RFC
profile, README.md).  A mix-in of pop3conf.Suite."""
import time

from pop3conf_wire import CRLF, STAT_RE, UIDL_LINE_RE, unstuff


class ModeChecks:
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
