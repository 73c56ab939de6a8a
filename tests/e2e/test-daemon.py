# SPDX-License-Identifier: BSD-2-Clause
"""The daemon end to end: start-up errors, greeting, a whole session with
python's poplib, byte-exact retrieval, UPDATE, authentication failures,
clean stop by PID."""
import os
import poplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, mbox, sample_messages, wire  # noqa: E402


def startup_errors(t, srv):
    bin_ = fixture.popa3d_binary()
    r = subprocess.run([bin_, "-V"], capture_output=True, text=True)
    t.ok(r.returncode == 0 and r.stdout.startswith("popa3d "), "-V prints the version, exit 0")
    r = subprocess.run([bin_, "--bogus"], capture_output=True, text=True)
    t.ok(r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "--bogus" in r.stderr,
         "unknown option: exit 1, one line naming it", r.stderr)
    r = subprocess.run([bin_, "-D", "-F", "--timeout", "abc"], capture_output=True, text=True)
    t.ok(r.returncode == 1 and "--timeout" in r.stderr, "bad number: exit 1", r.stderr)
    r = subprocess.run([bin_, "-D", "-F", "-l", "127.0.0.1:1", "--user", "no-such-user-xyz",
                        "--empty-dir", srv.empty], capture_output=True, text=True, env=srv.env())
    t.ok(r.returncode == 1 and "no-such-user-xyz" in r.stderr, "missing pre-auth user: exit 1", r.stderr)
    r = subprocess.run([bin_, "-D", "-F", "-l", "127.0.0.1:1", "--user", "popa3d-test",
                        "--empty-dir", srv.spool + "/nonexistent"], capture_output=True, text=True,
                       env=srv.env())
    t.ok(r.returncode == 1 and "--empty-dir" in r.stderr, "missing empty dir: exit 1", r.stderr)
    # read once at start (each pre-auth child then only checks owner and mode)
    planted = os.path.join(srv.empty, "planted")
    with open(planted, "w") as f:
        f.write("x")
    try:
        r = subprocess.run([bin_, "-D", "-F", "-l", "127.0.0.1:1", "--user", "popa3d-test",
                            "--empty-dir", srv.empty], capture_output=True, text=True,
                           env=srv.env())
    finally:
        os.unlink(planted)
    t.ok(r.returncode == 1 and "must be empty" in r.stderr and srv.empty in r.stderr,
         "non-empty empty dir: exit 1, names it", r.stderr)
    r = subprocess.run([bin_, "-D", "-F"], capture_output=True, text=True,
                       preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)))
    t.ok(r.returncode == 1 and "root" in r.stderr, "started as non-root: exit 1, says why", r.stderr)


def body(t):
    fixture.require_root(t)
    with Server() as srv:
        startup_errors(t, srv)
        msgs = sample_messages(3)
        srv.put_mailbox("alice", mbox(*msgs))
        srv.start()
        t.ok(True, "daemon started and listens on 127.0.0.1:%d" % srv.port)

        c = Client(srv.connect())
        greet = c.line()
        t.ok(greet.startswith(b"+OK") and greet.endswith(b"\r\n"), "greeting +OK", greet)
        c.close()

        p = poplib.POP3(srv.host, srv.port, timeout=20)
        t.ok(p.getwelcome().startswith(b"+OK"), "poplib greeting")
        p.user("alice")
        resp = p.pass_("alice-secret")
        t.ok(resp.startswith(b"+OK"), "poplib login", resp)
        count, size = p.stat()
        t.eq(count, 3, "STAT count")
        t.eq(size, sum(len(wire(m)) for m in msgs), "STAT size is the CRLF octet count")
        for i, m in enumerate(msgs, 1):
            resp, lines, octets = p.retr(i)
            got = b"\r\n".join(lines) + b"\r\n"
            t.eq(got, wire(m), "RETR %d byte-exact" % i)
        uidl = p.uidl()
        ids = [l.split()[1] for l in uidl[1]]
        t.ok(len(ids) == 3 and len(set(ids)) == 3, "UIDL: three distinct ids", ids)
        p.dele(2)
        p.quit()
        after = srv.get_mailbox("alice")
        t.eq(after, mbox(msgs[0], msgs[2]), "DELE 2 + QUIT removed exactly message 2")

        p = poplib.POP3(srv.host, srv.port, timeout=20)
        p.user("alice")
        p.pass_("alice-secret")
        ids2 = [l.split()[1] for l in p.uidl()[1]]
        t.eq(ids2, [ids[0], ids[2]], "UIDLs stable across sessions and deletions")
        p.dele(1)
        p.close()   # no QUIT: nothing may be removed
        time.sleep(0.3)
        t.eq(srv.get_mailbox("alice"), mbox(msgs[0], msgs[2]),
             "connection dropped after DELE: nothing removed")

        # authentication failures look alike
        c = Client(srv.connect())
        c.line()
        t.ok(c.cmd("USER nosuchuser").startswith(b"+OK"), "USER of an unknown name: +OK")
        unknown = c.cmd("PASS whatever")
        t.ok(c.cmd("USER alice").startswith(b"+OK"), "USER alice: +OK")
        wrong = c.cmd("PASS wrong")
        t.ok(unknown.startswith(b"-ERR [AUTH]"), "unknown user: -ERR [AUTH]", unknown)
        t.eq(unknown, wrong, "unknown user and wrong password get the same answer")
        c.close()

        # a name no account can have is an ordinary failed login, and the
        # connection goes on (not a hang-up by a leader seeing a bad frame)
        c = Client(srv.connect())
        c.line()
        c.cmd("USER a/b:c")
        t.ok(c.cmd("PASS x").startswith(b"-ERR [AUTH]"), "user name with '/' and ':': -ERR [AUTH]")
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "same connection: a good login still works")
        c.cmd("QUIT")
        c.close()

        # the log names failures with the peer, never the password
        time.sleep(0.2)
        log = srv.read_log()
        t.ok("auth failure user=nosuchuser rip=127.0.0.1" in log, "failure logged with user and rip", log)
        t.ok("auth ok user=alice rip=127.0.0.1" in log, "success logged", log)
        t.ok("alice-secret" not in log and "whatever" not in log, "no password in the log")

        rc = srv.stop()
        t.eq(rc, 0, "SIGTERM: exit 0")
        t.ok(not fixture.listening(srv.host, srv.port), "no longer listening after stop")


TAP().run(body)
