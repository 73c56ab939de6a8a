# SPDX-License-Identifier: BSD-2-Clause
"""Flood resistance: --max-per-source and --max-preauth under a flood from
127.0.0.2 while 127.0.0.3 keeps being served; refusals logged at a bounded
rate with a suppressed count; the per-source penalty after failed logins
delays only that source."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, mbox, sample_messages  # noqa: E402


def body(t):
    fixture.require_root(t)
    with Server(args=["--max-per-source", "3", "--max-preauth", "8"]) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.start()
        held = []
        for i in range(3):
            c = Client(srv.connect(source="127.0.0.2"))
            t.ok(c.line().startswith(b"+OK"), "127.0.0.2 connection %d greeted" % (i + 1))
            held.append(c)
        c = Client(srv.connect(source="127.0.0.2"))
        first = c.line()
        t.ok(first.startswith(b"-ERR [SYS/TEMP]"), "4th from 127.0.0.2 refused with [SYS/TEMP]", first)
        t.ok(c.closed(), "and closed")
        flood = 0
        for i in range(60):
            try:
                f = Client(srv.connect(source="127.0.0.2", timeout=5))
                if f.line().startswith(b"-ERR"):
                    flood += 1
                f.close()
            except (OSError, EOFError):
                pass
        t.eq(flood, 60, "a flood of 60 more from 127.0.0.2: all refused")

        c = Client(srv.connect(source="127.0.0.3"))
        t.ok(c.line().startswith(b"+OK"), "127.0.0.3 greeted during the flood")
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "127.0.0.3 logs in during the flood")
        t.ok(c.cmd("STAT").startswith(b"+OK 2 "), "127.0.0.3 is served during the flood")
        c.cmd("QUIT")
        c.close()

        time.sleep(0.3)
        log = srv.read_log()
        refusals = [l for l in log.splitlines() if "refused rip=127.0.0.2" in l]
        t.ok(1 <= len(refusals) <= 2, "61 refusals of 127.0.0.2 logged in at most 2 lines",
             "\n".join(refusals))
        t.ok(all('reason="max-per-source"' in l for l in refusals), "the log line names the limit")

        # max-preauth: 3 held from .2, 5 more from .4 .. .8 fill 8; the 9th
        # is served and the oldest of the source holding most is closed
        more = []
        for i in range(5):
            c = Client(srv.connect(source="127.0.0.%d" % (4 + i)))
            t.ok(c.line().startswith(b"+OK"), "connection %d of 8 admitted" % (4 + i))
            more.append(c)
        c = Client(srv.connect(source="127.0.0.3"))
        line = c.line()
        t.ok(line.startswith(b"+OK"), "9th connection greeted: room was made", line)
        more.append(c)
        line = held[0].line()
        t.ok(line.startswith(b"-ERR [SYS/TEMP]"), "the oldest from 127.0.0.2 was told", line)
        t.ok(held[0].closed(), "and closed")
        for c in held[1:] + more:
            c.cmd("QUIT")
            c.close()
        time.sleep(0.5)
        c = Client(srv.connect(source="127.0.0.2"))
        t.ok(c.line().startswith(b"+OK"), "after the sessions end, 127.0.0.2 is admitted again")
        c.close()
        t.ok("rip=127.0.0.2 " in srv.read_log() and "reason=evicted" in srv.read_log(),
             "the eviction logged")
        t.eq(srv.stop(), 0, "clean stop")

    with Server(args=["--max-failures", "1"]) as srv:
        srv.start()
        for i in range(2):
            c = Client(srv.connect(source="127.0.0.5"))
            c.line()
            c.cmd("USER alice")
            r = c.cmd("PASS wrong")
            t.ok(r.startswith(b"-ERR [AUTH]"), "failed login %d from 127.0.0.5" % (i + 1), r)
            c.closed(timeout=5)
            c.close()
            time.sleep(0.2)
        # now 127.0.0.5 carries a penalty; 127.0.0.6 does not.  Both logins
        # must still succeed: the penalty delays, it does not refuse.
        for src in ("127.0.0.6", "127.0.0.5"):
            c = Client(srv.connect(source=src, timeout=30))
            c.line()
            c.cmd("USER alice")
            t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"),
                 "login from %s after failed logins from 127.0.0.5" % src)
            c.cmd("QUIT")
            c.close()
        srv.stop()


def endless_failures(t):
    """A source that fails forever: the stored penalty doubles at each
    failed connection and must stay bounded (it once overflowed after ~50
    doublings, which UBSan reported and a normal build hid)."""
    with Server(args=["--max-failures", "1", "--penalty-max", "0"]) as srv:
        srv.start()
        fails = 0
        for i in range(70):
            c = Client(srv.connect(source="127.0.0.7"))
            c.line()
            c.cmd("USER alice")
            if c.cmd("PASS wrong").startswith(b"-ERR [AUTH]"):
                fails += 1
            c.closed(timeout=5)
            c.close()
        t.eq(fails, 70, "70 failed-login connections from one source")
        time.sleep(0.3)
        t.ok(srv.proc.poll() is None, "the daemon is still running after them")
        c = Client(srv.connect(source="127.0.0.7"))
        c.line()
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "and that source can still log in")
        c.cmd("QUIT")
        c.close()
        t.ok("runtime error" not in srv.read_log(), "no sanitizer report in the log")
        t.eq(srv.stop(), 0, "clean stop")


def all_tests(t):
    body(t)
    endless_failures(t)


TAP().run(all_tests)
