# SPDX-License-Identifier: BSD-2-Clause
"""One log line for every connection's end (issue 15), against the real
daemon on loopback.

Each case comes from its own source address (127.0.11.N) and must leave
exactly one "end" line for it, with rip=, lip= (the port it came in on),
the session id, the state reached and the reason class: quit, no-auth
(closed, or idle), timeout, client-closed, auth-failed, protocol-error,
mailbox-error, and tls-failed with OpenSSL's reason for each TLS failure
a client can cause (plaintext on the POP3S port, a client that rejects
the certificate, ALPN imap, TLS 1.1).  A refusal is logged by the
listener with lip=.  The login line says how TLS was set up, with the
version and cipher; the start-up line names version, listeners, TLS,
PROXY and seccomp.  Evictions are checked in test-flood.py."""
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, make_cert, mbox, sample_messages  # noqa: E402

END = re.compile(r"end session=([0-9a-f]{12}) rip=(\S+) lip=(\S+) state=(\S+) reason=(\S+)"
                 r'(?: detail="([^"]*)")? duration=[0-9]+\.[0-9]{3} in=(\d+) out=(\d+) attempts=(\d+)$')


def src(n):
    return "127.0.11.%d" % n


def ends_for(srv, source, want=1, limit=15):
    """The parsed end lines for source, once there are want of them."""
    deadline = time.time() + limit
    while True:
        found = []
        for ln in srv.read_log().splitlines():
            m = END.search(ln)
            if m and m.group(2) == source:
                found.append(m)
        if len(found) >= want or time.time() > deadline:
            time.sleep(0.2)     # a second line would be a bug: give it a moment
            return [m for m in (END.search(ln) for ln in srv.read_log().splitlines())
                    if m and m.group(2) == source]
        time.sleep(0.05)


def check(t, srv, source, state, reason, what, detail=None, attempts=None, port=None):
    found = ends_for(srv, source)
    m = found[0] if len(found) == 1 else None
    good = (m is not None and m.group(4) == state and m.group(5) == reason and
            (detail is None or (m.group(6) or "").find(detail) >= 0) and
            (attempts is None or int(m.group(9)) == attempts) and
            (port is None or m.group(3).endswith(":%d" % port)))
    t.ok(good, "%s: one end line, state=%s reason=%s%s" %
         (what, state, reason, (' detail~"%s"' % detail) if detail else ""),
         [x.group(0) for x in found] or srv.read_log()[-1500:])
    return m


def conn(srv, n, port=None):
    s = socket.create_connection((srv.host, port or srv.port), timeout=15,
                                 source_address=(src(n), 0))
    return Client(s)


def login(c, user="alice", pw="alice-secret"):
    c.cmd("USER " + user)
    return c.cmd("PASS " + pw)


def plain_cases(t, srv):
    c = conn(srv, 1)
    c.line()
    c.cmd("QUIT")
    c.close()
    check(t, srv, src(1), "pre-auth", "quit", "QUIT before login", attempts=0, port=srv.port)

    c = conn(srv, 2)
    c.line()
    c.close()
    check(t, srv, src(2), "pre-auth", "no-auth", "connect and close", "client closed")

    c = conn(srv, 3)
    c.line()
    check(t, srv, src(3), "pre-auth", "no-auth", "connect and stay idle", "idle timeout")
    c.close()

    c = conn(srv, 4)
    c.line()
    login(c, pw="wrong")
    check(t, srv, src(4), "pre-auth", "timeout", "a failed login, then idle", attempts=1)
    c.close()

    c = conn(srv, 5)
    c.line()
    login(c, pw="wrong")
    c.close()
    check(t, srv, src(5), "pre-auth", "client-closed", "a failed login, then close", attempts=1)

    c = conn(srv, 6)
    c.line()
    login(c, pw="wrong")
    login(c, pw="wrong")
    c.closed()
    c.close()
    check(t, srv, src(6), "pre-auth", "auth-failed", "--max-failures reached", attempts=2)

    c = conn(srv, 7)
    c.line()
    c.send(b"NOOP\r\n" * 51)
    c.closed(timeout=10)
    c.close()
    check(t, srv, src(7), "pre-auth", "protocol-error", "51 commands before login",
          "too many commands")

    c = conn(srv, 8)
    c.line()
    t.ok(login(c).startswith(b"+OK"), "alice logs in")
    c.cmd("STAT")
    c.cmd("QUIT")
    c.close()
    m = check(t, srv, src(8), "authenticated", "quit", "a session ended by QUIT", attempts=1)
    t.ok(m is not None and int(m.group(7)) > 20 and int(m.group(8)) > 40,
         "  in= and out= count the octets")
    ok = [ln for ln in srv.read_log().splitlines() if "auth ok " in ln and "rip=" + src(8) in ln]
    t.ok(len(ok) == 1 and " tls=no " in ok[0] and m and "session=" + m.group(1) in ok[0],
         "  the login line says tls=no and has the same session id", ok)

    c = conn(srv, 9)
    c.line()
    login(c)
    c.close()
    check(t, srv, src(9), "authenticated", "client-closed", "a session the client drops", "eof")

    c = conn(srv, 10)
    c.line()
    login(c)
    check(t, srv, src(10), "authenticated", "timeout", "an idle session")
    c.close()

    c = conn(srv, 11)
    c.line()
    r = login(c, "bob", "bob secret")
    t.ok(r.startswith(b"-ERR [SYS/PERM]"), "bob's mailbox is not his: -ERR [SYS/PERM]", r)
    c.close()
    check(t, srv, src(11), "authenticated", "mailbox-error", "a mailbox that cannot be opened",
          "open-failed")

    held = conn(srv, 12)
    held.line()
    c = conn(srv, 12)
    t.ok(c.line().startswith(b"-ERR [SYS/TEMP]"), "a second connection from one source refused")
    c.close()
    deadline = time.time() + 10
    while time.time() < deadline and ("refused rip=" + src(12)) not in srv.read_log():
        time.sleep(0.05)
    refused = [ln for ln in srv.read_log().splitlines() if "refused rip=" + src(12) + " " in ln]
    t.ok(len(refused) == 1 and 'reason="max-per-source" lip=127.0.0.1:%d' % srv.port in refused[0],
         "  logged once by the listener, naming the limit and lip=", refused)
    held.close()


def tls_cases(t, srv, tport, cert):
    trusting = ssl.create_default_context(cafile=cert)
    c = conn(srv, 20)
    c.line()
    c.cmd("STLS")
    c = Client(trusting.wrap_socket(c.s, server_hostname="localhost"))
    t.ok(login(c).startswith(b"+OK"), "alice logs in after STLS")
    c.cmd("QUIT")
    c.close()
    m = check(t, srv, src(20), "authenticated", "quit", "a session under STLS")
    ok = [ln for ln in srv.read_log().splitlines() if "auth ok " in ln and "rip=" + src(20) in ln]
    t.ok(len(ok) == 1 and re.search(r" tls=yes session=\S+ tls_via=stls tls_version=TLSv1\.[23]"
                                    r" tls_cipher=\S+$", ok[0]),
         "  the login line: tls_via=stls, version, cipher", ok)

    c = conn(srv, 21, tport)
    c = Client(trusting.wrap_socket(c.s, server_hostname="localhost"))
    c.line()
    t.ok(login(c).startswith(b"+OK"), "alice logs in on the POP3S port")
    c.cmd("QUIT")
    c.close()
    check(t, srv, src(21), "authenticated", "quit", "a session under implicit TLS", port=tport)
    ok = [ln for ln in srv.read_log().splitlines() if "auth ok " in ln and "rip=" + src(21) in ln]
    t.ok(len(ok) == 1 and " tls_via=implicit tls_version=TLSv1." in ok[0],
         "  the login line: tls_via=implicit", ok)

    # a refusal on the POP3S port: a clean close, never a plaintext -ERR
    held = conn(srv, 26, tport)
    c = conn(srv, 26, tport)
    got, closed = c.read_to_eof()
    c.close()
    held.close()
    t.ok(closed and got == b"", "over --max-per-source on the POP3S port: closed, no plaintext line",
         got)

    # each way a TLS client can fail the handshake
    c = conn(srv, 22, tport)
    c.send(b"USER alice\r\n")
    got, _ = c.read_to_eof()
    c.close()
    t.ok(not got.startswith(b"-ERR") and not got.startswith(b"+OK"),
         "plaintext sent to the POP3S port: no POP3 line comes back in clear", got)
    check(t, srv, src(22), "pre-auth", "tls-failed", "plaintext on the POP3S port",
          "wrong version number", port=tport)

    def refused_by(ctx, n, what):
        c = conn(srv, n, tport)
        try:
            ctx.wrap_socket(c.s, server_hostname="localhost")
            t.ok(False, what)
        except (ssl.SSLError, OSError) as e:
            t.ok(True, "%s (%s)" % (what, getattr(e, "reason", None) or type(e).__name__))
        c.close()

    # does not trust our self-signed certificate
    refused_by(ssl.create_default_context(), 23, "the client rejects the certificate")
    check(t, srv, src(23), "pre-auth", "tls-failed", "a client that rejects the certificate",
          "alert")

    alpn = ssl.create_default_context(cafile=cert)
    alpn.set_alpn_protocols(["imap"])
    refused_by(alpn, 24, "ALPN imap refused")
    check(t, srv, src(24), "pre-auth", "tls-failed", "ALPN imap", "application protocol")

    old = ssl.create_default_context(cafile=cert)
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pass
    refused_by(old, 25, "TLS 1.1 refused")
    m = check(t, srv, src(25), "pre-auth", "tls-failed", "TLS 1.1")
    t.ok(m is not None and m.group(6), "  with OpenSSL's reason (%s)" % (m.group(6) if m else None))


def startup(t, srv, tport):
    lines = [ln for ln in srv.read_log().splitlines() if " started listen=" in ln]
    want = "started listen=127.0.0.1:%d,127.0.0.1:%d(tls) tls=implicit+stls proxy=no seccomp=" % (
        srv.port, tport)
    t.ok(len(lines) == 1 and re.search(r"popa3d \S+ " + re.escape(want) + "(yes|no) ", lines[0]),
         "the start-up line names version, listeners, TLS, PROXY, seccomp", lines)


def body(t):
    fixture.require_root(t)
    warnings.simplefilter("ignore", DeprecationWarning)   # TLS 1.1 on purpose
    tls = fixture.built_with("HAVE_TLS") and shutil.which("openssl")
    d = tempfile.mkdtemp(prefix="popa3d-endlog.")
    os.chmod(d, 0o700)
    try:
        args = ["--timeout", "2", "--max-failures", "2", "--max-per-source", "1",
                "--penalty-max", "0"]
        tport = None
        if tls:
            cert, key = make_cert(d)
            tport = fixture.free_port()
            args += ["--tls-cert", cert, "--tls-key", key, "--listen-tls", "127.0.0.1:%d" % tport]
        with Server(args=args) as srv:
            srv.put_mailbox("alice", mbox(*sample_messages(2)))
            p = srv.put_mailbox("bob", mbox(*sample_messages(1)))
            os.chown(p, srv.uids["alice"], srv.uids["alice"])
            srv.start()
            plain_cases(t, srv)
            if tls:
                startup(t, srv, tport)
                tls_cases(t, srv, tport, cert)
            else:
                t.ok(True, "TLS cases # SKIP built without TLS or no openssl")
            t.eq(srv.stop(), 0, "clean stop")
    finally:
        shutil.rmtree(d, ignore_errors=True)


TAP().run(body)
