# SPDX-License-Identifier: BSD-2-Clause
"""PAM modules preloaded in the listener (issue 19, DESIGN "Work done once
in the listener"), with the real daemon and pam_matrix:

* by default the listener has the service's module mapped after start, and
  logins work;
* the policy is still read at every login: a pam.d file changed to deny
  refuses the right password at once, without a restart, and a module
  that was not in the file at start (so was not preloaded) is used as
  soon as the file names it; a changed password database is obeyed too;
* --no-pam-preload: the listener maps no module, and logins work.

What the preloading saves is measured by bench/run and bench/pamfloor,
never here."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, mbox, sample_messages  # noqa: E402


def login(srv, user, pw):
    return fixture.pass_reply(srv, user, pw)


def mapped(pid, name):
    with open("/proc/%d/maps" % pid) as f:
        return any(ln.rstrip().endswith("/" + name) for ln in f)


def set_stack(srv, text):
    # written beside, then renamed: a helper never reads half a file
    p = os.path.join(srv.pamdir, "popa3d")
    with open(p + ".new", "w") as f:
        f.write(text)
    os.rename(p + ".new", p)


def preload_tests(t):
    with Server() as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.start()
        pid = srv.proc.pid
        t.ok(mapped(pid, "pam_matrix.so"), "the listener has the service's module mapped")
        t.ok(not mapped(pid, "pam_permit.so"), "and no module the policy does not name")
        r = login(srv, "alice", "alice-secret")
        t.ok(r.startswith(b"+OK"), "a login works", r)

        original = open(os.path.join(srv.pamdir, "popa3d")).read()
        set_stack(srv, "auth required pam_deny.so\naccount required pam_deny.so\n")
        r = login(srv, "alice", "alice-secret")
        t.ok(r.startswith(b"-ERR"), "a policy changed to pam_deny refuses at once, "
             "no restart", r)

        # pam_permit was not in the file at start: the helper loads it
        set_stack(srv, "auth required pam_permit.so\naccount required pam_permit.so\n")
        r = login(srv, "alice", "anything")
        t.ok(r.startswith(b"+OK"), "a module added to the policy after start is used", r)
        t.ok(not mapped(pid, "pam_permit.so"), "and the listener did not load it")

        set_stack(srv, original)
        srv.users["alice"] = "a-new-secret"
        srv.write_passdb()
        r = login(srv, "alice", "alice-secret")
        t.ok(r.startswith(b"-ERR"), "back to pam_matrix: the old password is refused", r)
        r = login(srv, "alice", "a-new-secret")
        t.ok(r.startswith(b"+OK"), "and the new one accepted", r)
        t.eq(srv.stop(), 0, "clean stop")

    with Server(args=["--no-pam-preload"]) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.start()
        time.sleep(0.2)
        t.ok(not mapped(srv.proc.pid, "pam_matrix.so"),
             "--no-pam-preload: the listener maps no PAM module")
        r = login(srv, "alice", "alice-secret")
        t.ok(r.startswith(b"+OK"), "and a login works", r)
        r = login(srv, "alice", "wrong")
        t.ok(r.startswith(b"-ERR"), "and a wrong password is refused", r)
        t.eq(srv.stop(), 0, "clean stop")


def all_tests(t):
    fixture.require_root(t)
    if not fixture.built_with("HAVE_PAM"):
        t.skip_all("built without PAM")
    preload_tests(t)


TAP().run(all_tests)
