# SPDX-License-Identifier: BSD-2-Clause
"""Descriptors 0, 1 and 2 of the unprivileged processes (issue 14,
finding 4): the daemon's stdout and stderr (a journal stream under
systemd) are not handed to a process a client could subvert.

What is asserted, without --log-stderr:
  * standalone: the pre-auth child's 0, 1 and 2 are /dev/null, and so are
    the session's after a login, plain and under TLS (where the pre-auth
    child lives on as the relay);
  * inetd mode: the pre-auth child and the session keep 0 and 1 (the
    connection inetd gave) and have /dev/null on 2;
and with --log-stderr the pre-auth child keeps the daemon's stderr.
The root processes (listener, leader before login) keep theirs: that is
where their --log-stderr lines and start-up errors go.
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from procfs import descendants, holders, socket_inode, status, wait_for  # noqa: E402
from fixture import Server, Client, make_cert, mbox, sample_messages  # noqa: E402


def std_fds(pid):
    out = []
    for fd in range(3):
        try:
            out.append(os.readlink("/proc/%d/fd/%d" % (pid, fd)))
        except OSError:
            out.append(None)
    return out


def quiet(srv):
    """The server without --log-stderr: the deployment default."""
    args = [a for a in Server.base_args(srv) if a != "--log-stderr"]
    srv.base_args = lambda: args
    return srv


def preauth_child(inode):
    pids = wait_for(lambda: len(holders(inode)) == 2 and holders(inode))
    kids = [p for p in (pids or []) if status(p)["Uid"][0] != "0"]
    return kids[0] if len(kids) == 1 else None


def standalone(t, tls_dir):
    null3 = ["/dev/null"] * 3
    args = []
    if tls_dir:
        cert, key = make_cert(tls_dir)
        args = ["--tls-cert", cert, "--tls-key", key]
    with quiet(Server(args=args)) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.start()
        how = "TLS" if tls_dir else "plain"
        c = Client(srv.connect())
        t.ok(c.line().startswith(b"+OK"), "%s: greeting" % how)
        inode = socket_inode(srv.port, c.s.getsockname()[1])
        child = preauth_child(inode)
        t.ok(child is not None, "%s: found the pre-auth child" % how)
        if child:
            t.eq(std_fds(child), null3, "%s: pre-auth child: 0, 1, 2 are /dev/null" % how)
        if tls_dir:
            r = c.cmd("STLS")
            ctx = ssl.create_default_context(cafile=cert)
            c = Client(ctx.wrap_socket(c.s, server_hostname="localhost"))
            t.ok(r.startswith(b"+OK"), "TLS: STLS")
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "%s: login" % how)
        t.ok(c.cmd("STAT").startswith(b"+OK 2 "), "%s: STAT" % how)
        pids = [p for p in descendants(srv.proc.pid) if status(p)["Uid"][0] != "0"]
        sessions = [p for p in pids if status(p)["Uid"][0] == str(srv.uids["alice"])]
        t.eq(len(sessions), 1, "%s: one session process" % how)
        for p in sessions:
            t.eq(std_fds(p), null3, "%s: session: 0, 1, 2 are /dev/null" % how)
        if tls_dir:
            # the key holder is the listener's child; the relay, the leader's
            holders = [p for p in pids if p not in sessions and status(p)["PPid"][0] == str(srv.proc.pid)]
            t.eq(len(holders), 1, "TLS: one key holder")
            for p in holders:
                t.eq(std_fds(p), null3, "TLS: key holder: 0, 1, 2 are /dev/null")
            relays = [p for p in pids if p not in sessions and p not in holders]
            t.eq(relays, [child], "TLS: the pre-auth child is the relay")
            for p in relays:
                t.eq(std_fds(p), null3, "TLS: relay: 0, 1, 2 are /dev/null")
        t.ok(c.cmd("QUIT").startswith(b"+OK"), "%s: QUIT" % how)
        srv.stop()


def inetd(t):
    with quiet(Server()) as srv:
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        a, b = socket.socketpair()
        conn = "socket:[%d]" % os.fstat(b.fileno()).st_ino
        cmd = [fixture.popa3d_binary()] + srv.base_args() + srv.args
        p = subprocess.Popen(cmd, env=srv.env(), stdin=b.fileno(), stdout=b.fileno(),
                             stderr=open(srv.log_path, "ab"))
        b.close()
        a.settimeout(10)
        c = Client(a)
        t.ok(c.line().startswith(b"+OK"), "inetd: greeting")
        kids = wait_for(lambda: descendants(p.pid))
        child = kids[0] if len(kids) == 1 else None
        t.ok(child is not None and status(child)["Uid"][0] != "0",
             "inetd: found the pre-auth child")
        if child:
            t.eq(std_fds(child), [conn, conn, "/dev/null"],
                 "inetd: pre-auth child: 0 and 1 the connection, 2 /dev/null")
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "inetd: login")
        t.ok(c.cmd("STAT").startswith(b"+OK 2 "), "inetd: STAT")
        t.eq(status(p.pid)["Uid"][0], str(srv.uids["alice"]), "inetd: the session is the user's")
        t.eq(std_fds(p.pid), [conn, conn, "/dev/null"],
             "inetd: session: 0 and 1 the connection, 2 /dev/null")
        t.ok(c.cmd("QUIT").startswith(b"+OK"), "inetd: QUIT")
        a.close()
        t.eq(p.wait(20), 0, "inetd: exit 0")


def log_stderr(t):
    """--log-stderr: the administrator's choice, kept by every process."""
    with Server() as srv:
        srv.start()
        c = Client(srv.connect())
        t.ok(c.line().startswith(b"+OK"), "--log-stderr: greeting")
        child = preauth_child(socket_inode(srv.port, c.s.getsockname()[1]))
        fds = std_fds(child) if child else [None] * 3
        t.eq(fds[:2] + [fds[2] == srv.log_path], ["/dev/null", "/dev/null", True],
             "--log-stderr: pre-auth child: 0, 1 /dev/null, 2 the daemon's stderr")
        c.cmd("QUIT")
        srv.stop()


def body(t):
    fixture.require_root(t)
    standalone(t, None)
    if fixture.built_with("HAVE_TLS"):
        with tempfile.TemporaryDirectory() as d:
            standalone(t, d)
    else:
        t.ok(True, "TLS relay # SKIP built without TLS")
    inetd(t)
    log_stderr(t)


TAP().run(body)
