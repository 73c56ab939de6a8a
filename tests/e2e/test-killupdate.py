# SPDX-License-Identifier: BSD-2-Clause
"""kill -9 of a session in UPDATE, against the real daemon: what the
mailbox is right after the kill, and after the next login, which
finishes the interrupted UPDATE from the record the session kept in the
file's user.popa3d.update attribute (mbox/update.c).

a. kill -9 of the session process at random moments of UPDATE: a ~20 MB
   mailbox of 2000 messages, DELE 1, QUIT, SIGKILL after a random delay
   drawn from [0, 1.2 x the measured length of an UPDATE], the range then
   shrinking when kills come too late; at least 100 rounds
   (KILL_ITERATIONS) and on until 100 kills came before QUIT was answered
   (at most 300 rounds).  The mailbox is reset from the template each time (so
   every kill is judged against one known old and one known new layout).
   Right after each kill, what the rewrite itself guarantees (doc/mbox.md):
   the file is the new layout up to some offset k and the old file from k
   on (a duplicated span, never a missing byte), at most one kept message
   whole in neither layout.  Then, in every other round, a message is
   appended (an MTA delivering between the kill and the next login), and
   the next login finishes the interrupted UPDATE from the record the
   session kept in the file's user.popa3d.update attribute (mbox/update.c):
   it is +OK, its UIDL is exactly the kept messages' ids (plus the new
   one), and the file is then byte for byte the new layout (plus the
   appended message) -- or the old one if the kill came before the
   UPDATE wrote its first record.  A forged record (garbage in the
   attribute) is dropped at login with one log line, the mailbox left
   byte for byte.  The spool is a tmpfs when one can be
   mounted (fsync is then free and the random delays land in the copy,
   not in the disk flush).
w. More deletion runs than one record holds: a ~14 MB mailbox of 6000
   messages, every 2nd (3000 runs) or every 3rd (2000 runs) deleted with
   pipelined DELEs, QUIT, SIGKILL after a random delay over the whole
   UPDATE (a third of the rounds in its first quarter, where more runs
   are left than the record's window holds), mail appended in every
   other round.  After the next login the maildrop must be the old one
   minus the deleted messages up to some point, in order (the
   deletions past the window the record held are undone, never a kept
   message lost or doubled), byte for byte, plus the appended message;
   every resume that undid deletions says so in one log line, and no
   other does.  WINDOW_ROUNDS (default 30) sets the rounds.
Every loop is bounded; nothing asserts a duration.
"""
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
from fixture import Server, wire  # noqa: E402
from faultlib import (big_message, gone, login, mount_tmpfs, record,  # noqa: E402
                      run_parts, session_pid, small_message, splice_point, umount)

KILL_ITERATIONS = int(os.environ.get("KILL_ITERATIONS", "100"))
WINDOW_ROUNDS = int(os.environ.get("WINDOW_ROUNDS", "30"))
UR_XATTR = "user.popa3d.update"


def has_record(path):
    try:
        os.getxattr(path, UR_XATTR)
        return True
    except OSError:
        return False


def user_xattrs(t, d):
    """Whether d takes user attributes (tmpfs: from Linux 6.6 on)."""
    probe = os.path.join(d, ".xattr-probe")
    with open(probe, "wb"):
        pass
    try:
        os.setxattr(probe, "user.popa3d.probe", b"1")
        return True
    except OSError as e:
        t.diag("no user attributes on the spool (%s): next-login checks skipped" % e)
        return False
    finally:
        os.unlink(probe)


def dele_all(c, dels):
    """Pipelined DELEs: all sent at once, then every answer read."""
    c.s.sendall(b"".join(b"DELE %d\r\n" % (i + 1) for i in dels))
    return all(c.line().startswith(b"+OK") for _ in dels)


def update_lengths(srv, user, reset, dels, new):
    """Three uninterrupted DELE + QUIT from reset(): how long each QUIT
    took to be answered (for the kill delays), or None if one did not
    leave `new`."""
    lengths = []
    for _ in range(3):
        reset()
        c, r0 = login(srv, user)
        dele_all(c, dels)
        t0 = time.monotonic()
        r1 = c.cmd("QUIT")
        lengths.append(time.monotonic() - t0)
        c.close()
        if not r1.startswith(b"+OK") or srv.get_mailbox(user) != new:
            return None
    return lengths


# ------------------------------------------------------------------ a
def part_kill(t):
    n = 2000
    r = random.Random(7)
    msgs = [big_message("k", i, r.choice([2000, 6000, 10000, 14000, 18000]))
            for i in range(1, n + 1)]
    recs = [record(m) for m in msgs]
    old = b"".join(recs)
    new = b"".join(recs[1:])
    t.diag("kill -9 during UPDATE: %d messages, %d bytes; message 1 (%d bytes) deleted"
           % (n, len(old), len(recs[0])))
    # spans of each kept message in both layouts
    oldpos, newpos = [], []
    o = len(recs[0])
    w = 0
    for rec in recs[1:]:
        oldpos.append((o, o + len(rec)))
        newpos.append((w, w + len(rec)))
        o += len(rec)
        w += len(rec)

    with Server(users={"k": "kill-pw"}) as srv:
        ok, err = mount_tmpfs(srv.spool, "size=96m,mode=755")
        t.diag("spool on tmpfs" if ok else "spool on disk (tmpfs: %s)" % err)
        try:
            srv.start()
            path = srv.mailbox_path("k")
            # the journal needs user attributes on the spool (tmpfs has
            # them from Linux 6.6 on); without, only the old guarantee
            journal = user_xattrs(t, srv.spool)

            def reset():
                srv.put_mailbox("k", old)
                past = time.time() - 100
                os.utime(path, (past, past))   # no wait for the next second in UPDATE

            # the original ids, through the daemon
            reset()
            c, r0 = login(srv, "k")
            t.eq(r0, b"+OK %d messages (%d octets)\r\n" % (n, sum(len(wire(m)) for m in msgs)),
                 "template mailbox opens: %d messages" % n)
            c.cmd("UIDL")
            ids = [ln.split()[1] for ln in c.multiline().split(b"\r\n")[:-1]]
            c.cmd("QUIT")
            c.close()
            t.eq(len(set(ids)), n, "template: %d distinct UIDLs" % n)
            kept_ids = ids[1:]

            # how long an UPDATE takes here
            lengths = update_lengths(srv, "k", reset, [0], new)
            if not lengths:
                t.ok(False, "uninterrupted UPDATE gives the new layout")
                return
            span = sorted(lengths)[1] * 1.2
            t.diag("uninterrupted DELE 1 + QUIT: %s s; kill delays drawn from [0, %.4f] s"
                   % (" ".join("%.4f" % x for x in lengths), span))

            outcome = {"untouched": 0, "mid-copy": 0, "done": 0}
            broken, unparsed, wrong = [], [], []
            inflight = 0
            killed = 0
            resumed = 0
            # at least KILL_ITERATIONS rounds, and on until that many kills
            # came before the QUIT was answered (at most 3x the rounds);
            # the delay range follows where the kills land
            it = -1
            interrupted = 0
            while it + 1 < KILL_ITERATIONS or (interrupted < KILL_ITERATIONS
                                                and it + 1 < 3 * KILL_ITERATIONS):
                it += 1
                reset()
                c, r0 = login(srv, "k")
                if not r0.startswith(b"+OK"):
                    unparsed.append("iteration %d: login before the kill: %r" % (it, r0))
                    c.close()
                    continue
                pid = session_pid(srv, "k")
                c.cmd("DELE 1")
                delay = random.uniform(0, span)
                c.s.sendall(b"QUIT\r\n")
                time.sleep(delay)
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed += 1
                    except ProcessLookupError:
                        pass
                    gone(pid)
                answered = c.rest(timeout=10).startswith(b"+OK")
                c.close()
                if not answered:
                    interrupted += 1
                got = srv.get_mailbox("k")
                k = splice_point(got, old, new)
                if k is None:
                    broken.append("iteration %d (delay %.4f): %d bytes, not new[:k] + old[k:]"
                                  % (it, delay, len(got)))
                    continue
                if got == old:
                    outcome["untouched"] += 1
                    span = min(span * 1.1, 1.0)
                elif got == new:
                    outcome["done"] += 1
                    if answered:
                        span = max(span * 0.9, 0.0005)
                else:
                    outcome["mid-copy"] += 1
                # kept messages whole in neither layout: at most the one in flight
                split = [i for i in range(n - 1)
                         if not (newpos[i][1] <= k or oldpos[i][0] >= k)]
                if len(split) > 1:
                    broken.append("iteration %d: k=%d leaves %d kept messages whole nowhere"
                                  % (it, k, len(split)))
                inflight += len(split)
                rec = has_record(path)
                resumed += rec
                # the UPDATE began once it wrote a record (or finished)
                began = rec or got == new
                extra = b""
                if it % 2:
                    extra = record(small_message("late", it))
                    with open(path, "ab") as f:
                        f.write(extra)
                past = time.time() - 100
                os.utime(path, (past, past))   # the login comes later
                c, r1 = login(srv, "k")
                if not r1.startswith(b"+OK"):
                    unparsed.append("iteration %d: next login %r" % (it, r1))
                    c.close()
                    continue
                c.cmd("UIDL")
                listed = [ln.split()[1] for ln in c.multiline().split(b"\r\n")[:-1]]
                c.cmd("QUIT")
                c.close()
                if not journal:
                    continue
                want_ids = kept_ids if began else ids
                want = (new if began else old) + extra
                if listed[:len(want_ids)] != want_ids or \
                        len(listed) != len(want_ids) + (1 if extra else 0):
                    wrong.append("iteration %d: k=%d, record %s: UIDL of %d ids, not the %d "
                                 "intended" % (it, k, rec, len(listed),
                                               len(want_ids) + (1 if extra else 0)))
                elif srv.get_mailbox("k") != want:
                    wrong.append("iteration %d: k=%d, record %s: file not the intended one"
                                 % (it, k, rec))
            t.diag("%d rounds; SIGKILL reached a live session %d times, %d before QUIT was "
                   "answered; final delay range [0, %.4f] s" % (it + 1, killed, interrupted, span))
            t.diag("kills: %s; kept messages whole in neither layout right after the kill: %d; "
                   "records finished at the next login: %d" % (outcome, inflight, resumed))
            t.eq(broken, [], "%d rounds of kill -9: right after it the file is new[:k] + old[k:] "
                 "(no byte of a kept message lost), at most one kept message whole in neither "
                 "layout" % (it + 1))
            t.eq(unparsed, [], "after every kill the next session opens the mailbox (+OK)")
            t.eq(wrong, [], "after every kill the next login finishes the UPDATE: exactly the "
                 "kept messages (and the mail appended since), 0 lost, 0 duplicated, 0 torn")
            t.ok(not journal or outcome["mid-copy"] == 0 or resumed > 0,
                 "kills in the middle of the copy left a record (%d of them)" % outcome["mid-copy"])
            # a record that does not describe the file (garbage, or one a
            # user set by hand) is dropped with one log line; nothing moves
            reset()
            if not journal:
                t.eq(srv.stop(), 0, "daemon still fine after %d killed sessions" % killed)
                return
            # and so is a record of the previous format (P3U1)
            for magic, what in ((b"P3U2", "a forged record"),
                                (b"P3U1", "a record of the previous version")):
                before_log = srv.read_log().count("update record discarded")
                os.setxattr(path, "user.popa3d.update", magic + bytes(range(200)))
                c, r2 = login(srv, "k")
                c.cmd("QUIT")
                c.close()
                t.ok(r2.startswith(b"+OK") and srv.get_mailbox("k") == old
                     and not has_record(path),
                     "%s: login +OK, record removed, mailbox byte for byte as it was" % what)
                t.eq(srv.read_log().count("update record discarded") - before_log, 1,
                     "%s: one log line" % what)
            t.eq(srv.stop(), 0, "daemon still fine after %d killed sessions" % killed)
        finally:
            srv.stop()
            if ok:
                umount(srv.spool)


# ------------------------------------------------------------------ w
WINDOW_LOG = "beyond its record's window"


def uidl(c):
    c.cmd("UIDL")
    return [ln.split()[1] for ln in c.multiline().split(b"\r\n")[:-1]]


def part_window(t):
    n = 6000
    r = random.Random(11)
    msgs = [big_message("w", i, r.choice([1200, 2400, 3600])) for i in range(1, n + 1)]
    recs = [record(m) for m in msgs]
    old = b"".join(recs)
    patterns = [[i for i in range(n) if i % 2 == 0], [i for i in range(n) if i % 3 == 0]]
    with Server(users={"w": "window-pw"}) as srv:
        ok, err = mount_tmpfs(srv.spool, "size=96m,mode=755")
        t.diag("spool on tmpfs" if ok else "spool on disk (tmpfs: %s)" % err)
        try:
            srv.start()
            path = srv.mailbox_path("w")
            if not user_xattrs(t, srv.spool):
                t.eq(srv.stop(), 0, "many runs: skipped (no user attributes), clean stop")
                return

            def reset():
                srv.put_mailbox("w", old)
                past = time.time() - 100
                os.utime(path, (past, past))

            reset()
            c, r0 = login(srv, "w")
            ids = uidl(c)
            c.cmd("QUIT")
            c.close()
            t.eq(len(set(ids)), n, "many runs: template of %d messages, distinct UIDLs" % n)

            # how long each pattern's UPDATE takes here
            spans = []
            for dels in patterns:
                gone_set = set(dels)
                new = b"".join(recs[i] for i in range(n) if i not in gone_set)
                lengths = update_lengths(srv, "w", reset, dels, new)
                if not lengths:
                    t.ok(False, "many runs: uninterrupted UPDATE gives the new layout")
                    return
                spans.append(sorted(lengths)[1] * 1.2)
            t.diag("many runs: %d and %d deletion runs; kill delays drawn from [0, %s] s"
                   % (len(patterns[0]), len(patterns[1]),
                      " / ".join("%.4f" % s for s in spans)))

            wrong, unopened = [], []
            tally = {"all done": 0, "undone past the window": 0, "untouched": 0}
            undone_with_record = 0
            log0 = srv.read_log().count(WINDOW_LOG)
            for it in range(WINDOW_ROUNDS):
                kind = it % 2
                dels = patterns[kind]
                reset()
                c, r0 = login(srv, "w")
                pid = session_pid(srv, "w")
                if not r0.startswith(b"+OK") or not pid or not dele_all(c, dels):
                    unopened.append("round %d: login or DELE failed" % it)
                    c.close()
                    continue
                span = spans[kind] * (0.25 if it % 3 == 0 else 1.0)
                delay = random.uniform(0, span)
                c.s.sendall(b"QUIT\r\n")
                time.sleep(delay)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                gone(pid)
                c.close()
                rec = has_record(path)
                extra = b""
                if it % 2:
                    extra = record(small_message("wlate", it))
                    with open(path, "ab") as f:
                        f.write(extra)
                past = time.time() - 100
                os.utime(path, (past, past))
                c, r1 = login(srv, "w")
                if not r1.startswith(b"+OK"):
                    unopened.append("round %d: next login %r" % (it, r1))
                    c.close()
                    continue
                listed = uidl(c)
                c.cmd("QUIT")
                c.close()
                # the deletions done must be those up to some message
                present = set(listed)
                cut = next((i for i in dels if ids[i] in present), n)
                gone_set = set(i for i in dels if i < cut)
                kept = [i for i in range(n) if i not in gone_set]
                want_ids = [ids[i] for i in kept]
                want = b"".join(recs[i] for i in kept) + extra
                if listed[:len(want_ids)] != want_ids or \
                        len(listed) != len(want_ids) + (1 if extra else 0):
                    wrong.append("round %d (delay %.4f): UIDL of %d ids, not the old ones "
                                 "minus deletions up to message %d" % (it, delay, len(listed), cut))
                elif srv.get_mailbox("w") != want:
                    wrong.append("round %d (delay %.4f): file not the old one minus deletions "
                                 "up to message %d" % (it, delay, cut))
                if cut == n:
                    tally["all done"] += 1
                elif cut == dels[0]:
                    tally["untouched"] += 1
                else:
                    tally["undone past the window"] += 1
                undone_with_record += rec and cut < n
            lines = srv.read_log().count(WINDOW_LOG) - log0
            t.diag("many runs: %d rounds: %s" % (WINDOW_ROUNDS, tally))
            t.eq(unopened, [], "many runs: every session opened, deleted and logged in again")
            t.eq(wrong, [], "many runs: after every kill the next login leaves the old maildrop "
                 "minus the deletions up to some message, byte for byte, plus the mail "
                 "appended: 0 lost, 0 duplicated, 0 torn")
            t.eq(lines, undone_with_record, "many runs: one log line for each resume that "
                 "kept deletions past its record's window, and for no other")
            t.eq(srv.stop(), 0, "many runs: daemon still fine")
        finally:
            srv.stop()
            if ok:
                umount(srv.spool)


TAP().run(lambda t: run_parts(t, (("a", part_kill), ("w", part_window))))
