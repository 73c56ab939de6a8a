# SPDX-License-Identifier: BSD-2-Clause
"""--tls-cert/--tls-key through symlinks (issue 14): certbot's layout,
live/NAME/*.pem -> ../../archive/NAME/*1.pem, is accepted when only root
could have set up every step (every component of the resolved path, the
links and their directories owned by root and writable by nobody else,
as OpenSSH checks its keys); otherwise start-up fails with one line that
names the file and the component.  Also a renewal (the link moved to a
new archive file) is used from the next SIGHUP on (standalone, the key
holder reads the pair once per configuration)."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client, make_cert  # noqa: E402
from procfs import wait_for  # noqa: E402


def stls_login(t, srv, name):
    c = Client(srv.connect())
    c.line()
    r = c.cmd("STLS")
    if not t.ok(r.startswith(b"+OK"), "%s: STLS offered" % name, r):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ts = ctx.wrap_socket(c.s, server_hostname="localhost")
    der = ts.getpeercert(binary_form=True)
    c = Client(ts)
    c.cmd("USER alice")
    t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "%s: login under TLS" % name)
    c.cmd("QUIT")
    c.close()
    return der


def pem_der(path):
    return subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"],
                          capture_output=True, check=True).stdout


def body(t):
    fixture.require_tls(t)
    d = tempfile.mkdtemp(prefix="popa3d-tlsfiles.")
    os.chmod(d, 0o755)
    try:
        le = os.path.join(d, "letsencrypt")
        arch = os.path.join(le, "archive", "example.org")
        live = os.path.join(le, "live", "example.org")
        os.makedirs(arch)
        os.makedirs(live)
        for p in (le, os.path.dirname(arch), arch, os.path.dirname(live), live):
            os.chmod(p, 0o755)
        cert1, key1 = make_cert(arch, "one")
        cert2, key2 = make_cert(arch, "two")
        lcert = os.path.join(live, "fullchain.pem")
        lkey = os.path.join(live, "privkey.pem")
        os.symlink("../../archive/example.org/one-cert.pem", lcert)
        os.symlink("../../archive/example.org/one-key.pem", lkey)

        with Server(args=["--tls-cert", lcert, "--tls-key", lkey, "--penalty-max", "0"]) as srv:
            srv.put_mailbox("alice", b"")
            srv.start()
            der = stls_login(t, srv, "certbot symlinks")
            t.ok(der == pem_der(cert1), "the certificate served is the one the link names")
            # certbot renew: new archive files, the links moved
            tmp = lcert + ".new"
            os.symlink("../../archive/example.org/two-cert.pem", tmp)
            os.rename(tmp, lcert)
            os.symlink("../../archive/example.org/two-key.pem", tmp)
            os.rename(tmp, lkey)
            before = len(srv.read_log())
            os.kill(srv.proc.pid, signal.SIGHUP)
            wait_for(lambda: "reloaded" in srv.read_log()[before:], 10)
            der = stls_login(t, srv, "after a renewal")
            t.ok(der == pem_der(cert2), "after SIGHUP the renewed certificate is served")
            t.eq(srv.stop(), 0, "clean stop")

            base = [fixture.popa3d_binary(), "-D", "-F", "-l",
                    "127.0.0.1:%d" % fixture.free_port()] + srv.base_args()

            def start_fails(why, needle):
                r = subprocess.run(base + ["--tls-cert", lcert, "--tls-key", lkey],
                                   capture_output=True, text=True, env=srv.env(), timeout=30)
                lines = r.stderr.strip().splitlines()
                t.ok(r.returncode == 1 and len(lines) == 1 and needle in r.stderr,
                     "%s: refused at start, one line naming it" % why, r.stderr)

            os.chmod(arch, 0o775)
            start_fails("a group-writable archive directory",
                        "%s is writable by its group" % arch)
            os.chmod(arch, 0o755)
            os.chmod(live, 0o757)
            start_fails("a live directory others may write (where the link is)",
                        "%s is writable by others" % live)
            os.chmod(live, 0o755)
            os.chown(key2, 12345, 0)
            start_fails("a key file owned by another user",
                        "two-key.pem is owned by uid 12345")
            os.chown(key2, 0, 0)
            os.lchown(lkey, 12345, 12345)
            start_fails("a link owned by another user", "privkey.pem is owned by uid 12345")
            os.lchown(lkey, 0, 0)
            os.unlink(lkey)
            os.symlink("../../archive/example.org", lkey)
            start_fails("a link to a directory", "not a regular file")
    finally:
        shutil.rmtree(d, ignore_errors=True)


TAP().run(body)
