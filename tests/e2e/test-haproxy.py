# SPDX-License-Identifier: BSD-2-Clause
"""Scale-out behind a real HAProxy (Debian's haproxy package): two popa3d
instances sharing one spool, HAProxy on loopback in front of them with
send-proxy-v2 and a tcp-check health check expecting "+OK" (the example
in doc/scaling.md), clients bound to 127.0.0.2 and 127.0.0.3.

Checks: both backends come UP through the health check; mail is fetched
correctly through either backend (poplib RETR, byte-identical); each
backend's log names the real client address, never the balancer's;
--max-per-source limits 127.0.0.2 while 127.0.0.3 is served; after one
backend is killed (SIGKILL) logins keep working through the other and
HAProxy marks it DOWN.  Skipped (TAP skip_all) when haproxy is not installed
or cannot start.
"""
import os
import poplib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, mbox, sample_messages, wire  # noqa: E402

HAPROXY_CFG = """\
global
    maxconn 200
    nbthread 1
    stats socket {sock} mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch

frontend pop3
    bind 127.0.0.1:{fport}
    default_backend popa3d

backend popa3d
    balance roundrobin
    option tcp-check
    tcp-check expect string +OK
    server a 127.0.0.1:{pa} send-proxy-v2 check inter 300 fall 2 rise 1
    server b 127.0.0.1:{pb} send-proxy-v2 check inter 300 fall 2 rise 1
"""


class BoundPOP3(poplib.POP3):
    """poplib from a chosen source address (127.0.0.2, 127.0.0.3)."""

    def __init__(self, host, port, source):
        self.source = source
        super().__init__(host, port, timeout=15)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))


def stats(sock_path):
    """{server name: status} from HAProxy's stats socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path)
    s.sendall(b"show stat\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    lines = data.decode().splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    cols = lines[0][2:].split(",")
    out = {}
    for ln in lines[1:]:
        f = ln.split(",")
        if len(f) == len(cols) and f[0] == "popa3d" and f[1] in ("a", "b"):
            out[f[1]] = f[cols.index("status")]
    return out


def wait_status(sock_path, want, timeout=20):
    deadline = time.time() + timeout
    st = {}
    while time.time() < deadline:
        try:
            st = stats(sock_path)
        except OSError:
            st = {}
        if all(st.get(k, "").startswith(v) for k, v in want.items()):
            return True, st
        time.sleep(0.1)
    return False, st


def fetch(port, source, t, what, expect):
    p = BoundPOP3("127.0.0.1", port, source)
    p.user("alice")
    p.pass_("alice-secret")
    n, _ = p.stat()
    ok = n == len(expect)
    for i, m in enumerate(expect, 1):
        _, lines, _ = p.retr(i)
        ok = ok and b"\r\n".join(lines) + b"\r\n" == wire(m)
    p.quit()
    t.ok(ok, "%s: STAT and RETR byte-identical" % what)


def body(t):
    fixture.require_root(t)
    haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy")
                                          else None)
    if not haproxy:
        t.skip_all("haproxy is not installed (tests/install-deps.sh installs it)")
    args = ["--proxy-protocol", "--proxy-from", "127.0.0.1/32", "--max-per-source", "2"]
    msgs = sample_messages(3)
    hadir = tempfile.mkdtemp(prefix="popa3d-haproxy.")
    hap = None
    try:
        with Server(args=args) as a, Server(args=args) as b:
            a.put_mailbox("alice", mbox(*msgs))
            # one spool: b reads a's (same users, same uids)
            b.args += ["--mailbox", "mbox:%s/%%u" % a.spool]
            a.start()
            b.start()
            fport = fixture.free_port()
            sock_path = os.path.join(hadir, "stats.sock")
            cfg = os.path.join(hadir, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(HAPROXY_CFG.format(sock=sock_path, fport=fport, pa=a.port, pb=b.port))
            hlog = open(os.path.join(hadir, "haproxy.log"), "wb")
            hap = subprocess.Popen([haproxy, "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                                   stdout=hlog, stderr=hlog)
            deadline = time.time() + 15
            while time.time() < deadline and hap.poll() is None and \
                    not fixture.listening("127.0.0.1", fport):
                time.sleep(0.05)
            if hap.poll() is not None:
                t.skip_all("haproxy did not start: %s"
                           % open(os.path.join(hadir, "haproxy.log")).read()[-300:].replace("\n", " "))
            up, st = wait_status(sock_path, {"a": "UP", "b": "UP"})
            t.ok(up, "health check (PROXY v2 LOCAL + tcp-check expect +OK): both backends UP", st)

            # mail through either backend: roundrobin alternates, so four
            # sessions from two sources reach both
            for i in range(4):
                src = "127.0.0.2" if i % 2 == 0 else "127.0.0.3"
                fetch(fport, src, t, "session %d from %s" % (i + 1, src), msgs)
            time.sleep(0.3)
            la, lb = a.read_log(), b.read_log()
            oks_a = [ln for ln in la.splitlines() if "auth ok user=alice" in ln]
            oks_b = [ln for ln in lb.splitlines() if "auth ok user=alice" in ln]
            t.ok(len(oks_a) >= 1 and len(oks_b) >= 1 and len(oks_a) + len(oks_b) == 4,
                 "both backends served logins (%d + %d)" % (len(oks_a), len(oks_b)), la + lb)
            both = oks_a + oks_b
            t.ok(any("rip=127.0.0.2 " in ln for ln in both) and
                 any("rip=127.0.0.3 " in ln for ln in both),
                 "the logs name the real clients 127.0.0.2 and 127.0.0.3", "\n".join(both))
            t.ok(not any("rip=127.0.0.1 " in ln for ln in both),
                 "no login is logged with the balancer's address")

            # --max-per-source 2 per backend: 127.0.0.2 is held back
            held, refused = [], None
            for i in range(6):
                s = socket.create_connection(("127.0.0.1", fport), 10,
                                             source_address=("127.0.0.2", 0))
                c = Client(s)
                first = c.line()
                if first.startswith(b"-ERR"):
                    refused = (first, len(held))
                    c.close()
                    break
                held.append(c)
            t.ok(refused is not None and refused[0].startswith(b"-ERR [SYS/TEMP]") and
                 2 <= refused[1] <= 4,
                 "127.0.0.2 refused with [SYS/TEMP] once both backends hold 2 of its sessions",
                 refused)
            p = BoundPOP3("127.0.0.1", fport, "127.0.0.3")
            p.user("alice")
            p.pass_("alice-secret")
            t.eq(p.stat()[0], 3, "127.0.0.3 is served meanwhile")
            p.quit()
            time.sleep(0.3)
            logs = a.read_log() + b.read_log()
            t.ok('refused rip=127.0.0.2 reason="max-per-source"' in logs,
                 "the refusal is logged for 127.0.0.2", logs[-2000:])
            for c in held:
                c.cmd("QUIT")
                c.close()

            # one backend dies: the other carries on
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait()
            for i in range(4):
                src = "127.0.0.2" if i % 2 == 0 else "127.0.0.3"
                fetch(fport, src, t, "backend b killed, session %d from %s" % (i + 1, src), msgs)
            down, st = wait_status(sock_path, {"a": "UP", "b": "DOWN"})
            t.ok(down, "HAProxy marks the killed backend DOWN, the other stays UP", st)
            fetch(fport, "127.0.0.3", t, "after b is marked DOWN", msgs)
            t.eq(a.stop(), 0, "backend a: clean stop")
    finally:
        if hap and hap.poll() is None:
            hap.terminate()
            try:
                hap.wait(10)
            except subprocess.TimeoutExpired:
                hap.kill()
                hap.wait()
        shutil.rmtree(hadir, ignore_errors=True)


TAP().run(body)
