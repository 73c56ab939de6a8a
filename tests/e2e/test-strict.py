# SPDX-License-Identifier: BSD-2-Clause
"""popa3d's own strictness, end to end on the real daemon through raw
sockets: the cases pop3conf --strict cannot check on any server because
they depend on popa3d's limits and choices.  pop3conf --strict (run by
test-conformance.py) already covers overlong lines, NUL, CR, empty lines,
leading zeros and byte-at-a-time commands AFTER login; this file holds the
AUTHORIZATION side (the pre-auth child, the code an attacker reaches first),
the 512-octet line limit to the octet, login limits and the commands we
deliberately do not implement; two sessions on one mailbox, mail delivered
during a session, a pipelined burst across the pre-auth/session hand-over,
and mailboxes we refuse to open ([SYS/PERM], RFC 3206)."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, mbox, sample_messages, wire  # noqa: E402

CAPA_OK = b"+OK Capability list follows\r\n"
MAX_COMMANDS = 50	# src/preauth.h PREAUTH_MAX_COMMANDS
MAX_FAILURES = 3	# --max-failures default


def greet(srv):
    c = Client(srv.connect(timeout=30))
    g = c.line()
    assert g.startswith(b"+OK"), g
    return c


def in_step(c):
    """CAPA as a marker: its first line is distinct from every -ERR."""
    c.send(b"CAPA\r\n")
    first = c.line()
    if first != CAPA_OK:
        return False
    c.multiline()
    return True


def preauth_lines(t, srv):
    for size, label in ((1024, "1 KB"), (65536, "64 KB"), (10 * 1024 * 1024, "10 MB")):
        c = greet(srv)
        c.send(b"USER " + b"a" * (size - 7) + b"\r\nCAPA\r\n")
        r = c.line()
        t.eq(r, b"-ERR Line too long.\r\n", "before login: a %s line gets one -ERR" % label)
        t.eq(c.line(), CAPA_OK, "before login: after the %s line the next command is answered" % label)
        c.multiline()
        c.close()
    # The limit is 512 octets with the terminator (src/pop3.h POP3_LINE_MAX).
    c = greet(srv)
    c.send(b"CAPA" + b" " * 506 + b"\r\n")
    t.eq(c.line(), b"-ERR Syntax error\r\n", "a 512-octet line is parsed (CAPA with blanks: syntax)")
    c.send(b"CAPA" + b" " * 507 + b"\r\n")
    t.eq(c.line(), b"-ERR Line too long.\r\n", "a 513-octet line is too long")
    c.send(b"CAPA" + b" " * 505 + b"\n")
    t.eq(c.line(), b"-ERR Syntax error\r\n", "bare LF: 510 octets + LF is parsed")
    t.ok(in_step(c), "after the boundary lines the session is in step")
    c.close()
    # A password longer than a line never becomes a login attempt.
    c = greet(srv)
    c.cmd("USER alice")
    c.send(b"PASS alice-secret" + b"x" * (2 * 1024 * 1024) + b"\r\n")
    t.eq(c.line(), b"-ERR Line too long.\r\n", "2 MB PASS line: -ERR Line too long., no login attempt")
    t.ok(in_step(c), "after the 2 MB PASS line the session is in step")
    c.close()
    # Unterminated flood, then EOF: the -ERR comes as soon as 512 octets
    # without LF are in (src/pop3.c), once; the rest is dropped unread
    # into any buffer; then EOF closes the session.
    c = greet(srv)
    c.send(b"U" * (4 * 1024 * 1024))
    c.s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        chunk = c.s.recv(65536)
        if not chunk:
            break
        out += chunk
    t.eq(out, b"-ERR Line too long.\r\n", "4 MB without LF then EOF: one -ERR, then closed")
    c.close()
    c = greet(srv)
    t.ok(in_step(c), "the daemon still serves after the floods")
    c.close()


def preauth_bytes(t, srv):
    cases = [
        (b"USER alice\x00\r\n", "NUL in USER"),
        (b"CA\x00PA\r\n", "NUL in the keyword"),
        (b"CA\rPA\r\n", "bare CR in the keyword"),
        (b"USER ali\rce\r\n", "bare CR in USER"),
        (b"\r\n", "empty line"),
        (b":\r\n", "':'"),
        (b"USER a\x01b\r\n", "control character in USER"),
        (b"USER a b\r\n", "space inside the USER name"),
        (b"USER " + b"a" * 256 + b"\r\n", "256-octet user name"),
        (b"USER\r\n", "USER without a name"),
        (b"USER \r\n", "USER with an empty name"),
        (b"PASS\r\n", "PASS without argument"),
        (b"CAPA x\r\n", "CAPA with an argument"),
        (b"STLS\r\n", "STLS without --tls-cert"),
        (b"APOP alice 0123456789abcdef0123456789abcdef\r\n", "APOP (not implemented: weak MD5)"),
        (b"AUTH\r\n", "AUTH in clear (SASL only under TLS)"),
        (b"AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\n", "AUTH PLAIN in clear with a valid initial response"),
    ]
    c = greet(srv)
    for raw, what in cases:
        c.send(raw)
        r = c.line()
        t.ok(r.startswith(b"-ERR"), "before login: %s -> -ERR" % what, r)
        if r.startswith(b"+OK") and raw.startswith(b"AUTH"):
            break
    t.ok(in_step(c), "after %d bad lines the session is in step" % len(cases))
    c.close()
    # A NUL or CR in PASS must never reach PAM, even with the right prefix.
    for raw, what in ((b"PASS alice-secret\x00\r\n", "NUL after the right password"),
                      (b"PASS alice-secret\x00junk\r\n", "NUL inside PASS"),
                      (b"PASS alice-secret\r\r\n", "CR after the right password"),
                      (b"PASS alice-\rsecret\r\n", "CR inside PASS")):
        c = greet(srv)
        c.cmd("USER alice")
        c.send(raw)
        r = c.line()
        t.ok(r.startswith(b"-ERR"), "%s: -ERR, no login" % what, r)
        t.ok(in_step(c), "%s: still in AUTHORIZATION" % what)
        c.close()
    # bare LF ends a line (deliberate leniency, like popa3d 1.0.3)
    c = greet(srv)
    c.send(b"USER alice\nPASS alice-secret\nSTAT\nQUIT\n")
    r = [c.line() for _ in range(4)]
    t.ok(r[0].startswith(b"+OK") and r[1].startswith(b"+OK") and r[2].startswith(b"+OK 3 ")
         and r[3].startswith(b"+OK"), "bare LF line ends: login, STAT, QUIT work", r)
    c.close()


def preauth_limits(t, srv):
    c = greet(srv)
    answers = []
    for i in range(MAX_FAILURES):
        c.cmd("USER alice")
        answers.append(c.cmd("PASS wrong-%d" % i))
    t.ok(all(a.startswith(b"-ERR [AUTH]") for a in answers),
         "%d wrong passwords: -ERR [AUTH] each" % MAX_FAILURES, answers)
    t.ok(c.closed(), "after %d failures the server hangs up" % MAX_FAILURES)
    c.close()

    c = greet(srv)
    c.send(b"NOOP\r\n" * (MAX_COMMANDS + 20))
    got = []
    try:
        while True:
            got.append(c.line())
    except (EOFError, ConnectionResetError):
        # What we sent beyond the limit is unread when it hangs up, so
        # the kernel may answer with a reset after the data: both end it.
        pass
    t.eq(len(got), MAX_COMMANDS + 1, "%d commands before login are answered, then one more line"
         % MAX_COMMANDS)
    t.ok(all(g.startswith(b"-ERR") for g in got), "all of them -ERR (NOOP is TRANSACTION only)")
    t.eq(got[-1:], [b"-ERR Too many commands.\r\n"], "the last answer says why it hangs up")
    c.close()

    # a format string as a user name reaches logs and PAM as text
    c = greet(srv)
    t.ok(c.cmd("USER %n%n%s%s").startswith(b"+OK"), "USER %n%n%s%s: +OK like any name")
    t.ok(c.cmd("PASS %n%s").startswith(b"-ERR [AUTH]"), "its PASS: -ERR [AUTH]")
    c.close()
    c = greet(srv)
    t.ok(in_step(c), "the daemon still serves after the format-string login")
    c.close()

    # half-closed client: its last commands are still answered
    c = greet(srv)
    c.send(b"CAPA\r\nQUIT\r\n")
    c.s.shutdown(socket.SHUT_WR)
    t.eq(c.line(), CAPA_OK, "half-closed client: CAPA answered")
    c.multiline()
    t.ok(c.line().startswith(b"+OK"), "half-closed client: QUIT answered")
    c.close()


def transaction(t, srv):
    c = greet(srv)
    c.cmd("USER alice")
    t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "login")
    for cmd in ("USER alice", "PASS alice-secret", "APOP alice 0123", "AUTH PLAIN", "STLS"):
        r = c.cmd(cmd)
        t.ok(r.startswith(b"-ERR"), "after login: %s -> -ERR" % cmd.split()[0], r)
    c.send(b"LIST 1\nSTAT\n")
    r1, r2 = c.line(), c.line()
    t.ok(r1.startswith(b"+OK 1 ") and r2.startswith(b"+OK 3 "), "after login: bare LF ends a line",
         [r1, r2])
    # The session buffers 8 KB of pipelined input (POP3_IN_MAX): a 64 KB
    # burst of NOOPs must still be answered one for one, in order.
    n = 64 * 1024 // 6
    c.send(b"NOOP\r\n" * n + b"STAT\r\n")
    got = [c.line() for _ in range(n + 1)]
    t.ok(all(g == b"+OK\r\n" for g in got[:-1]) and got[-1].startswith(b"+OK 3 "),
         "%d pipelined NOOPs (64 KB): %d answers, in order" % (n, n))
    c.close()


def concurrent(t, srv, msgs):
    """popa3d holds no lock between commands (RFC 1939 s4's lock is "as
    necessary"): two sessions may share a maildrop, and the one whose view
    went stale when the other QUIT must stop, never send a message under
    the wrong number nor apply its own DELEs to a file it no longer knows."""
    def login():
        c = greet(srv)
        c.cmd("USER alice")
        r = c.cmd("PASS alice-secret")
        assert r.startswith(b"+OK"), r
        return c
    a, b = login(), login()
    t.ok(b.cmd("DELE 3").startswith(b"+OK"), "concurrent: session B marks message 3")
    t.ok(a.cmd("DELE 1").startswith(b"+OK"), "concurrent: session A marks message 1")
    t.ok(a.cmd("QUIT").startswith(b"+OK"), "concurrent: A QUITs (UPDATE)")
    a.close()
    t.eq(srv.get_mailbox("alice"), mbox(*msgs[1:]), "concurrent: A's UPDATE removed message 1")
    try:
        r = b.cmd("RETR 2")
    except (EOFError, ConnectionResetError):
        r = b""
    t.ok(not r.startswith(b"+OK"), "concurrent: B's RETR 2 on a stale view is refused "
         "(-ERR or hang-up), no message sent", r)
    try:
        b.cmd("QUIT")
    except (EOFError, ConnectionResetError, BrokenPipeError):
        pass
    b.close()
    t.eq(srv.get_mailbox("alice"), mbox(*msgs[1:]), "concurrent: B's DELE 3 was never applied")
    srv.put_mailbox("alice", mbox(*msgs))


def delivery_and_burst(t, srv, msgs):
    """An MTA appends while a session is open: the session keeps its view,
    and its UPDATE removes exactly what it marked, keeping the new mail
    (RFC 1939 s6).  Then a burst across the pre-auth/session hand-over:
    everything after PASS is read by the session, from the kernel."""
    srv.put_mailbox("alice", mbox(*msgs[:3]))
    c = greet(srv)
    c.cmd("USER alice")
    t.ok(c.cmd("PASS alice-secret").startswith(b"+OK 3 "), "delivery: login sees 3 messages")
    with open(srv.mailbox_path("alice"), "ab") as f:
        f.write(mbox(msgs[3]))
    t.ok(c.cmd("STAT").startswith(b"+OK 3 "), "delivery: after an append STAT still counts 3")
    r = c.cmd("RETR 2")
    t.ok(r.startswith(b"+OK") and fixture.unstuff(c.multiline()) == wire(msgs[1]),
         "delivery: RETR 2 after the append is message 2, intact")
    c.cmd("DELE 1")
    t.ok(c.cmd("QUIT").startswith(b"+OK"), "delivery: QUIT after DELE 1")
    c.close()
    t.eq(srv.get_mailbox("alice"), mbox(*msgs[1:]),
         "delivery: message 1 removed, the mail delivered meanwhile kept")

    c = greet(srv)
    n = 3000
    c.send(b"USER alice\r\nPASS alice-secret\r\n" + b"NOOP\r\n" * n + b"STAT\r\nQUIT\r\n")
    got = [c.line() for _ in range(n + 4)]
    t.ok(got[0] == b"+OK\r\n" and got[1].startswith(b"+OK 3 ") and
         all(g == b"+OK\r\n" for g in got[2:n + 2]) and got[n + 2].startswith(b"+OK 3 ") and
         got[n + 3].startswith(b"+OK"),
         "USER, PASS and %d commands in one write (18 KB past PASS): all answered in order" % n,
         got[:3] + got[-3:])
    t.ok(c.closed(), "... and the session ends at the pipelined QUIT")
    c.close()
    srv.put_mailbox("alice", mbox(*msgs[:3]))


def unsafe_mailboxes(t, srv):
    """RFC 3206 s4: a mailbox we refuse to open is a permanent problem,
    [SYS/PERM], after a successful login; nothing is read through a link
    and nothing is changed."""
    p = srv.mailbox_path("bob")
    other = os.path.join(srv.dir, "elsewhere")
    content = mbox(*sample_messages(1))
    with open(other, "wb") as f:
        f.write(content)
    os.chown(other, srv.uids["bob"], srv.uids["bob"])

    def clear():
        if os.path.isdir(p) and not os.path.islink(p):
            os.rmdir(p)
        elif os.path.lexists(p):
            os.unlink(p)

    def make(kind):
        clear()
        if kind == "a file that is no mbox":
            srv.put_mailbox("bob", b"this is not an mbox\n")
        elif kind == "a symlink":
            os.symlink(other, p)
        elif kind == "a FIFO":
            os.mkfifo(p)
            os.chown(p, srv.uids["bob"], srv.uids["bob"])
        elif kind == "a directory":
            os.mkdir(p)
            os.chown(p, srv.uids["bob"], srv.uids["bob"])
        elif kind == "a hard link":
            os.link(other, p)
        elif kind == "someone else's file":
            srv.put_mailbox("bob", content)
            os.chown(p, srv.uids["alice"], srv.uids["alice"])

    for kind in ("a file that is no mbox", "a symlink", "a FIFO", "a directory", "a hard link", "someone else's file"):
        make(kind)
        c = greet(srv)
        c.cmd("USER bob")
        r = c.cmd("PASS bob secret")
        t.ok(r.startswith(b"-ERR [SYS/PERM]"), "mailbox is %s: -ERR [SYS/PERM] at PASS" % kind, r)
        c.close()
    clear()
    with open(other, "rb") as f:
        t.eq(f.read(), content, "the file behind the links is untouched")


def body(t):
    fixture.require_root(t)
    with Server(args=["--penalty-max", "0"]) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(3)))
        srv.start()
        g = Client(srv.connect())
        greeting = g.line()
        t.ok(b"<" not in greeting and b"popa3d" not in greeting.lower(),
             "greeting: no APOP timestamp, no software name", greeting)
        g.close()
        preauth_lines(t, srv)
        preauth_bytes(t, srv)
        preauth_limits(t, srv)
        transaction(t, srv)
        t.eq(srv.get_mailbox("alice"), mbox(*sample_messages(3)), "the mailbox is untouched")
        concurrent(t, srv, sample_messages(3))
        delivery_and_burst(t, srv, sample_messages(4))
        unsafe_mailboxes(t, srv)
        t.eq(srv.stop(), 0, "SIGTERM: exit 0 after all of it")


TAP().run(body)
