#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""What a leader inherits from the listener, read from /proc on the real
daemon: nothing about other clients.

The listener keeps tables about every client: the per-source table
(addresses, penalties, the user names that failed from them), the
per-source census and the table of leaders (pids, addresses, channels,
failed names).  Every leader is forked from it and becomes the session,
the mail user's process.  Here client A from 127.0.0.7 fails a login as
a distinctive user name, client B from 127.0.0.9 stays connected (its
second connection is refused, and the listener logs that), and the
listener's memory is shown to hold both (so the search works); then
a connection from 127.0.0.8 logs in as alice, and neither the name nor
the two addresses may be in the memory of its leader, its pre-auth
child, or its session.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from procfs import holders, memory_contains, socket_inode, status, wait_for  # noqa: E402
from fixture import Server, Client, mbox, sample_messages  # noqa: E402

PROBE = b"zzq-leak-probe"
NEEDLES = (PROBE, b"127.0.0.7", b"127.0.0.9")


def role(pid):
    try:
        return "leader (root)" if status(pid)["Uid"][0] == "0" else "pre-auth child"
    except (FileNotFoundError, ProcessLookupError):
        return "gone"


def body(t):
    fixture.require_root(t)
    with Server(args=["--max-per-source", "1"]) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.start()
        a = Client(srv.connect(source="127.0.0.7"))
        a.line()
        a.cmd("USER " + PROBE.decode())
        t.ok(a.cmd("PASS not-the-password").startswith(b"-ERR"), "A (127.0.0.7): login fails")
        b = Client(srv.connect(source="127.0.0.9"))
        t.ok(b.line().startswith(b"+OK"), "B (127.0.0.9): connected, stays")
        # a refusal, which the listener logs with the address
        b2 = Client(srv.connect(source="127.0.0.9"))
        t.ok(b2.line().startswith(b"-ERR"), "B's second connection: refused (--max-per-source 1)")
        b2.close()
        t.ok(wait_for(lambda: "rip=127.0.0.9" in srv.read_log()), "and the listener logs it")
        wait_for(lambda: memory_contains(srv.proc.pid, NEEDLES) == set(NEEDLES))
        t.eq(memory_contains(srv.proc.pid, NEEDLES), set(NEEDLES), "/proc/PID/mem: the listener holds the failed name and both "
             "addresses (the search works)")

        c = Client(srv.connect(source="127.0.0.8"))
        c.line()
        inode = socket_inode(srv.port, c.s.getsockname()[1], "127.0.0.8")
        pre = wait_for(lambda: len(holders(inode)) == 2 and holders(inode)) or []
        t.eq(len(pre), 2, "before login the leader and the pre-auth child hold the socket")
        for p in pre:
            t.eq(memory_contains(p, NEEDLES), set(),
                 "/proc/PID/mem: nothing about other clients in the %s" % role(p))
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "alice (127.0.0.8) logs in")
        t.ok(c.cmd("STAT").startswith(b"+OK 2 "), "alice: STAT")
        sess = wait_for(lambda: len(holders(inode)) == 1 and holders(inode)) or []
        t.eq(len(sess), 1, "after login one process holds the client socket")
        for p in sess:
            t.eq(status(p)["Uid"], [str(srv.uids["alice"])] * 4, "it is alice's session")
            t.eq(memory_contains(p, NEEDLES), set(),
                 "/proc/PID/mem: nothing about other clients in alice's session")
        c.cmd("QUIT")
        for x in (a, b, c):
            x.close()
        t.eq(srv.stop(), 0, "SIGTERM exit 0")


TAP().run(body)
