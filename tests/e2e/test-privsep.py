# SPDX-License-Identifier: BSD-2-Clause
"""Privilege separation observed from /proc on a real connection.

What is asserted, exactly:
  * in AUTHORIZATION the client's socket is held by two processes and no
    others: the leader (uid 0, child of the listener) and the pre-auth child
    (child of the leader) whose real, effective, saved and fs uids and gids
    are all the --user account's, which has no supplementary groups, whose
    root directory is --empty-dir, with no_new_privs set, no capabilities,
    and (when built with libseccomp) a seccomp filter;
  * after a successful login the socket is held by exactly one process, the
    session (the former leader, child of the listener), whose uids and gids
    are all the mail user's, whose only group is the user's own, with no
    capabilities: no process with uid 0 holds the client socket any more.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from procfs import holders, socket_inode, status, wait_for  # noqa: E402
from fixture import Server, Client, mbox, sample_messages  # noqa: E402


def body(t):
    fixture.require_root(t)
    with Server() as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.start()
        listener = srv.proc.pid
        alice = srv.uids["alice"]

        c = Client(srv.connect())
        t.ok(c.line().startswith(b"+OK"), "greeting")
        cport = c.s.getsockname()[1]
        inode = socket_inode(srv.port, cport)
        t.ok(inode is not None, "found the server side of the connection in /proc/net/tcp")
        pids = wait_for(lambda: len(holders(inode)) == 2 and holders(inode))
        t.eq(len(pids), 2, "AUTHORIZATION: two processes hold the client socket")
        st = {p: status(p) for p in pids}
        leader = [p for p in pids if st[p]["Uid"][0] == "0"]
        child = [p for p in pids if st[p]["Uid"][0] != "0"]
        t.ok(len(leader) == 1 and len(child) == 1, "one root leader and one unprivileged child")
        if len(leader) == 1 and len(child) == 1:
            L, C = leader[0], child[0]
            t.eq(st[L]["PPid"][0], str(listener), "the leader is the listener's child")
            t.eq(st[C]["PPid"][0], str(L), "the pre-auth child is the leader's child")
            t.eq(st[C]["Uid"], [str(fixture.PREAUTH_UID)] * 4,
                 "pre-auth child: real/effective/saved/fs uid are the --user account")
            t.eq(st[C]["Gid"], [str(fixture.PREAUTH_UID)] * 4, "pre-auth child: all gids too")
            t.eq(st[C].get("Groups", []), [], "pre-auth child: no supplementary groups")
            t.eq(os.readlink("/proc/%d/root" % C), srv.empty, "pre-auth child: root is --empty-dir")
            t.eq(st[C]["NoNewPrivs"], ["1"], "pre-auth child: no_new_privs")
            t.eq(st[C]["CapEff"], ["0000000000000000"], "pre-auth child: no effective capabilities")
            t.eq(st[C]["CapPrm"], ["0000000000000000"], "pre-auth child: no permitted capabilities")
            if fixture.built_with("HAVE_SECCOMP"):
                t.eq(st[C]["Seccomp"], ["2"], "pre-auth child: seccomp filter mode")

        c.cmd("USER alice")
        resp = c.cmd("PASS alice-secret")
        t.ok(resp.startswith(b"+OK"), "login", resp)
        pids = wait_for(lambda: len(holders(inode)) == 1 and holders(inode))
        t.eq(len(pids), 1, "TRANSACTION: exactly one process holds the client socket")
        if len(pids) == 1:
            S = pids[0]
            s = status(S)
            t.eq(s["PPid"][0], str(listener), "the session is the former leader (listener's child)")
            t.eq(s["Uid"], [str(alice)] * 4, "session: all uids are the user's")
            t.eq(s["Gid"], [str(alice)] * 4, "session: all gids are the user's")
            t.eq(s.get("Groups", []), [str(alice)], "session: only the user's own group (no mail group)")
            t.eq(s["CapEff"], ["0000000000000000"], "session: no effective capabilities")
            t.eq(s["CapPrm"], ["0000000000000000"], "session: no permitted capabilities")
        root_holders = [p for p in holders(inode) if status(p)["Uid"][0] == "0"]
        t.eq(root_holders, [], "after login no uid-0 process holds the client socket")
        t.ok(c.cmd("STAT").startswith(b"+OK 2 "), "the session serves the mailbox")
        t.ok(c.cmd("QUIT").startswith(b"+OK"), "QUIT")
        srv.stop()


TAP().run(body)
