# SPDX-License-Identifier: BSD-2-Clause
"""Logins under a pre-auth flood (issue 15), standalone, on loopback.

--max-preauth full of idle connections from many addresses: a new client
is still served, a login succeeds, and room is made by closing the
oldest unauthenticated connection of the source that holds the most,
which hears a fixed -ERR and gets a FIN (never a reset).  A logged-in
session is never closed for it; --max-sessions is a budget of its own;
--max-per-source still holds.  Under resource pressure (a lowered
RLIMIT_NOFILE, a cgroup pids limit) the listener answers what it can,
logs a bounded number of lines, and serves again when the pressure ends.
No assertion here is about time: deadlines only bound the waits."""
import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, make_cert, mbox, sample_messages  # noqa: E402

BUSY = b"-ERR [SYS/TEMP] Server busy"
FULL = b"-ERR [SYS/TEMP] Too many connections"


def wait_for(pred, limit=10):
    deadline = time.time() + limit
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def greeted(srv, source):
    c = Client(srv.connect(source=source))
    line = c.line()
    return c, line


def clean_close(c, limit=5):
    """The next thing is EOF (a FIN), not a reset and not silence."""
    c.s.settimeout(limit)
    try:
        while True:
            data = c.s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, socket.timeout, OSError):
        return False


def login(c, user="alice", pw="alice-secret"):
    c.cmd("USER " + user)
    return c.cmd("PASS " + pw)


def shedding(t):
    with Server(args=["--max-preauth", "20", "--max-per-source", "5"]) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.start()
        # 20 idle connections: 4 from 127.0.2.1, one each from 16 others
        held = {}
        ok = 0
        for i in range(4):
            c, line = greeted(srv, "127.0.2.1")
            ok += line.startswith(b"+OK")
            held.setdefault("127.0.2.1", []).append(c)
        for i in range(16):
            src = "127.0.3.%d" % (i + 1)
            c, line = greeted(srv, src)
            ok += line.startswith(b"+OK")
            held.setdefault(src, []).append(c)
        t.eq(ok, 20, "20 idle connections fill --max-preauth 20")
        # idle for a while: a leader long in its wait must still hear the listener
        time.sleep(1.5)

        c, line = greeted(srv, "127.0.0.9")
        t.ok(line.startswith(b"+OK"), "a fresh client is greeted with the budget full", line)
        t.ok(login(c).startswith(b"+OK"), "and logs in")
        t.ok(c.cmd("STAT").startswith(b"+OK 2 "), "STAT answered")
        t.ok(c.cmd("QUIT").startswith(b"+OK"), "QUIT")
        c.close()

        first = held["127.0.2.1"][0]
        line = first.line()
        t.ok(line.startswith(BUSY), "the oldest connection of the busiest source was told", line)
        t.ok(clean_close(first), "  and closed with a FIN, not a reset")
        others = [c for cs in held.values() for c in cs if c is not first]
        for c in others:
            c.s.setblocking(False)
        still = 0
        for c in others:
            try:
                still += c.s.recv(1) == b""
            except BlockingIOError:
                pass
        t.eq(still, 0, "no other connection was closed")

        # a connection that drips a partial line is evicted cleanly too
        for c in held["127.0.2.1"][1:]:
            c.s.setblocking(True)
            c.send(b"US")
        evicted = []
        # the first takes the slot the logged-in client left, three evict
        for i in range(4):
            c, line = greeted(srv, "127.0.4.%d" % (i + 1))
            t.ok(line.startswith(b"+OK"), "new client %d greeted" % (i + 1))
            others.append(c)
        for c in held["127.0.2.1"][1:]:
            try:
                line = c.line()
            except (EOFError, OSError) as e:
                line = repr(e).encode()
            evicted.append(line.startswith(BUSY) and clean_close(c))
        t.ok(all(evicted), "the busiest source (dripping bytes) lost its 3 others, cleanly", evicted)

        wait_for(lambda: srv.read_log().count("reason=evicted") >= 4)
        log = srv.read_log()
        ev = [ln for ln in log.splitlines() if "reason=evicted" in ln]
        t.eq(len(ev), 4, "one end line per evicted connection")
        t.ok(all("rip=127.0.2.1 " in ln and "state=pre-auth" in ln for ln in ev),
             "all from 127.0.2.1, all pre-auth", "\n".join(ev))

        # every source now holds one: the oldest of all goes next
        c, line = greeted(srv, "127.0.5.1")
        t.ok(line.startswith(b"+OK"), "with every source at one, a new client is served")
        oldest = held["127.0.3.1"][0]
        oldest.s.setblocking(True)
        t.ok(oldest.line().startswith(BUSY) and clean_close(oldest),
             "  and the oldest connection of all made room")
        for x in others + [c]:
            x.close()
        t.eq(srv.stop(), 0, "clean stop")


def sessions_budget(t):
    with Server(args=["--max-preauth", "6", "--max-sessions", "1"]) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.put_mailbox("bob", mbox(*sample_messages(1)))
        srv.start()
        a, _ = greeted(srv, "127.0.6.1")
        t.ok(login(a).startswith(b"+OK"), "alice logs in: the one session slot")
        flood = []
        for i in range(12):
            c, line = greeted(srv, "127.0.7.%d" % (i + 1))
            flood.append((c, line))
        t.ok(all(line.startswith(b"+OK") for _, line in flood),
             "12 unauthenticated connections through a budget of 6: all greeted")
        t.ok(a.cmd("STAT").startswith(b"+OK 2 "), "the logged-in session was never evicted")
        t.ok(a.cmd("NOOP").startswith(b"+OK"), "  and is still served")
        log = srv.read_log()
        sid = [ln for ln in log.splitlines() if "auth ok user=alice" in ln][0].split("session=")[1].split()[0]
        t.ok(("session=%s " % sid) not in "\n".join(ln for ln in log.splitlines() if "end " in ln),
             "no end line for alice's session yet")

        b, line = greeted(srv, "127.0.6.2")
        r = login(b, "bob", "bob secret")
        t.ok(r.startswith(b"-ERR [SYS/TEMP]"), "bob's login beyond --max-sessions 1: [SYS/TEMP]", r)
        t.ok(wait_for(lambda: 'reason="max-sessions"' in srv.read_log()), "  the refusal is logged")
        a.cmd("QUIT")
        a.close()
        t.ok(wait_for(lambda: "reason=quit" in srv.read_log()), "alice's session ended")
        # Her session counts until the listener has reaped it, which can
        # come after the end line: wait until her process is gone.
        apid = int([ln for ln in log.splitlines() if "auth ok user=alice" in ln][0]
                   .split("popa3d[")[1].split("]")[0])
        wait_for(lambda: not os.path.exists("/proc/%d" % apid))
        r = login(b, "bob", "bob secret")
        t.ok(r.startswith(b"+OK"), "bob tries again on the same connection: logged in", r)
        b.cmd("QUIT")
        b.close()
        for c, _ in flood:
            c.close()
        t.eq(srv.stop(), 0, "clean stop")


def per_source(t):
    with Server(args=["--max-preauth", "10", "--max-per-source", "3"]) as srv:
        srv.start()
        held = [greeted(srv, "127.0.8.1")[0] for _ in range(3)]
        c, line = greeted(srv, "127.0.8.1")
        t.ok(line.startswith(FULL), "4th from one source: refused, eviction does not lift it", line)
        t.ok(clean_close(c), "  with a clean close")
        # fill the rest, then the busiest source (3) loses one, not the new one
        more = [greeted(srv, "127.0.8.%d" % (2 + i))[0] for i in range(7)]
        c, line = greeted(srv, "127.0.8.20")
        t.ok(line.startswith(b"+OK"), "the 11th (new source) is served")
        t.ok(held[0].line().startswith(BUSY), "  the oldest of the source holding 3 made room")
        for x in held + more + [c]:
            x.close()
        srv.stop()


def nofile_pressure(t):
    """A listener out of descriptors: answered cleanly, no log storm, serves again."""
    hard = 48
    with Server(args=["--max-preauth", "100", "--max-per-source", "100"]) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(1)))

        def lower():
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        srv.port = fixture.free_port()
        cmd = [fixture.popa3d_binary(), "-D", "-F", "-l", "127.0.0.1:%d" % srv.port] + \
            srv.base_args() + srv.args
        srv.log = open(srv.log_path, "ab")
        srv.proc = subprocess.Popen(cmd, env=srv.env(), stdin=subprocess.DEVNULL,
                                    stdout=srv.log, stderr=srv.log, preexec_fn=lower)
        srv.wait_listening()
        t.ok(wait_for(lambda: "RLIMIT_NOFILE" in srv.read_log()),
             "start-up says RLIMIT_NOFILE is below what --max-preauth needs")
        held, refused, other = [], 0, []
        for i in range(70):
            try:
                c, line = greeted(srv, "127.0.9.%d" % (1 + i % 200))
            except (EOFError, OSError) as e:
                other.append(repr(e))
                continue
            if line.startswith(b"+OK"):
                held.append(c)
            elif line.startswith(FULL):
                refused += 1
                c.close()
            else:
                other.append(line)
        t.ok(len(held) > 10, "%d connections held with RLIMIT_NOFILE %d" % (len(held), hard))
        t.ok(refused > 0, "%d beyond the descriptor table refused with [SYS/TEMP]" % refused)
        t.eq(other, [], "nobody was left hanging or reset")
        time.sleep(1)
        log = srv.read_log()
        lines = [ln for ln in log.splitlines() if "pausing new connections" in ln]
        t.ok(1 <= len(lines) <= 3, "%d refusals logged in %d line(s), rate-limited"
             % (refused, len(lines)), "\n".join(lines[:5]))
        t.ok(all("Too many open files" in ln for ln in lines), "  naming the descriptor limit",
             "\n".join(lines[:5]))
        t.ok(srv.proc.poll() is None, "the listener is still running")
        for c in held:
            c.cmd("QUIT")
            c.close()
        ok = wait_for(lambda: greeted(srv, "127.0.0.1")[1].startswith(b"+OK"), 10)
        t.ok(ok, "when the descriptors come back, new connections are served")
        c, _ = greeted(srv, "127.0.0.1")
        t.ok(login(c).startswith(b"+OK"), "  and a login succeeds")
        c.cmd("QUIT")
        c.close()
        t.eq(srv.stop(), 0, "clean stop")


def pids_cgroup():
    base = "/sys/fs/cgroup/pids"
    if os.path.exists(os.path.join(base, "cgroup.procs")) and os.access(base, os.W_OK):
        return base, "pids.max"
    unified = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(unified, "cgroup.controllers")):
        try:
            with open(os.path.join(unified, "cgroup.subtree_control")) as f:
                if "pids" in f.read().split():
                    return unified, "pids.max"
        except OSError:
            pass
    return None, None


def pids_pressure(t):
    """Out of processes (a cgroup pids.max): refused cleanly, served again."""
    base, knob = pids_cgroup()
    if not base:
        t.ok(True, "pids limit # SKIP no writable pids cgroup")
        return
    cg = os.path.join(base, "popa3d-test-%d" % os.getpid())
    os.mkdir(cg)
    try:
        with Server(args=["--max-preauth", "100", "--max-per-source", "100"]) as srv:
            srv.put_mailbox("alice", mbox(*sample_messages(1)))
            srv.start()
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(srv.proc.pid))
            # the listener, then two processes per idle connection
            with open(os.path.join(cg, knob), "w") as f:
                f.write("9")
            held, refused, other = [], 0, []
            for i in range(8):
                try:
                    c, line = greeted(srv, "127.0.10.%d" % (i + 1))
                except (EOFError, OSError) as e:
                    other.append(repr(e))
                    continue
                if line.startswith(b"+OK"):
                    held.append(c)
                elif line.startswith(b"-ERR [SYS/TEMP]"):
                    refused += 1
                    c.close()
                else:
                    other.append(line)
            t.eq(len(held), 4, "pids.max 9: four idle connections served")
            t.eq(refused, 4, "  the next four refused with [SYS/TEMP]")
            t.eq(other, [], "  nobody left hanging or reset")
            time.sleep(0.5)
            forks = [ln for ln in srv.read_log().splitlines() if "fork" in ln and "pausing" in ln]
            t.ok(1 <= len(forks) <= 2, "fork failures logged in %d rate-limited line(s)" % len(forks),
                 srv.read_log()[-2000:])
            t.ok(srv.proc.poll() is None, "the listener is still running")
            for c in held:
                c.close()
            ok = wait_for(lambda: greeted(srv, "127.0.0.1")[1].startswith(b"+OK"), 10)
            t.ok(ok, "with processes back, new connections are served")
            c, _ = greeted(srv, "127.0.0.1")
            t.ok(login(c).startswith(b"+OK"), "  and a login succeeds")
            c.cmd("QUIT")
            c.close()
            t.eq(srv.stop(), 0, "clean stop")
    finally:
        try:
            with open(os.path.join(cg, "cgroup.procs")) as f:
                left = f.read().split()
            with open(os.path.join(base, "cgroup.procs"), "w") as f:
                for pid in left:
                    try:
                        f.write(pid + "\n")
                        f.flush()
                    except OSError:
                        pass
        except OSError:
            pass
        try:
            os.rmdir(cg)
        except OSError:
            pass


def tls_channels(t):
    """Every connection, logged in or not, holds a channel to the TLS key
    holder until its handshake: the holder must have room for both
    budgets, not only --max-sessions."""
    if not fixture.built_with("HAVE_TLS"):
        t.skip("the key holder's channels for both budgets", "built without TLS")
        return
    d = tempfile.mkdtemp(prefix="popa3d-flood-tls-")
    try:
        cert, key = make_cert(d)
        with Server(args=["--max-preauth", "40", "--max-sessions", "1",
                          "--tls-cert", cert, "--tls-key", key]) as srv:
            srv.put_mailbox("alice", mbox(*sample_messages(2)))
            srv.start()
            held = [greeted(srv, "127.0.9.%d" % (i + 1)) for i in range(30)]
            t.ok(all(line.startswith(b"+OK") for _, line in held),
                 "30 idle connections on a TLS server with --max-sessions 1: all greeted")
            c, line = greeted(srv, "127.0.9.100")
            r = c.cmd("STLS")
            try:
                ctx = ssl.create_default_context(cafile=cert)
                tc = Client(ctx.wrap_socket(c.s, server_hostname="localhost"))
                r2 = login(tc)
            except (ssl.SSLError, OSError) as e:
                tc, r2 = None, repr(e).encode()
            t.ok(r.startswith(b"+OK") and r2.startswith(b"+OK"),
                 "the 31st connection: STLS handshake (the key holder signs) and login", (r, r2))
            if tc:
                tc.cmd("QUIT")
                tc.close()
            for x, _ in held:
                x.close()
            t.eq(srv.stop(), 0, "clean stop")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def all_tests(t):
    fixture.require_root(t)
    shedding(t)
    sessions_budget(t)
    per_source(t)
    tls_channels(t)
    nofile_pressure(t)
    pids_pressure(t)


TAP().run(all_tests)
