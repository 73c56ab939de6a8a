# SPDX-License-Identifier: BSD-2-Clause
"""Ways to run the daemon: inetd mode (a socketpair, and socat as the
inetd), systemd socket activation (LISTEN_FDS/LISTEN_PID), IPv6 on [::1],
the idle timeout, SIGHUP, --pid-file, a config file."""
import os
import poplib
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, mbox, sample_messages, wire  # noqa: E402
import procfs  # noqa: E402
from procfs import settle  # noqa: E402


def fetch_all(t, host, port, user, pw, msgs, what):
    p = poplib.POP3(host, port, timeout=20)
    p.user(user)
    p.pass_(pw)
    n, _ = p.stat()
    t.eq(n, len(msgs), "%s: STAT" % what)
    for i, m in enumerate(msgs, 1):
        _, lines, _ = p.retr(i)
        t.eq(b"\r\n".join(lines) + b"\r\n", wire(m), "%s: RETR %d byte-exact" % (what, i))
    p.quit()


def inetd_socketpair(t, srv, msgs):
    out, rc = srv.inetd(b"USER alice\r\nPASS alice-secret\r\nSTAT\r\nRETR 1\r\nQUIT\r\n")
    lines = out.split(b"\r\n")
    t.ok(lines[0].startswith(b"+OK"), "inetd: greeting", out[:200])
    t.ok(b"+OK %d %d" % (len(msgs), sum(len(wire(m)) for m in msgs)) in out,
         "inetd: pipelined STAT after PASS answered", out[:400])
    t.ok(wire(msgs[0]) in out.replace(b"\r\n..", b"\r\n."), "inetd: RETR 1 content")
    t.ok(out.endswith(b"+OK Bye\r\n") or out.rstrip().split(b"\r\n")[-1].startswith(b"+OK"),
         "inetd: QUIT answered last", out[-100:])
    t.eq(rc, 0, "inetd: exit status 0 after QUIT")


def inetd_socat(t, srv, msgs):
    if not shutil.which("socat"):
        t.ok(True, "# SKIP socat not installed")
        return
    port = fixture.free_port()
    # socat gives ':' and ',' meaning inside EXEC:, so run a wrapper script
    wrapper = os.path.join(srv.dir, "inetd-wrapper.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s\n" % " ".join(
            "'%s'" % a for a in [fixture.popa3d_binary()] + srv.base_args()))
    os.chmod(wrapper, 0o755)
    p = subprocess.Popen(["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % port,
                          "EXEC:%s" % wrapper], env=srv.env(), stderr=open(srv.log_path, "ab"))
    try:
        deadline = time.time() + 10
        while not fixture.listening("127.0.0.1", port) and time.time() < deadline:
            time.sleep(0.05)
        fetch_all(t, "127.0.0.1", port, "alice", "alice-secret", msgs, "socat inetd")
    finally:
        p.terminate()
        p.wait(10)


def socket_activation(t, srv, msgs):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    port = s.getsockname()[1]
    # systemd's convention: fd 3, LISTEN_FDS=1, LISTEN_PID=<the daemon's pid>.
    # -l names a port nobody may use: with sockets handed over it must not bind.
    script = 'exec 3<&0 0</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"'
    cmd = ["sh", "-c", script, "sh", fixture.popa3d_binary(), "-D", "-F",
           "-l", "127.0.0.1:1"] + srv.base_args()
    p = subprocess.Popen(cmd, env=srv.env(), stdin=s.fileno(),
                         stdout=open(srv.log_path, "ab"), stderr=subprocess.STDOUT)
    s.close()
    try:
        fetch_all(t, "127.0.0.1", port, "alice", "alice-secret", msgs, "socket activation")
        t.ok(p.poll() is None, "socket activation: daemon still running")
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
    t.eq(rc, 0, "socket activation: SIGTERM exit 0")


def ipv6(t, msgs):
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        t.ok(True, "# SKIP no IPv6 loopback")
        return
    with Server(host="::1") as srv:
        srv.put_mailbox("alice", mbox(*msgs))
        srv.start()
        fetch_all(t, "::1", srv.port, "alice", "alice-secret", msgs, "IPv6 [::1]")
        time.sleep(0.2)
        t.ok("rip=::1 " in srv.read_log(), "IPv6: the log names ::1")
        t.eq(srv.stop(), 0, "IPv6: clean stop")


def timeout_and_signals(t, msgs):
    with Server(args=["--timeout", "2", "--pid-file"]) as srv:
        srv.args.append(os.path.join(srv.dir, "popa3d.pid"))
        srv.put_mailbox("alice", mbox(*msgs))
        # a link planted where the pid file goes is replaced, not followed
        victim = os.path.join(srv.dir, "victim")
        with open(victim, "w") as f:
            f.write("keep me\n")
        os.symlink(victim, os.path.join(srv.dir, "popa3d.pid"))
        srv.start()
        # The sockets listen before the pid file is written; it then
        # appears whole (renamed into place), never empty.
        pidfile = os.path.join(srv.dir, "popa3d.pid")
        procfs.wait_for(lambda: not os.path.islink(pidfile) and os.path.exists(pidfile), 10)
        with open(pidfile) as f:
            t.eq(int(f.read()), srv.proc.pid, "--pid-file holds the daemon's pid")
        t.ok(not os.path.exists(pidfile + ".new"), "--pid-file: no temporary file left")
        with open(victim) as f:
            t.ok(not os.path.islink(pidfile) and f.read() == "keep me\n",
                 "--pid-file: a planted symlink is replaced, its target untouched")
        idle = Client(srv.connect(timeout=30))
        t.ok(idle.line().startswith(b"+OK"), "idle client greeted")
        t.ok(idle.closed(timeout=30), "idle client in AUTHORIZATION dropped at the timeout")
        c = Client(srv.connect(timeout=30))
        c.line()
        c.cmd("USER alice")
        c.cmd("PASS alice-secret")
        t.ok(c.closed(timeout=30), "idle client in TRANSACTION dropped at the timeout")
        srv.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        t.ok(srv.proc.poll() is None, "SIGHUP does not stop the daemon")
        fetch_all(t, srv.host, srv.port, "alice", "alice-secret", msgs, "after SIGHUP")
        # SIGTERM leaves running sessions to finish
        p = poplib.POP3(srv.host, srv.port, timeout=20)
        p.user("alice")
        p.pass_("alice-secret")
        t.eq(srv.stop(), 0, "SIGTERM with a session open: exit 0")
        t.ok(not os.path.exists(os.path.join(srv.dir, "popa3d.pid")), "pid file removed")
        t.eq(p.stat()[0], len(msgs), "the open session still works after the listener left")
        p.quit()


def config_file(t, msgs):
    with Server() as srv:
        srv.put_mailbox("alice", mbox(*msgs))
        conf = os.path.join(srv.dir, "popa3d.conf")
        port = fixture.free_port()
        with open(conf, "w") as f:
            f.write("# test config\nlisten 127.0.0.1:%d\nmax-sessions 4\n" % port)
            f.write(fixture.config_lines(srv.base_args()))
        p = subprocess.Popen([fixture.popa3d_binary(), "-D", "-F", "-c", conf], env=srv.env(),
                             stdout=open(srv.log_path, "ab"), stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 10
            while not fixture.listening("127.0.0.1", port) and time.time() < deadline:
                time.sleep(0.05)
            fetch_all(t, "127.0.0.1", port, "alice", "alice-secret", msgs, "config file")
            # SIGHUP re-reads the file: a tighter per-source limit applies
            # to new connections; a broken file keeps the old settings.
            with open(conf) as f:
                text = f.read()
            with open(conf, "a") as f:
                f.write("max-per-source 1\n")
            p.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while "configuration reloaded" not in srv.read_log() and time.time() < deadline:
                time.sleep(0.05)
            t.ok("configuration reloaded" in srv.read_log(), "SIGHUP: configuration reloaded")
            # The session of fetch_all above counts for its source until
            # the listener has reaped it, which under load can come after
            # the client saw the close: wait, or the limit of 1 refuses a.
            settle(p.pid)
            a = Client(socket.create_connection(("127.0.0.1", port), timeout=10))
            t.ok(a.line().startswith(b"+OK"), "after reload: first connection served")
            b = Client(socket.create_connection(("127.0.0.1", port), timeout=10))
            t.ok(b.line().startswith(b"-ERR [SYS/TEMP]"), "after reload: max-per-source 1 applies")
            a.close()
            b.close()
            settle(p.pid)
            with open(conf, "w") as f:
                f.write(text + "timeout banana\n")
            p.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while "not reloaded" not in srv.read_log() and time.time() < deadline:
                time.sleep(0.05)
            t.ok("configuration not reloaded" in srv.read_log() and "--timeout" in srv.read_log(),
                 "SIGHUP with a broken file: logged, naming the problem")
            time.sleep(0.3)
            t.ok(p.poll() is None, "SIGHUP with a broken file: still running")
            fetch_all(t, "127.0.0.1", port, "alice", "alice-secret", msgs, "after a refused reload")
            with open(conf, "w") as f:
                f.write(text)
            # The chroot is read once per configuration: a reload reads it
            # again and refuses one that is no longer empty.
            planted = os.path.join(srv.empty, "planted")
            with open(planted, "w") as f:
                f.write("x")
            try:
                before = srv.read_log().count("not reloaded")
                p.send_signal(signal.SIGHUP)
                deadline = time.time() + 10
                while srv.read_log().count("not reloaded") == before and time.time() < deadline:
                    time.sleep(0.05)
                log = srv.read_log()
                t.ok(log.count("not reloaded") > before and "must be empty" in log,
                     "SIGHUP with a non-empty --empty-dir: not reloaded, says why")
            finally:
                os.unlink(planted)
        finally:
            p.send_signal(signal.SIGTERM)
            t.eq(p.wait(10), 0, "config file: clean stop")
        with open(conf, "a") as f:
            f.write("no-such-option 1\n")
        r = subprocess.run([fixture.popa3d_binary(), "-D", "-F", "-c", conf], env=srv.env(),
                           capture_output=True, text=True)
        t.ok(r.returncode == 1 and "no-such-option" in r.stderr and conf in r.stderr,
             "bad config line: exit 1 naming file, line and option", r.stderr)


def body(t):
    fixture.require_root(t)
    msgs = sample_messages(3)
    with Server() as srv:
        srv.put_mailbox("alice", mbox(*msgs))
        inetd_socketpair(t, srv, msgs)
        inetd_socat(t, srv, msgs)
        socket_activation(t, srv, msgs)
    ipv6(t, msgs)
    timeout_and_signals(t, msgs)
    config_file(t, msgs)


TAP().run(body)
