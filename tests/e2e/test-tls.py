# SPDX-License-Identifier: BSD-2-Clause
"""TLS end to end: STLS (RFC 2595) and POP3S (RFC 8314) with real clients
(python ssl/poplib, openssl s_client, curl, fetchmail, mpop), the
CVE-2011-0411 plaintext injection, --require-tls, SASL PLAIN (RFC
5034/4616), ALPN and protocol floor, key types, a stalled handshake, inetd
mode, socket activation, SIGHUP and the TLS module.  Where the private key
lives and what the key holder answers: test-keyholder.py.

The certificate is made by the test (openssl req, EC P-256) in its own
directory, readable by root only.
"""
import base64
import os
import poplib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from procfs import descendants, gone_or_zombie, memory_contains, status, wait_for  # noqa: E402
from fixture import Server, Client, capa, ctx_for, implicit, key_secret, make_cert, mbox, plain_ir, \
    python_login, sample_messages, stls, wire  # noqa: E402


# ------------------------------------------------------------------ start-up
def startup_errors(t, srv, cert, key, d):
    bin_ = fixture.popa3d_binary()
    base = [bin_, "-D", "-F", "-l", "127.0.0.1:%d" % fixture.free_port()] + srv.base_args()

    def run(extra):
        return subprocess.run(base + extra, capture_output=True, text=True, env=srv.env(),
                              timeout=30)

    r = run(["--tls-cert", cert])
    t.ok(r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "--tls-key" in r.stderr,
         "--tls-cert without --tls-key: exit 1, one line", r.stderr)
    r = run(["--listen-tls", "127.0.0.1:%d" % fixture.free_port()])
    t.ok(r.returncode == 1 and "--listen-tls" in r.stderr, "--listen-tls without a certificate: exit 1",
         r.stderr)
    r = run(["--require-tls"])
    t.ok(r.returncode == 1 and "--require-tls" in r.stderr, "--require-tls without a certificate: exit 1",
         r.stderr)
    other_cert, other_key = make_cert(d, "other")
    r = run(["--tls-cert", cert, "--tls-key", other_key])
    t.ok(r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "match" in r.stderr,
         "a key that does not match the certificate: exit 1, one line", r.stderr)
    bad = os.path.join(d, "garbage.pem")
    with open(bad, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    r = run(["--tls-cert", bad, "--tls-key", key])
    t.ok(r.returncode == 1 and "--tls-cert" in r.stderr, "a garbage certificate: exit 1", r.stderr)
    r = run(["--tls-cert", cert, "--tls-key", os.path.join(d, "missing.pem")])
    t.ok(r.returncode == 1 and "--tls-key" in r.stderr, "a missing key file: exit 1", r.stderr)
    loose = os.path.join(d, "loose-key.pem")
    shutil.copy(key, loose)
    os.chmod(loose, 0o644)
    r = run(["--tls-cert", cert, "--tls-key", loose])
    t.ok(r.returncode == 1 and "readable by others" in r.stderr,
         "a world-readable key: exit 1, says why", r.stderr)


# ------------------------------------------------------------------ STLS
def stls_tests(t, srv, ctx, msgs):
    c = Client(srv.connect())
    c.line()
    _, caps = capa(c)
    t.ok("STLS" in caps and "USER" in caps and not any(x.startswith("SASL") for x in caps),
         "CAPA before STLS: STLS and USER, no SASL (PLAIN only under TLS)", caps)
    r = c.cmd("AUTH")
    t.ok(r.startswith(b"-ERR"), "bare AUTH before TLS: -ERR", r)
    r = c.cmd("AUTH PLAIN " + plain_ir("", "alice", "alice-secret"))
    t.ok(r.startswith(b"-ERR"), "AUTH PLAIN before TLS: -ERR, nothing checked", r)
    c.cmd("USER alice")
    r, tc = stls(c, ctx)
    t.eq(r, b"+OK Begin TLS negotiation\r\n", "STLS: +OK Begin TLS negotiation")
    _, caps = capa(tc)
    t.ok("STLS" not in caps and "USER" in caps and "SASL PLAIN" in caps,
         "CAPA under TLS: no STLS; USER and SASL PLAIN", caps)
    r = tc.cmd("PASS alice-secret")
    t.ok(r.startswith(b"-ERR"), "USER sent before STLS is forgotten: PASS -> -ERR", r)
    r = tc.cmd("STLS")
    t.ok(r.startswith(b"-ERR"), "STLS under TLS: -ERR (RFC 2595 s4)", r)
    tc.cmd("USER alice")
    r = tc.cmd("PASS alice-secret")
    t.ok(r.startswith(b"+OK"), "USER/PASS under TLS logs in", r)
    r = tc.cmd("STAT")
    t.ok(r.startswith(b"+OK %d " % len(msgs)), "STAT through the relay", r)
    r = tc.cmd("RETR 2")
    body = tc.multiline()
    t.ok(r.startswith(b"+OK") and fixture.unstuff(body) == wire(msgs[1]),
         "RETR 2 through the relay, byte-identical", r)
    r = tc.cmd("STLS")
    t.ok(r.startswith(b"-ERR"), "STLS after login: -ERR", r)
    r = tc.cmd("QUIT")
    t.ok(r.startswith(b"+OK"), "QUIT", r)
    t.ok(tc.closed(), "closed after QUIT")

    # python's poplib, which checks the certificate and host name
    p = poplib.POP3(srv.host, srv.port, timeout=20)
    p.stls(context=ctx)
    caps = p.capa()
    t.ok("STLS" not in caps and "SASL" in caps, "poplib: CAPA after stls()", caps)
    p.user("alice")
    t.ok(p.pass_("alice-secret").startswith(b"+OK"), "poplib: stls() then USER/PASS")
    t.eq(p.stat()[0], len(msgs), "poplib: STAT over TLS")
    t.eq(b"\r\n".join(p.retr(3)[1]) + b"\r\n", wire(msgs[2]), "poplib: RETR 3 over TLS")
    p.quit()

    # the CVE-2011-0411 injection: STLS and a command in one write
    c = Client(srv.connect())
    c.line()
    c.send(b"STLS\r\nUSER x\r\n")
    first = c.line()
    c.s.settimeout(15)
    rest, _ = c.read_to_eof((ConnectionResetError, socket.timeout))
    t.eq(first, b"+OK Begin TLS negotiation\r\n", "injection: STLS answered")
    t.ok(b"+OK" not in rest and b"-ERR" not in rest,
         "injection: the USER sent in clear after STLS is never answered", rest)
    t.ok(rest == b"" or rest[:1] == b"\x15", "injection: only a TLS alert (or nothing), then closed",
         rest)
    c.close()

    # pipelined commands inside TLS after PASS reach the session in order
    c = Client(srv.connect())
    c.line()
    _, tc = stls(c, ctx)
    tc.send(b"USER alice\r\nPASS alice-secret\r\nSTAT\r\nLIST 1\r\nQUIT\r\n")
    r = [tc.line() for _ in range(3)]
    t.ok(r[0] == b"+OK\r\n" and r[1].startswith(b"+OK") and r[2].startswith(b"+OK %d " % len(msgs)),
         "pipelined USER/PASS/STAT under TLS: answered in order", r)
    r = [tc.line(), tc.line()]
    t.ok(r[0].startswith(b"+OK 1 ") and r[1].startswith(b"+OK"), "and LIST 1, QUIT", r)
    tc.close()


def openssl_s_client(t, srv, cert, msgs):
    if not shutil.which("openssl"):
        t.ok(True, "openssl s_client # SKIP not installed")
        return
    r = subprocess.run(["openssl", "s_client", "-starttls", "pop3", "-connect",
                        "%s:%d" % (srv.host, srv.port), "-CAfile", cert, "-verify_return_error",
                        "-quiet", "-ign_eof"],
                       input=b"USER alice\r\nPASS alice-secret\r\nSTAT\r\nQUIT\r\n",
                       capture_output=True, timeout=60)
    out = r.stdout
    t.ok(b"+OK %d " % len(msgs) in out and b"+OK Bye" in out,
         "openssl s_client -starttls pop3: login, STAT, QUIT", (out, r.stderr[-600:]))


def big_message(t, srv, tport, cert, big):
    """A 3 MB message through the relay's bounded buffers, both ways busy."""
    c = implicit(srv, tport, ctx_for(cert), timeout=60)
    c.line()
    c.cmd("USER bob")
    t.ok(c.cmd("PASS bob secret").startswith(b"+OK"), "bob logs in over POP3S")
    c.send(b"RETR 1\r\nNOOP\r\n")
    r = c.line()
    body = c.multiline()
    r2 = c.line()
    t.ok(r.startswith(b"+OK") and fixture.unstuff(body) == wire(big) and r2 == b"+OK\r\n",
         "a %d-octet message through the relay, byte-identical, then the pipelined NOOP" % len(wire(big)),
         (r, len(body), r2))
    c.cmd("QUIT")
    c.close()


def curl_tests(t, srv, tport, cert, msgs):
    if not shutil.which("curl"):
        t.ok(True, "curl # SKIP not installed")
        return
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "--cacert", cert, "-u", "alice:alice-secret",
                        "pop3://localhost:%d/1" % srv.port, "--resolve",
                        "localhost:%d:127.0.0.1" % srv.port],
                       capture_output=True, timeout=60)
    t.ok(r.returncode == 0 and r.stdout == wire(msgs[0]),
         "curl --ssl-reqd pop3:// (STLS, then AUTH PLAIN): message 1 byte-identical",
         (r.returncode, r.stderr, r.stdout[:200]))
    r = subprocess.run(["curl", "-sS", "--cacert", cert, "-u", "alice:alice-secret",
                        "pop3s://localhost:%d/" % tport, "--resolve",
                        "localhost:%d:127.0.0.1" % tport],
                       capture_output=True, timeout=60)
    lines = r.stdout.decode(errors="replace").split("\r\n")
    t.ok(r.returncode == 0 and len([x for x in lines if x]) == len(msgs),
         "curl pop3s:// (implicit TLS): LIST of %d messages" % len(msgs), (r.returncode, r.stderr, lines))
    r = subprocess.run(["curl", "-sS", "--cacert", cert, "-u", "alice:wrong",
                        "pop3s://localhost:%d/" % tport, "--resolve",
                        "localhost:%d:127.0.0.1" % tport],
                       capture_output=True, timeout=60)
    t.ok(r.returncode != 0, "curl pop3s:// with a wrong password fails", r.returncode)


def fetchmail_test(t, srv, tport, cert, msgs):
    if not shutil.which("fetchmail"):
        t.ok(True, "fetchmail # SKIP not installed")
        return
    d = tempfile.mkdtemp(prefix="fetchmail.", dir=srv.dir)
    run = fixture.fetchmail_runner(d, "localhost", tport, "alice", "alice-secret",
                                   'ssl sslcertck sslcertfile "%s"' % cert)
    r, got = run()
    t.ok(r.returncode == 0 and got == [wire(m) for m in msgs],
         "fetchmail --ssl with sslcertck (implicit TLS): %d messages byte-identical" % len(msgs),
         (r.returncode, r.stdout[-800:], r.stderr[-800:], len(got)))


# ------------------------------------------------------------------ POP3S
def implicit_tests(t, srv, tport, cert, msgs):
    c = implicit(srv, tport, ctx_for(cert))
    t.ok(c.line().startswith(b"+OK"), "POP3S: greeting inside TLS")
    _, caps = capa(c)
    t.ok("STLS" not in caps and "SASL PLAIN" in caps and "USER" in caps,
         "POP3S CAPA: SASL PLAIN and USER, no STLS", caps)
    r = c.cmd("AUTH")
    rest = c.multiline()
    t.ok(r == b"+OK\r\n" and rest == b"PLAIN\r\n", "bare AUTH lists PLAIN (RFC 1734 discovery)",
         (r, rest))
    r = c.cmd("AUTH PLAIN " + plain_ir("", "alice", "alice-secret"))
    t.ok(r.startswith(b"+OK"), "AUTH PLAIN with an initial response logs in", r)
    r = c.cmd("STAT")
    t.ok(r.startswith(b"+OK %d " % len(msgs)), "STAT after AUTH PLAIN", r)
    c.cmd("QUIT")
    c.close()

    c = implicit(srv, tport, ctx_for(cert))
    c.line()
    r = c.cmd("AUTH PLAIN")
    t.eq(r, b"+ \r\n", "AUTH PLAIN without a response: empty challenge '+ '")
    r = c.cmd(plain_ir("alice", "alice", "alice-secret"))
    t.ok(r.startswith(b"+OK"), "continuation response, authzid equal to authcid: logged in", r)
    c.cmd("QUIT")
    c.close()

    log_before = srv.read_log()
    c = implicit(srv, tport, ctx_for(cert))
    c.line()
    r = c.cmd("AUTH PLAIN")
    r2 = c.cmd("*")
    t.ok(r == b"+ \r\n" and r2.startswith(b"-ERR") and b"cancel" in r2.lower(),
         "'*' cancels: -ERR", (r, r2))
    r = c.cmd("AUTH PLAIN " + plain_ir("", "alice", "wrong"))
    t.ok(r.startswith(b"-ERR [AUTH]"), "AUTH PLAIN, wrong password: -ERR [AUTH]", r)
    r = c.cmd("AUTH PLAIN " + plain_ir("bob", "alice", "alice-secret"))
    t.ok(r.startswith(b"-ERR [AUTH]"), "authzid different from authcid: -ERR [AUTH] (no proxy login)", r)
    # the third failure ends the session (--max-failures 3)
    r = c.cmd("AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA")
    t.ok(r.startswith(b"-ERR"), "malformed base64 (no padding): -ERR", r)
    t.ok(c.closed(), "cancel is no failure; wrong password, authzid and bad base64 are: closed after 3")
    log = srv.read_log()[len(log_before):]
    t.ok("auth failure user=alice rip=127.0.0.1 method=PLAIN tls=yes" in log,
         "log: auth failure with method=PLAIN tls=yes", log)
    t.ok("bob" not in log, "the refused authzid never reached the leader", log)

    c = implicit(srv, tport, ctx_for(cert))
    c.line()
    for raw, what in (("AUTH PLAIN =", "'=' (an empty response) is malformed PLAIN"),
                      ("AUTH PLAIN Zh==", "non-canonical base64")):
        r = c.cmd(raw)
        t.ok(r.startswith(b"-ERR [AUTH]"), what + ": -ERR [AUTH]", r)
    r = c.cmd("AUTH CRAM-MD5")
    t.ok(r.startswith(b"-ERR"), "unsupported mechanism: -ERR", r)
    r = c.cmd("AUTH PLAIN")
    c.send(b"A" * 9000 + b"\r\n")
    r2 = c.line()
    t.ok(r == b"+ \r\n" and r2.startswith(b"-ERR"), "a continuation line over 8 KiB: -ERR", r2)
    t.ok(c.closed(), "and it counted as the third failure")

    c = implicit(srv, tport, ctx_for(cert))
    c.line()
    r = c.cmd("AUTH PLAIN")
    c.send(b"=" * 0 + base64.b64encode(b"\0alice\0" + b"p" * 1000) + b"\r\n")
    r2 = c.line()
    t.ok(r2.startswith(b"-ERR [AUTH]"), "a 5.4 KB continuation line within 8 KiB is decoded (bad password)", r2)
    c.close()

    # ALPN (RFC 7301): pop3 or nothing; anything else is refused
    c = implicit(srv, tport, ctx_for(cert), alpn=["pop3"])
    t.eq(c.s.selected_alpn_protocol(), "pop3", "ALPN pop3 accepted and selected")
    c.close()
    try:
        c = implicit(srv, tport, ctx_for(cert), alpn=["imap"])
        c.line()
        t.ok(False, "ALPN imap refused")
    except (ssl.SSLError, OSError, EOFError) as e:
        t.ok(True, "ALPN imap refused (%s)" % type(e).__name__)
    # the protocol floor: TLS 1.2
    old = ctx_for(cert)
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pass
    try:
        c = implicit(srv, tport, old)
        c.line()
        t.ok(False, "TLS 1.1 refused")
    except (ssl.SSLError, OSError, EOFError) as e:
        t.ok(True, "TLS 1.1 refused (%s)" % type(e).__name__)
    c = implicit(srv, tport, ctx_for(cert))
    t.ok(c.s.version() in ("TLSv1.2", "TLSv1.3") and c.s.compression() is None,
         "negotiated %s, no compression" % c.s.version())
    c.close()


# ------------------------------------------------------------------ key types
def s_client(port, cert, extra, starttls=False):
    """openssl s_client on POP3S (or STLS): login, STAT, QUIT.  Returns
    (stdout, the -brief summary on stderr)."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", cert,
           "-verify_return_error", "-brief", "-ign_eof"] + extra
    if starttls:
        cmd += ["-starttls", "pop3"]
    r = subprocess.run(cmd, input=b"USER alice\r\nPASS alice-secret\r\nSTAT\r\nQUIT\r\n",
                       capture_output=True, timeout=60)
    return r.stdout, r.stderr.decode(errors="replace")


def mpop_run(srv, port, cert, prios, starttls):
    """mpop (GnuTLS) fetching alice's mail over TLS with GnuTLS priorities
    prios, keeping it on the server: (exit status, messages delivered)."""
    d = tempfile.mkdtemp(prefix="mpop.", dir=srv.dir)
    box = os.path.join(d, "mbox")
    open(box, "wb").close()
    cmd = ["mpop", "--host=127.0.0.1", "--port=%d" % port, "--user=alice",
           "--passwordeval=echo alice-secret", "--auth=user", "--tls=on",
           "--tls-starttls=%s" % ("on" if starttls else "off"), "--tls-trust-file=" + cert,
           "--tls-priorities=" + prios, "--delivery=mbox," + box, "--keep=on",
           "--uidls-file=" + os.path.join(d, "uidls"), "--received-header=off", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, HOME=d), timeout=120)
    with open(box, "rb") as f:
        n = f.read().count(b"\nFrom ") + (1 if os.path.getsize(box) else 0)
    return r.returncode, n, r.stderr


def handshakes(t, srv, tport, cert, msgs, kind):
    """TLS 1.2 and 1.3 with a kind (RSA, ECDSA) key, every private-key
    operation answered by the key holder, with each real client."""
    for ver, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        v, r = python_login(srv, tport, cert, ver)
        t.ok(v == name and r.startswith(b"+OK %d " % len(msgs)),
             "%s %s: python ssl logs in over POP3S" % (kind, name), (v, r))
    cases = [(["-tls1_3"], "TLSv1.3", None), (["-tls1_2"], "TLSv1.2", None)]
    if kind == "RSA":
        # a PKCS #1 v1.5 signature (pad PKCS1) made by the holder
        cases += [(["-tls1_2", "-sigalgs", "RSA+SHA256"], "TLSv1.2", "Signature type: RSA\n")]
    for extra, proto, want in cases:
        out, brief = s_client(tport, cert, extra)
        t.ok(b"+OK %d " % len(msgs) in out and "Protocol version: " + proto in brief and
             (want is None or want in brief),
             "%s openssl s_client %s: login and STAT" % (kind, " ".join(extra)), (out, brief))
    if kind == "RSA":
        # RSA key exchange (no forward secrecy; its decryption would be a
        # Bleichenbacher oracle in the holder) is not offered
        out, brief = s_client(tport, cert, ["-tls1_2", "-cipher", "AES128-GCM-SHA256"])
        t.ok(b"+OK" not in out and "handshake failure" in brief,
             "RSA key exchange (AES128-GCM-SHA256) refused: handshake failure", brief)
    out, brief = s_client(srv.port, cert, ["-tls1_2"], starttls=True)
    t.ok(b"+OK %d " % len(msgs) in out and "TLSv1.2" in brief,
         "%s openssl s_client -starttls pop3 -tls1_2" % kind, (out, brief))
    if shutil.which("mpop"):
        for prios, name in (("NORMAL:-VERS-ALL:+VERS-TLS1.2", "TLS 1.2"),
                            ("NORMAL:-VERS-ALL:+VERS-TLS1.3", "TLS 1.3")):
            for port, st in ((tport, False), (srv.port, True)):
                rc, n, err = mpop_run(srv, port, cert, prios, st)
                t.ok(rc == 0 and n == len(msgs), "%s mpop (GnuTLS) %s %s: %d messages" %
                     (kind, name, "STLS" if st else "POP3S", len(msgs)), (rc, n, err))
    else:
        t.ok(True, "mpop # SKIP not installed")


def rsa_tests(t, d, msgs):
    """An RSA key: the same clients (where its prime lives: test-keyholder.py)."""
    cert, key = make_cert(d, "rsa", "rsa:2048")
    tport = fixture.free_port()
    with Server(args=["--tls-cert", cert, "--tls-key", key, "--penalty-max", "0",
                      "--listen-tls", "127.0.0.1:%d" % tport]) as srv:
        srv.put_mailbox("alice", mbox(*msgs))
        srv.start()
        handshakes(t, srv, tport, cert, msgs, "RSA")
        curl_tests(t, srv, tport, cert, msgs)
        fetchmail_test(t, srv, tport, cert, msgs)
        t.eq(srv.get_mailbox("alice"), mbox(*msgs), "RSA: the mailbox is unchanged")
        t.eq(srv.stop(), 0, "RSA: SIGTERM exit 0")


def ed25519_refused(t, d):
    """No RSA_METHOD/EC_KEY_METHOD for Ed25519: refused at start, one line."""
    cert, key = make_cert(d, "ed25519", "ed25519")
    with Server() as srv:
        r = subprocess.run([fixture.popa3d_binary(), "-D", "-F", "-l", "127.0.0.1:%d" % fixture.free_port(),
                            "--tls-cert", cert, "--tls-key", key] + srv.base_args(),
                           capture_output=True, text=True, env=srv.env(), timeout=30)
    t.ok(r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "Ed25519" in r.stderr,
         "an Ed25519 key is refused at start with one line", r.stderr)


# ------------------------------------------------------------------ options
def require_tls_tests(t, srv_args, cert, key, msgs):
    with Server(args=srv_args + ["--require-tls"]) as srv:
        srv.put_mailbox("alice", mbox(*msgs))
        srv.start()
        c = Client(srv.connect())
        c.line()
        _, caps = capa(c)
        t.ok("STLS" in caps and "USER" not in caps and not any(x.startswith("SASL") for x in caps),
             "--require-tls: CAPA before STLS has STLS, no USER, no SASL", caps)
        for cmd in ("USER alice", "PASS alice-secret", "AUTH PLAIN " + plain_ir("", "alice", "alice-secret"),
                    "AUTH"):
            r = c.cmd(cmd)
            t.ok(r.startswith(b"-ERR [AUTH]"), "--require-tls: %s before TLS -> -ERR [AUTH]" % cmd.split()[0],
                 r)
        _, tc = stls(c, ctx_for(cert))
        _, caps = capa(tc)
        t.ok("USER" in caps and "SASL PLAIN" in caps, "--require-tls: after STLS USER and SASL", caps)
        r = tc.cmd("AUTH PLAIN " + plain_ir("", "alice", "alice-secret"))
        t.ok(r.startswith(b"+OK"), "--require-tls: AUTH PLAIN under TLS logs in", r)
        tc.cmd("QUIT")
        tc.close()
        t.ok("method=PLAIN tls=yes" in srv.read_log(), "log: auth ok ... method=PLAIN tls=yes")

    with Server(args=srv_args + ["--allow-plaintext-auth"]) as srv:
        srv.put_mailbox("alice", mbox(*msgs))
        srv.start()
        c = Client(srv.connect())
        c.line()
        _, caps = capa(c)
        t.ok("SASL PLAIN" in caps and "STLS" in caps, "--allow-plaintext-auth: SASL PLAIN before TLS", caps)
        r = c.cmd("AUTH PLAIN " + plain_ir("", "alice", "alice-secret"))
        t.ok(r.startswith(b"+OK"), "--allow-plaintext-auth: AUTH PLAIN in clear logs in", r)
        c.cmd("QUIT")
        c.close()
        t.ok("method=PLAIN tls=no" in srv.read_log(), "log: auth ok ... method=PLAIN tls=no")


def stall_tests(t, srv_args):
    tport = fixture.free_port()
    with Server(args=srv_args + ["--listen-tls", "127.0.0.1:%d" % tport, "--timeout", "2"]) as srv:
        srv.start()
        # half a ClientHello record header, then silence
        s = socket.create_connection((srv.host, tport), timeout=30)
        s.sendall(b"\x16\x03\x01")
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout) as e:
            data = e
        t.ok(data == b"" or isinstance(data, ConnectionResetError) or data[:1] == b"\x15",
             "POP3S: a client stalling mid-handshake is dropped at --timeout", data)
        s.close()
        c = Client(srv.connect(timeout=30))
        c.line()
        t.eq(c.cmd("STLS"), b"+OK Begin TLS negotiation\r\n", "STLS then silence")
        try:
            data = c.s.recv(100)
        except (ConnectionResetError, socket.timeout) as e:
            data = e
        t.ok(data == b"" or isinstance(data, ConnectionResetError) or data[:1] == b"\x15",
             "STLS: a handshake that never starts is dropped at --timeout", data)
        c.close()


def inetd_stls(t, srv, cert, key, msgs):
    """inetd mode (the connection on fds 0 and 1): STLS, login, and the
    session behind the relay, while the leader drops fds 0/1."""
    a, b = socket.socketpair()
    cmd = [fixture.popa3d_binary()] + srv.base_args() + ["--tls-cert", cert, "--tls-key", key]
    p = subprocess.Popen(cmd, env=srv.env(), stdin=b.fileno(), stdout=b.fileno(),
                         stderr=open(srv.log_path, "ab"))
    b.close()
    a.settimeout(20)
    c = Client(a)
    try:
        c.line()
        _, tc = stls(c, ctx_for(cert))
        tc.cmd("USER alice")
        r = tc.cmd("PASS alice-secret")
        r2 = tc.cmd("STAT")
        # the connection's own key holder ended with its handshake: the
        # session and the relay are all that is left, and neither has it
        def live():
            return [x for x in descendants(p.pid) if not gone_or_zombie(x)]
        left = [p.pid] + (wait_for(lambda: len(live()) == 1 and live(), 10) or [])
        t.ok(len(left) == 2 and all(memory_contains(x, key_secret(key)) == set() for x in left),
             "inetd mode: after the handshake the key is in no process of the connection", left)
        r3 = tc.cmd("QUIT")
        t.ok(r.startswith(b"+OK") and r2.startswith(b"+OK %d " % len(msgs)) and r3.startswith(b"+OK"),
             "inetd mode: STLS, login, STAT and QUIT through the relay", (r, r2, r3))
        t.ok(tc.closed(), "inetd mode: closed after QUIT")
    finally:
        a.close()
        rc = p.wait(30)
    t.eq(rc, 0, "inetd mode under TLS: exit 0 after QUIT")
    # no start-up check in inetd mode: the pre-auth child refuses a loose key
    loose = os.path.join(os.path.dirname(key), "inetd-loose-key.pem")
    shutil.copy(key, loose)
    os.chmod(loose, 0o604)
    a, b = socket.socketpair()
    p = subprocess.Popen([fixture.popa3d_binary()] + srv.base_args() +
                         ["--tls-cert", cert, "--tls-key", loose], env=srv.env(),
                         stdin=b.fileno(), stdout=b.fileno(), stderr=open(srv.log_path, "ab"))
    b.close()
    a.settimeout(20)
    a.sendall(b"CAPA\r\n")
    try:
        out = a.recv(100)
    except (ConnectionResetError, socket.timeout) as e:
        out = e
    a.close()
    rc = p.wait(30)
    t.ok((out == b"" or isinstance(out, ConnectionResetError)) and rc != 0 and
         "readable by others" in srv.read_log(),
         "inetd mode: a key readable by others ends the connection before the greeting, logged",
         (out, rc))


def socket_activation(t, srv, cert, key, msgs):
    """systemd hands over two sockets; the one named pop3s
    (LISTEN_FDNAMES, FileDescriptorName=) is implicit TLS."""
    socks = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        socks.append(s)
    plain_port, tls_port = (x.getsockname()[1] for x in socks)
    fds = [x.fileno() for x in socks]

    def to_3_and_4():
        os.dup2(fds[0], 3)
        os.dup2(fds[1], 4)
    script = 'LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=pop3:pop3s exec "$@"'
    cmd = ["sh", "-c", script, "sh", fixture.popa3d_binary(), "-D", "-F", "-l", "127.0.0.1:1",
           "--tls-cert", cert, "--tls-key", key] + srv.base_args()
    p = subprocess.Popen(cmd, env=srv.env(), stdin=subprocess.DEVNULL, pass_fds=(3, 4),
                         preexec_fn=to_3_and_4, stdout=open(srv.log_path, "ab"),
                         stderr=subprocess.STDOUT)
    for x in socks:
        x.close()
    try:
        c = implicit(srv, tls_port, ctx_for(cert))
        t.ok(c.line().startswith(b"+OK"), "socket activation: the pop3s socket speaks implicit TLS")
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "socket activation: login over POP3S")
        c.cmd("QUIT")
        c.close()
        c = Client(socket.create_connection(("127.0.0.1", plain_port), timeout=10))
        c.line()
        _, caps = capa(c)
        t.ok("STLS" in caps, "socket activation: the pop3 socket is plain, with STLS", caps)
        c.cmd("QUIT")
        c.close()
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
    t.eq(rc, 0, "socket activation: SIGTERM exit 0")


def sighup_test(t, srv, cert, key, d):
    """SIGHUP re-checks certificate and key: a broken pair is logged."""
    saved = open(key, "rb").read()
    _, other_key = make_cert(d, "hup")
    shutil.copy(other_key, key)
    before = len(srv.read_log())
    os.kill(srv.proc.pid, signal.SIGHUP)
    log = wait_for(lambda: "match" in srv.read_log()[before:] and srv.read_log()[before:], 10)
    t.ok(log and "not reloaded" in log and "--tls-key" in log,
         "SIGHUP with a key that does not match: logged, configuration kept", log)
    with open(key, "wb") as f:
        f.write(saved)
    os.chmod(key, 0o600)
    t.ok(srv.proc.poll() is None, "the listener keeps running")


def maps_of(pid):
    """/proc/PID/maps; empty for a process that ended meanwhile (the
    pre-auth child exits after a login)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def tls_module_tests(t, cert, key, msgs):
    """OpenSSL is a module, mapped only when TLS is configured; the
    daemon loads only a module it can trust, of its own build."""
    with Server() as srv:
        srv.put_mailbox("alice", mbox(*msgs))
        srv.start()
        m = maps_of(srv.proc.pid)
        t.ok("libssl" not in m and "libcrypto" not in m and "popa3d-tls.so" not in m,
             "no TLS configured: the listener maps neither libssl, libcrypto nor the module")
        c = Client(srv.connect())
        c.line()
        c.cmd("USER alice")
        c.cmd("PASS alice-secret")
        pids = descendants(srv.proc.pid)
        t.ok(pids and all("libssl" not in maps_of(p) and "libcrypto" not in maps_of(p) for p in pids),
             "no TLS configured: nor does the session (%d processes)" % len(pids))
        c.cmd("QUIT")
        c.close()
    with Server(args=["--tls-cert", cert, "--tls-key", key]) as srv:
        srv.start()
        m = maps_of(srv.proc.pid)
        t.ok("popa3d-tls.so" in m and "libssl" in m, "TLS configured: the listener loaded the module")
        bin_ = fixture.popa3d_binary()
        d = tempfile.mkdtemp(prefix="popa3d-tlsmod.")
        try:
            os.chmod(d, 0o755)
            copy = os.path.join(d, "popa3d")
            shutil.copy2(bin_, copy)
            base = [copy, "-D", "-F", "-l", "127.0.0.1:%d" % fixture.free_port(),
                    "--tls-cert", cert, "--tls-key", key] + srv.base_args()

            def run():
                return subprocess.run(base, capture_output=True, text=True, env=srv.env(), timeout=30)
            mod = os.path.join(d, "popa3d-tls.so")
            shutil.copy2(os.path.join(os.path.dirname(bin_), "popa3d-tls.so"), mod)
            os.chmod(mod, 0o775)
            r = run()
            t.ok(r.returncode == 1 and "popa3d-tls.so" in r.stderr and "writable" in r.stderr,
                 "a group-writable module is refused at start, naming it", r.stderr)
            os.chmod(mod, 0o755)
            os.chown(mod, 65534, 65534)
            r = run()
            t.ok(r.returncode == 1 and "owned by neither" in r.stderr,
                 "a module owned by another user is refused", r.stderr)
            os.unlink(mod)
            with open(mod, "wb") as f:
                f.write(b"not an ELF object\n")
            os.chmod(mod, 0o755)
            r = run()
            t.ok(r.returncode == 1 and "popa3d-tls.so" in r.stderr and len(r.stderr.splitlines()) == 1,
                 "a module that does not load: exit 1, one line", r.stderr)
            os.unlink(mod)
            # a shared object that is not ours: no popa3d_tls_ops
            lib = [l.split()[-1] for l in maps_of(os.getpid()).splitlines() if "libc.so" in l]
            if lib:
                shutil.copy2(lib[0], mod)
                os.chmod(mod, 0o755)
                r = run()
                t.ok(r.returncode == 1 and "not the module of popa3d" in r.stderr,
                     "a shared object without our entry point is refused", r.stderr)
                os.unlink(mod)
        finally:
            shutil.rmtree(d, ignore_errors=True)


def tls_built():
    cfg = os.path.join(os.environ.get("top_builddir", "."), "config.h")
    try:
        with open(cfg) as f:
            return "#define HAVE_TLS 1" in f.read()
    except OSError:
        return True


def without_tls(t):
    """A --without-tls build refuses every TLS option with one clear line."""
    with Server() as srv:
        base = [fixture.popa3d_binary(), "-D", "-F", "-l", "127.0.0.1:%d" % fixture.free_port()] + \
            srv.base_args()
        for extra in (["--tls-cert", "/c.pem", "--tls-key", "/k.pem"],
                      ["--listen-tls", "127.0.0.1:%d" % fixture.free_port()], ["--require-tls"]):
            r = subprocess.run(base + extra, capture_output=True, text=True, env=srv.env(), timeout=30)
            t.ok(r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "without TLS" in r.stderr,
                 "built --without-tls: %s refused at start-up, one line" % extra[0], r.stderr)


def body(t):
    fixture.require_root(t)
    warnings.simplefilter("ignore", DeprecationWarning)   # TLS 1.1 on purpose
    if not tls_built():
        without_tls(t)
        return
    if not shutil.which("openssl"):
        t.skip_all("openssl not installed")
    d = tempfile.mkdtemp(prefix="popa3d-tls.")
    os.chmod(d, 0o700)
    try:
        cert, key = make_cert(d)
        msgs = sample_messages(3)
        tport = fixture.free_port()
        tls_args = ["--tls-cert", cert, "--tls-key", key, "--penalty-max", "0"]
        with Server(args=tls_args + ["--listen-tls", "127.0.0.1:%d" % tport]) as srv:
            startup_errors(t, srv, cert, key, d)
            srv.put_mailbox("alice", mbox(*msgs))
            big = ("Subject: big\n\n" + "".join(".%06d the quick brown fox jumps over the lazy dog\n" % i
                                               for i in range(60000))).encode()
            srv.put_mailbox("bob", mbox(big))
            srv.start()
            stls_tests(t, srv, ctx_for(cert), msgs)
            big_message(t, srv, tport, cert, big)
            openssl_s_client(t, srv, cert, msgs)
            implicit_tests(t, srv, tport, cert, msgs)
            curl_tests(t, srv, tport, cert, msgs)
            fetchmail_test(t, srv, tport, cert, msgs)
            handshakes(t, srv, tport, cert, msgs, "ECDSA")
            inetd_stls(t, srv, cert, key, msgs)
            socket_activation(t, srv, cert, key, msgs)
            sighup_test(t, srv, cert, key, d)
            t.eq(srv.get_mailbox("alice"), mbox(*msgs), "the mailbox is unchanged (nothing deleted)")
            t.eq(srv.stop(), 0, "SIGTERM: exit 0")
        rsa_tests(t, d, msgs)
        ed25519_refused(t, d)
        tls_module_tests(t, cert, key, msgs)
        require_tls_tests(t, tls_args, cert, key, msgs)
        stall_tests(t, tls_args)
    finally:
        shutil.rmtree(d, ignore_errors=True)


TAP().run(body)
