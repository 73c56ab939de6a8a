# SPDX-License-Identifier: BSD-2-Clause
"""PROXY protocol (--proxy-protocol, --proxy-from) without a balancer: a
Python client plays HAProxy and writes v1 and v2 headers by hand.

Checks: the start-up refusals (no --proxy-from, a bad CIDR list, a lone
--proxy-from); a v1 and a v2 (IPv6) header from the trusted address log
in and the log names the claimed address; bytes pipelined after the
header reach POP3; a v2 LOCAL header (a health check) is greeted; a
peer outside --proxy-from, garbage, a truncated header, an oversized v1
line and a silent client are each closed with no byte said and one log
line; --max-per-source counts the claimed address (198.51.100.9 refused
while 198.51.100.10 is served); PAM_RHOST is the claimed address (a
pam_exec probe); POP3S with the header before the TLS handshake; inetd
mode refuses a peer that is not a --proxy-from socket.
"""
import os
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, mbox, sample_messages  # noqa: E402

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, dst="127.0.0.1", sport=40000, dport=110):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src, dst, sport=40000, dport=110, tlvs=b""):
    if ":" in src:
        body = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                + struct.pack(">HH", sport, dport))
        fam = 0x21
    else:
        body = (socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
                + struct.pack(">HH", sport, dport))
        fam = 0x11
    body += tlvs
    return SIG + bytes([0x21, fam]) + struct.pack(">H", len(body)) + body


def v2_local():
    return SIG + bytes([0x20, 0x00, 0, 0])


def wait_log(srv, text, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        log = srv.read_log()
        if text in log:
            return log
        time.sleep(0.05)
    return srv.read_log()


def silent_close(sock, timeout=15):
    """The server closes without a byte (EOF, or a reset)."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(100)
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return data == b""


def login(c, t, who, user="alice", pw="alice-secret"):
    t.ok(c.line().startswith(b"+OK"), "%s: greeted" % who)
    c.cmd("USER " + user)
    t.ok(c.cmd("PASS " + pw).startswith(b"+OK"), "%s: logged in" % who)


def start_refusals(t):
    base = [fixture.popa3d_binary(), "-D", "-F", "-l", "127.0.0.1:%d" % fixture.free_port()]
    for extra, want, what in (
            (["--proxy-protocol"], "--proxy-from", "--proxy-protocol without --proxy-from"),
            (["--proxy-from", "127.0.0.1"], "--proxy-protocol", "--proxy-from alone"),
            (["--proxy-protocol", "--proxy-from", "10.0.0.1/8"], "beyond the prefix",
             "a CIDR with host bits"),
            (["--proxy-protocol", "--proxy-from", "127.0.0.1/33"], "prefix", "prefix 33"),
            (["--proxy-protocol", "--proxy-from", "127.0.0.1,"], "--proxy-from", "an empty entry"),
            (["--proxy-protocol", "--proxy-from", "localhost"], "not an IPv4 or IPv6",
             "a host name")):
        r = subprocess.run(base + extra, capture_output=True, text=True, timeout=10)
        lines = r.stderr.strip().splitlines()
        t.ok(r.returncode == 1 and len(lines) == 1 and want in lines[0],
             "start refused: %s" % what, r.stderr)


def config_file(t):
    """The same options from a config file (-c): refused with file:line, and accepted."""
    import tempfile
    d = tempfile.mkdtemp(prefix="popa3d-proxycfg.")
    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("# behind HAProxy\nproxy-protocol yes\nproxy-from 127.0.0.1/32,10.0.0.0/33\n")
    r = subprocess.run([fixture.popa3d_binary(), "-D", "-F", "-c", bad],
                       capture_output=True, text=True, timeout=10)
    t.ok(r.returncode == 1 and "bad.conf:3:" in r.stderr and "--proxy-from" in r.stderr,
         "config file: a bad proxy-from is refused with its file and line", r.stderr)
    good = os.path.join(d, "good.conf")
    with open(good, "w") as f:
        f.write("proxy-protocol yes\nproxy-from 127.0.0.1\n")
    with Server(args=["-c", good]) as srv:
        srv.start()
        s = srv.connect(source="127.0.0.1")
        s.sendall(v1("192.0.2.70"))
        t.ok(Client(s).line().startswith(b"+OK"), "config file: proxy-protocol yes, header accepted")
        s.close()
        s = srv.connect(source="127.0.0.1")
        s.sendall(b"USER alice\r\n")
        t.ok(silent_close(s), "config file: and required (no header: closed)")
        s.close()
        srv.stop()
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def pam_probe_stack(d):
    """pam_matrix as usual, plus pam_exec writing PAM_RHOST to a file."""
    script = os.path.join(d, "rhost.sh")
    out = os.path.join(d, "rhost.out")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho \"$PAM_RHOST\" >> %s\n" % out)
    os.chmod(script, 0o755)
    return script, out


def body(t):
    fixture.require_root(t)
    start_refusals(t)
    config_file(t)
    args = ["--proxy-protocol", "--proxy-from", "127.0.0.1/32,::1", "--max-per-source", "2"]
    pam = fixture.built_with("HAVE_PAM")
    stack = None
    probe_dir = None
    if pam:
        import tempfile
        probe_dir = tempfile.mkdtemp(prefix="popa3d-rhost.")
        os.chmod(probe_dir, 0o755)
        script, rhost_out = pam_probe_stack(probe_dir)
    with Server(args=args) as srv:
        if pam:
            matrix = fixture.find_lib("pam_matrix.so")
            stack = ("auth optional pam_exec.so quiet %s\n"
                     "auth required %s passdb=%s\naccount required %s passdb=%s\n"
                     % (script, matrix, srv.passdb, matrix, srv.passdb))
            with open(os.path.join(srv.pamdir, "popa3d"), "w") as f:
                f.write(stack)
        srv.put_mailbox("alice", mbox(*sample_messages(2)))
        srv.put_mailbox("bob", mbox(*sample_messages(1)))
        srv.start()

        # v1 from the trusted balancer, with CAPA pipelined behind it
        s = srv.connect(source="127.0.0.1")
        s.sendall(v1("192.0.2.7", sport=5555, dport=srv.port) + b"CAPA\r\n")
        c = Client(s)
        t.ok(c.line().startswith(b"+OK"), "v1: greeted")
        t.ok(c.line().startswith(b"+OK") and b"USER" in c.multiline(),
             "v1: CAPA sent in the same segment as the header is answered")
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "v1: logged in")
        t.ok(c.cmd("STAT").startswith(b"+OK 2 "), "v1: STAT")
        c.cmd("QUIT")
        c.close()
        log = wait_log(srv, "auth ok user=alice rip=192.0.2.7 ")
        t.ok("auth ok user=alice rip=192.0.2.7 " in log, "v1: the log names the claimed address",
             log)
        if pam:
            got = open(rhost_out).read().split() if os.path.exists(rhost_out) else []
            t.eq(got[-1:], ["192.0.2.7"], "v1: PAM_RHOST is the claimed address")

        # v2, IPv6 source, a TLV behind the addresses
        s = srv.connect(source="127.0.0.1")
        s.sendall(v2("2001:db8::5", "2001:db8::1", tlvs=b"\x04\x00\x03abc"))
        c = Client(s)
        login(c, t, "v2 IPv6", "bob", "bob secret")
        c.cmd("QUIT")
        c.close()
        log = wait_log(srv, "rip=2001:db8::5 ")
        t.ok("auth ok user=bob rip=2001:db8::5 " in log, "v2: the log names the IPv6 source", log)

        # v2 LOCAL: the balancer's own health check
        s = srv.connect(source="127.0.0.1")
        s.sendall(v2_local())
        c = Client(s)
        t.ok(c.line().startswith(b"+OK"), "v2 LOCAL: greeted (health check)")
        c.cmd("QUIT")
        c.close()

        # a peer that is not a balancer, even with a good header
        s = srv.connect(source="127.0.0.2")
        s.sendall(v1("192.0.2.8"))
        t.ok(silent_close(s), "127.0.0.2 (not in --proxy-from): closed without a word")
        log = wait_log(srv, 'refused rip=127.0.0.2 reason="not in --proxy-from"')
        t.ok('refused rip=127.0.0.2 reason="not in --proxy-from"' in log,
             "  one log line names it", log)

        for what, data, close_after, logged in (
                ("garbage", b"GET / HTTP/1.0\r\n\r\n", False, "not a PROXY header"),
                ("a POP3 command instead of a header", b"USER alice\r\n", False,
                 "not a PROXY header"),
                ("LF without CR", b"PROXY TCP4 192.0.2.9 127.0.0.1 1 2\n", False, "bad line end"),
                ("a leading zero", b"PROXY TCP4 192.0.2.09 127.0.0.1 1 2\r\n", False,
                 "bad address"),
                ("an oversized v1 line", b"PROXY UNKNOWN " + b"x" * 200, False, "longer than 107"),
                ("v2 over UDP", v2("192.0.2.9", "127.0.0.1")[:13] + b"\x12" +
                 v2("192.0.2.9", "127.0.0.1")[14:], False, "family or protocol"),
                ("v2 with a broken TLV", v2("192.0.2.9", "127.0.0.1", tlvs=b"\x04\x00\x09ab"),
                 False, "TLV"),
                ("a truncated v2 header", v2("192.0.2.9", "127.0.0.1")[:20], True,
                 "closed inside the header")):
            before = srv.read_log().count("PROXY header refused")
            s = srv.connect(source="127.0.0.1")
            s.sendall(data)
            if close_after:
                s.shutdown(socket.SHUT_WR)
            t.ok(silent_close(s), "%s: closed without a word" % what)
            deadline = time.time() + 10
            while time.time() < deadline and srv.read_log().count("PROXY header refused") == before:
                time.sleep(0.05)
            lines = [ln for ln in srv.read_log().splitlines() if "PROXY header refused" in ln]
            t.ok(len(lines) == before + 1 and logged in lines[-1] and "proxy=127.0.0.1" in lines[-1],
                 "%s: one log line (%s)" % (what, logged), "\n".join(lines[before:]))
            s.close()

        # a client that says nothing: the header deadline (a few seconds)
        s = srv.connect(source="127.0.0.1")
        t.ok(silent_close(s, timeout=30), "no header at all: closed without a greeting")
        log = wait_log(srv, "header timed out")
        t.ok("PROXY header refused: header timed out" in log, "  logged as timed out")
        s.close()

        # --max-per-source 2 applies to the claimed address
        held = []
        for i in range(2):
            s = srv.connect(source="127.0.0.1")
            s.sendall(v1("198.51.100.9"))
            c = Client(s)
            t.ok(c.line().startswith(b"+OK"), "claimed 198.51.100.9, session %d: greeted" % (i + 1))
            held.append(c)
        s = srv.connect(source="127.0.0.1")
        s.sendall(v2("198.51.100.9", "127.0.0.1"))
        c = Client(s)
        first = c.line()
        t.ok(first.startswith(b"-ERR [SYS/TEMP]"), "claimed 198.51.100.9, 3rd: refused [SYS/TEMP]",
             first)
        t.ok(c.closed(), "  and closed")
        log = wait_log(srv, 'refused rip=198.51.100.9 reason="max-per-source"')
        t.ok('refused rip=198.51.100.9 reason="max-per-source"' in log,
             "  the refusal log line names the claimed address", log)
        s = srv.connect(source="127.0.0.1")
        s.sendall(v1("198.51.100.10"))
        c = Client(s)
        login(c, t, "claimed 198.51.100.10 while .9 is at its limit")
        c.cmd("QUIT")
        c.close()
        for c in held:
            c.cmd("QUIT")
            c.close()
        t.eq(srv.stop(), 0, "clean stop")

    # POP3S behind a balancer: the header, then the TLS handshake
    if fixture.built_with("HAVE_TLS"):
        tport = fixture.free_port()
        with Server(args=args) as srv:
            cert, key = fixture.make_cert(srv.dir)
            srv.args += ["--tls-cert", cert, "--tls-key", key,
                         "--listen-tls", "127.0.0.1:%d" % tport]
            srv.put_mailbox("alice", mbox(*sample_messages(2)))
            srv.start()
            raw = socket.create_connection(("127.0.0.1", tport), timeout=10,
                                           source_address=("127.0.0.1", 0))
            raw.sendall(v2("203.0.113.77", "127.0.0.1", dport=tport))
            ctx = ssl.create_default_context(cafile=cert)
            ts = ctx.wrap_socket(raw, server_hostname="localhost")
            c = Client(ts)
            login(c, t, "POP3S after a v2 header")
            c.cmd("QUIT")
            c.close()
            log = wait_log(srv, "rip=203.0.113.77 ")
            t.ok("auth ok user=alice rip=203.0.113.77 " in log and "tls=yes" in log,
                 "POP3S: the log names the claimed address, tls=yes", log)
            srv.stop()
    else:
        t.ok(True, "POP3S behind a balancer # SKIP built without TLS")

    # inetd mode: a socketpair is no --proxy-from address
    with Server(args=args) as srv:
        # (nothing sent: unread bytes would make the close a reset)
        out, rc = srv.inetd(b"")
        t.ok(rc == 1 and out == b"", "inetd: a peer outside --proxy-from gets nothing, exit 1")
        t.ok('refused rip=local reason="not in --proxy-from"' in srv.read_log(),
             "inetd: one log line", srv.read_log())
    if probe_dir:
        import shutil
        shutil.rmtree(probe_dir, ignore_errors=True)


TAP().run(body)
