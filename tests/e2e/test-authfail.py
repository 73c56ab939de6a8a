# SPDX-License-Identifier: BSD-2-Clause
"""Failed logins look alike (issue 14): every refusal class gets the same
reply, the reason only in the log, and libpam's own failure delay is taken
over by the daemon.  The PAM stack asks libpam for a 300 s failure delay
(pam_faildelay): were it slept in the auth helper, the helper would be
killed at --auth-timeout and the client would read [SYS/TEMP] instead of
[AUTH].  No assertion here is about time; the bench (bench/authtiming)
measures the distributions."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server  # noqa: E402

FAILED = b"-ERR [AUTH] Authentication failed.\r\n"


def attempt(srv, source, user, password):
    return fixture.pass_reply(srv, user, password, source=source)


def body(t):
    fixture.require_root(t)
    if not fixture.built_with("HAVE_PAM"):
        t.skip_all("built without PAM")
    faildelay = fixture.find_lib("pam_faildelay.so")
    succeed_if = fixture.find_lib("pam_succeed_if.so")
    if not faildelay or not succeed_if:
        t.skip_all("pam_faildelay/pam_succeed_if not found (libpam-modules)")
    users = {"alice": "alice-secret", "erin": "erin-secret"}
    srv = Server(users=users, args=["--fail-delay", "200", "--auth-timeout", "5",
                                    "--max-failures", "10"])
    with srv:
        matrix = fixture.find_lib("pam_matrix.so")
        with open(os.path.join(srv.pamdir, "popa3d"), "w") as f:
            f.write("auth optional %s delay=300000000\n"
                    "auth required %s passdb=%s\n"
                    "account required %s quiet user notin erin\n"
                    "account required %s passdb=%s\n"
                    % (faildelay, matrix, srv.passdb, succeed_if, matrix, srv.passdb))
        # a system account below --min-uid and root, both with passwords PAM accepts
        with open(srv.passwd_file, "a") as f:
            f.write("sysacct:x:500:500:sys:/nonexistent:/bin/sh\n")
        with open(srv.passdb, "a") as f:
            f.write("sysacct:sys-secret:popa3d\nroot:root-secret:popa3d\n")
        srv.put_mailbox("alice", b"")
        srv.start()

        cases = [("unknown user", "nosuchuser", "whatever", "authentication failure"),
                 ("wrong password", "alice", "wrong", "authentication failure"),
                 ("right password, account refused by PAM", "erin", "erin-secret",
                  "account expired or refused"),
                 ("right password, root", "root", "root-secret", "root may not log in"),
                 ("right password, uid below --min-uid", "sysacct", "sys-secret",
                  "uid below --min-uid")]
        replies = {}
        for i, (name, user, pw, reason) in enumerate(cases):
            r = attempt(srv, "127.0.0.%d" % (10 + i), user, pw)
            replies[name] = r
            t.eq(r, FAILED, "%s: the one failure reply" % name)
            t.ok('auth failure user=%s ' % user in srv.read_log() and
                 'reason="%s"' % reason in srv.read_log(),
                 "%s: the reason is logged (%s)" % (name, reason), srv.read_log())
        t.eq(len(set(replies.values())), 1, "every class: byte-identical reply")
        t.ok("SYS/TEMP" not in "".join(r.decode() for r in replies.values()),
             "libpam's 300 s failure delay was never slept (no helper time-out)")
        t.ok("auth ok" not in srv.read_log(), "no refused account produced an auth ok line")
        t.ok("did not exit" not in srv.read_log() and "timed out" not in srv.read_log(),
             "no auth helper was killed", srv.read_log())
        r = attempt(srv, "127.0.0.20", "alice", "alice-secret")
        t.ok(r.startswith(b"+OK"), "the right password of a good account still logs in", r)
        srv.stop()

    # A backend slower than --fail-delay (pam_exec running sleep 1 with a
    # 300 ms deadline) cannot answer at the deadline: it is answered at a
    # later multiple of it, and the log tells the administrator.
    pam_exec = fixture.find_lib("pam_exec.so")
    if not pam_exec:
        t.ok(True, "slow backend # SKIP pam_exec not found")
        return
    srv = Server(users=users, args=["--fail-delay", "300", "--max-failures", "10"])
    with srv:
        matrix = fixture.find_lib("pam_matrix.so")
        with open(os.path.join(srv.pamdir, "popa3d"), "w") as f:
            f.write("auth optional %s quiet /bin/sleep 1\n"
                    "auth required %s passdb=%s\naccount required %s passdb=%s\n"
                    % (pam_exec, matrix, srv.passdb, matrix, srv.passdb))
        srv.start()
        r = attempt(srv, "127.0.0.21", "alice", "wrong")
        t.eq(r, FAILED, "slow backend: the same failure reply")
        t.ok("authentication took longer than --fail-delay" in srv.read_log(),
             "slow backend: the log says the deadline is too short", srv.read_log())
        srv.stop()


TAP().run(body)
