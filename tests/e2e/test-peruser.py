# SPDX-License-Identifier: BSD-2-Clause
"""Per-user limits in standalone mode (issue 14):

* the per-source failed-login penalty is not erased by a success that
  proves nothing about the names that failed: one known account must not
  buy guesses on others, in the same connection or in the next ones; a
  success still forgives the failures of its own account (a typo);
* --max-per-user: an account's sessions are capped across all sources,
  the one over the cap gets -ERR [IN-USE] and one log line.

The penalty is observed through the leader's log line that names the
penalty it waits before the first authentication, never by timing."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, mbox, sample_messages  # noqa: E402

USERS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}


def session(srv, source, steps, quit=True):
    """One connection; steps: [(user, password)], the last usually right.
    Returns (client, the PASS replies)."""
    c = Client(srv.connect(source=source, timeout=60))
    c.line()
    replies = []
    for user, pw in steps:
        c.cmd("USER " + user)
        replies.append(c.cmd("PASS " + pw))
    if quit:
        try:
            c.cmd("QUIT")
        except (OSError, EOFError):
            pass                # closed after --max-failures
        c.close()
        time.sleep(0.3)         # the listener reaps the leader
    return c, replies


def penalties(srv, source):
    return [int(m) for m in re.findall(r"rip=%s penalty=(\d+) ms" % re.escape(source),
                                       srv.read_log())]


def penalty_tests(t):
    with Server(users=USERS, args=["--max-failures", "3", "--penalty-max", "2000"]) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(1)))
        srv.start()

        # The pattern of the review: two guesses on other accounts, then
        # the attacker's own account, in one connection.
        _, r = session(srv, "127.0.0.30", [("bob", "guess1"), ("carol", "guess2"),
                                           ("alice", "alice-secret")])
        t.ok(r[-1].startswith(b"+OK"), "guesses on bob and carol, then alice logs in", r)
        session(srv, "127.0.0.30", [("alice", "alice-secret")])
        t.eq(penalties(srv, "127.0.0.30"), [2000],
             "the next connection waits the penalty: that success proved nothing about bob or carol")

        # Across connections: failures on bob, then clean logins as alice.
        session(srv, "127.0.0.31", [("bob", "g1"), ("bob", "g2"), ("bob", "g3")])
        session(srv, "127.0.0.31", [("alice", "alice-secret")])
        _, r = session(srv, "127.0.0.31", [("alice", "alice-secret")])
        t.ok(r[-1].startswith(b"+OK"), "alice logs in from 127.0.0.31", r)
        t.eq(penalties(srv, "127.0.0.31"), [2000, 2000],
             "a clean alice login does not erase the penalty earned on bob")

        # A typo on one's own account is forgiven by the right password.
        session(srv, "127.0.0.32", [("alice", "typo"), ("alice", "alice-secret")])
        session(srv, "127.0.0.32", [("alice", "alice-secret")])
        t.eq(penalties(srv, "127.0.0.32"), [], "a typo then the right password: no penalty")
        session(srv, "127.0.0.33", [("alice", "t1"), ("alice", "t2"), ("alice", "t3")])
        session(srv, "127.0.0.33", [("alice", "alice-secret")])
        session(srv, "127.0.0.33", [("alice", "alice-secret")])
        t.eq(penalties(srv, "127.0.0.33"), [2000],
             "failures on alice only: alice's login clears them")
        t.eq(srv.stop(), 0, "clean stop")


def cap_tests(t):
    with Server(users=USERS, args=["--max-per-user", "2", "--penalty-max", "0",
                                   "--mailbox", "maildir:%h/Maildir"]) as srv:
        for u in ("alice", "bob"):
            for sub in ("cur", "new", "tmp"):
                d = os.path.join(srv.home, u, "Maildir", sub)
                os.makedirs(d)
            for root, dirs, _ in os.walk(os.path.join(srv.home, u, "Maildir")):
                os.chown(root, srv.uids[u], srv.uids[u])
        srv.start()
        held = []
        for i, src in enumerate(("127.0.0.40", "127.0.0.41")):
            c, r = session(srv, src, [("alice", "alice-secret")], quit=False)
            t.ok(r[0].startswith(b"+OK"), "alice's session %d of 2 from %s" % (i + 1, src), r)
            held.append(c)
        c, r = session(srv, "127.0.0.42", [("alice", "alice-secret")], quit=False)
        t.ok(r[0].startswith(b"-ERR [IN-USE]"), "a third alice session, from a third address: "
             "-ERR [IN-USE]", r)
        t.ok(c.closed(), "and the connection is closed")
        c.close()
        log = srv.read_log().splitlines()
        lines = [ln for ln in log if "max-per-user" in ln and "auth refused" in ln]
        t.eq(len(lines), 1, "one log line for the refusal")
        ends = [ln for ln in log if "max-per-user" in ln and "end session=" in ln]
        t.ok(len(ends) == 1 and "reason=refused" in ends[0] and "rip=127.0.0.42" in ends[0],
             "and one end line: reason=refused, detail max-per-user", ends)
        t.ok(lines and "user=alice" in lines[0] and "rip=127.0.0.42" in lines[0],
             "it names the user and the source", lines)
        c, r = session(srv, "127.0.0.42", [("bob", "bob-secret")])
        t.ok(r[0].startswith(b"+OK"), "bob is not capped by alice's sessions", r)
        held[0].cmd("QUIT")
        held[0].close()
        time.sleep(0.3)
        c, r = session(srv, "127.0.0.42", [("alice", "alice-secret")])
        t.ok(r[0].startswith(b"+OK"), "after one of alice's sessions ends, she gets in again", r)
        held[1].cmd("QUIT")
        held[1].close()
        t.ok("auth failure" not in srv.read_log(), "the refusal is not a failed login")
        t.eq(srv.stop(), 0, "clean stop")


def all_tests(t):
    fixture.require_root(t)
    penalty_tests(t)
    cap_tests(t)


TAP().run(all_tests)
