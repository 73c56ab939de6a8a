# SPDX-License-Identifier: BSD-2-Clause
"""Memory per message of a real session (issue 14, finding 5).

The worst mailbox for the index: 2,097,152 (the default --max-messages)
empty messages in 16 MiB, all alike, so every one is a duplicate of the
first.  After login and STAT the session's peak resident size (VmHWM,
which includes the scan's duplicate table and everything the process
inherited) divided by the message count must stay under 64 bytes.
Memory is asserted, never time.  The sanitizer build is skipped: ASan's
shadow and redzones are not the daemon's memory.

A second mailbox of as many messages that all differ (a Message-ID
each) fills the table that numbers duplicates, which the first barely
touches.  Also checked, since that table changed: the last copy's UIDL
is the first's with "-2097152", as popa3d 1.0.3 numbers them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from procfs import descendants, status  # noqa: E402
from fixture import Server, Client  # noqa: E402

COUNT = 2097152
BOUND = 64


def session_pid(srv, uid):
    pids = [p for p in descendants(srv.proc.pid) if status(p)["Uid"][0] == str(uid)]
    return pids[0] if len(pids) == 1 else None


def measure(t, srv, user, what, size):
    c = Client(srv.connect(timeout=120))
    t.ok(c.line().startswith(b"+OK"), "%s: greeting" % what)
    c.cmd("USER %s" % user)
    t.ok(c.cmd("PASS %s" % srv.users[user]).startswith(b"+OK"), "%s: login" % what)
    t.eq(c.cmd("STAT"), b"+OK %d %d\r\n" % (COUNT, size), "%s: STAT" % what)
    pid = session_pid(srv, srv.uids[user])
    t.ok(pid is not None, "%s: found the session" % what)
    if pid:
        hwm = int(status(pid)["VmHWM"][0]) * 1024
        per = hwm / COUNT
        t.ok(per < BOUND, "%s: peak RSS %d bytes = %.1f bytes per message (bound %d)"
             % (what, hwm, per, BOUND))
    return c


def body(t):
    fixture.require_root(t)
    if fixture.built_with("POPA3D_SANITIZERS"):
        t.ok(True, "peak memory per message # SKIP sanitizer build")
        return
    with Server(args=["--timeout", "120"]) as srv:
        # issue 14's mailbox: 16 MiB, every message the same (no headers)
        srv.put_mailbox("alice", b"From a\n\n" * COUNT)
        # every message different: the duplicate table fills up
        srv.put_mailbox("bob", b"".join(b"From a\nMessage-ID: <%07d>\n\n" % i
                                        for i in range(COUNT)))
        srv.start()
        c = measure(t, srv, "alice", "2,097,152 empty messages", 0)
        first = c.cmd("UIDL 1").split()
        last = c.cmd("UIDL %d" % COUNT).split()
        t.ok(len(first) == 3 and len(last) == 3 and
             last[2] == first[2] + b"-%d" % COUNT,
             "UIDL: the last copy is the first's id with -%d" % COUNT, (first, last))
        t.ok(c.cmd("QUIT").startswith(b"+OK"), "QUIT")
        c = measure(t, srv, "bob", "2,097,152 distinct messages", COUNT * 23)
        a = c.cmd("UIDL 1").split()
        b = c.cmd("UIDL 2").split()
        t.ok(len(a) == 3 and len(b) == 3 and a[2] != b[2] and b"-" not in a[2] + b[2],
             "UIDL: distinct messages, plain ids", (a, b))
        t.ok(c.cmd("QUIT").startswith(b"+OK"), "QUIT")
        srv.stop()


TAP().run(body)
