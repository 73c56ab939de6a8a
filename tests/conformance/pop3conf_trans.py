# SPDX-License-Identifier: BSD-2-Clause
"""pop3conf's TRANSACTION checks (RFC 1939 s5-s7, s11; RFC 2449 s6.6,
s8): STAT, LIST, RETR, TOP, UIDL, DELE and RSET, message numbers,
PIPELINING, a second login, and that a session dropped after DELE removed
nothing.  A mix-in of pop3conf.Suite."""
import socket
import traceback

from pop3conf_wire import (CRLF, Closed, SCAN_RE, STAT_RE, UIDL_LINE_RE,
                           UIDL_ONE_RE, header_end, unstuff)


class TransactionChecks:
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
