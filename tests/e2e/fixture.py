# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end fixture: the real popa3d binary on a loopback port, with
users, a PAM stack and mailboxes that exist only for the test.

Nothing in /etc is touched:
  * users come from nss_wrapper (LD_PRELOAD, NSS_WRAPPER_PASSWD/GROUP);
  * PAM is real Linux-PAM, reading a test stack through popa3d's
    --pam-confdir (pam_start_confdir) with pam_matrix as the password
    database (libpam-wrapper's module: "user:password:service" lines);
  * mailboxes live in a temporary spool owned by the test users' uids.

The daemon must really run as root (it chroots and switches uids), so
every test using this fixture calls require_root() first and is skipped
(TAP "1..0 # SKIP") otherwise.
"""
import base64
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

LIBDIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]


def find_lib(name):
    for d in LIBDIRS:
        for sub in ("", "pam_wrapper/", "security/"):
            p = os.path.join(d, sub + name)
            if os.path.exists(p):
                return p
    return None


def require_root(tap):
    if os.geteuid() != 0:
        tap.skip_all("needs root (the daemon chroots and switches users)")
    for lib in ("libnss_wrapper.so",) + (("pam_matrix.so",) if built_with("HAVE_PAM") else ()):
        if not find_lib(lib):
            tap.skip_all("%s not installed (Debian: libnss-wrapper, libpam-wrapper)" % lib)
    if not os.path.exists(popa3d_binary()):
        tap.skip_all("popa3d binary not built")


def built_with(macro):
    """True if the build's config.h defines macro (HAVE_PAM, HAVE_TLS...)."""
    cfg = os.path.join(os.environ.get("top_builddir", "."), "config.h")
    try:
        with open(cfg) as f:
            return ("#define %s 1" % macro) in f.read()
    except OSError:
        return False


def shadow_hash(password):
    """A SHA-512 crypt(3) hash, as passwd(1) would store it."""
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password,
                          capture_output=True, text=True, check=True).stdout.strip()


def popa3d_binary():
    return os.environ.get("POPA3D") or os.path.join(
        os.environ.get("top_builddir", "."), "src", "popa3d")


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


PREAUTH_UID = 60100
FIRST_UID = 61001


def require_tls(tap):
    """require_root, and skip unless this build has TLS and openssl (for
    the test certificates) is installed."""
    require_root(tap)
    if not built_with("HAVE_TLS"):
        tap.skip_all("built without TLS")
    if not shutil.which("openssl"):
        tap.skip_all("openssl not installed")


def make_cert(d, name="server", newkey=None):
    """A self-signed certificate for localhost/127.0.0.1: (cert, key).  The
    key is EC P-256, or made by openssl req -newkey newkey (rsa:2048,
    ed25519)."""
    cert = os.path.join(d, name + "-cert.pem")
    key = os.path.join(d, name + "-key.pem")
    keyargs = ["-newkey", newkey] if newkey else \
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    r = subprocess.run(["openssl", "req", "-x509"] + keyargs + ["-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: " + r.stderr)
    os.chmod(key, 0o600)
    return cert, key


def key_secret(key):
    """What must be found only in the key holder: the EC private scalar
    or the RSA key's first prime, big- and little-endian (as OpenSSL's
    BIGNUM words hold it on this machine)."""
    r = subprocess.run(["openssl", "pkey", "-in", key, "-noout", "-text"],
                       capture_output=True, text=True, check=True)
    m = re.search(r"(?:priv|prime1):\s*\n((?:\s+[0-9a-f:]+\n)+)", r.stdout)
    raw = bytes.fromhex(re.sub(r"[^0-9a-f]", "", m.group(1)))
    # openssl prints a leading 00 when the top bit is set
    if "prime1" in m.group(0):
        raw = raw.lstrip(b"\0")
    else:
        raw = raw[-32:].rjust(32, b"\0")
    return [raw, raw[::-1]]


def plain_ir(authzid, authcid, passwd):
    """An AUTH PLAIN response (RFC 4616), base64."""
    return base64.b64encode(("%s\0%s\0%s" % (authzid, authcid, passwd)).encode()).decode()


def ctx_for(cert):
    """A client context that trusts exactly cert."""
    ctx = ssl.create_default_context(cafile=cert)
    return ctx


def stls(c, ctx):
    """STLS on Client c: (reply, a Client over TLS, or None if refused)."""
    r = c.cmd("STLS")
    if not r.startswith(b"+OK"):
        return r, None
    s = ctx.wrap_socket(c.s, server_hostname="localhost")
    return r, Client(s)


def capa(c):
    """CAPA on Client c: (reply, [capability lines])."""
    r = c.cmd("CAPA")
    if not r.startswith(b"+OK"):
        return r, []
    return r, c.multiline().decode().split("\r\n")[:-1]


def implicit(srv, tport, ctx, alpn=None, timeout=10):
    """A POP3S (implicit TLS) Client to srv's --listen-tls port."""
    raw = socket.create_connection((srv.host, tport), timeout=timeout)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return Client(ctx.wrap_socket(raw, server_hostname="localhost"))


def python_login(srv, tport, cert, version):
    """poplib-free login over POP3S with python's ssl pinned to one TLS
    version: (negotiated version, STAT answer)."""
    ctx = ctx_for(cert)
    ctx.minimum_version = ctx.maximum_version = version
    c = implicit(srv, tport, ctx)
    c.line()
    c.cmd("USER alice")
    c.cmd("PASS alice-secret")
    r = c.cmd("STAT")
    v = c.s.version()
    c.cmd("QUIT")
    c.close()
    return v, r


class Server:
    """A popa3d instance with its own users, PAM stack and spool.

    users: {name: password}.  uids are assigned from 61001 in order.
    """

    def __init__(self, users=None, args=(), host="127.0.0.1", pam_stack=None):
        self.users = dict(users or {"alice": "alice-secret", "bob": "bob secret"})
        self.args = list(args)
        self.host = host
        self.proc = None
        self.port = None
        self.dir = tempfile.mkdtemp(prefix="popa3d-e2e.")
        os.chmod(self.dir, 0o755)       # the mail users must reach the spool
        self.empty = os.path.join(self.dir, "empty")
        self.spool = os.path.join(self.dir, "spool")
        self.pamdir = os.path.join(self.dir, "pam.d")
        self.home = os.path.join(self.dir, "home")
        for d in (self.empty, self.spool, self.pamdir, self.home):
            os.mkdir(d)
        os.chmod(self.empty, 0o755)
        os.chmod(self.spool, 0o755)
        self.uids = {}
        passwd = ["root:x:0:0:root:/root:/bin/sh",
                  "popa3d-test:x:%d:%d:popa3d pre-auth:/nonexistent:/usr/sbin/nologin"
                  % (PREAUTH_UID, PREAUTH_UID)]
        group = ["root:x:0:", "popa3d-test:x:%d:" % PREAUTH_UID, "mail:x:8:"]
        uid = FIRST_UID
        for name in self.users:
            self.uids[name] = uid
            h = os.path.join(self.home, name)
            os.mkdir(h)
            os.chown(h, uid, uid)
            passwd.append("%s:x:%d:%d:%s:%s:/bin/sh" % (name, uid, uid, name, h))
            group.append("%s:x:%d:" % (name, uid))
            uid += 1
        self.passwd_file = os.path.join(self.dir, "passwd")
        self.group_file = os.path.join(self.dir, "group")
        with open(self.passwd_file, "w") as f:
            f.write("\n".join(passwd) + "\n")
        with open(self.group_file, "w") as f:
            f.write("\n".join(group) + "\n")
        self.passdb = os.path.join(self.dir, "passdb")
        self.write_passdb()
        matrix = find_lib("pam_matrix.so")
        stack = pam_stack or (
            "auth required %s passdb=%s\naccount required %s passdb=%s\n"
            % (matrix, self.passdb, matrix, self.passdb))
        with open(os.path.join(self.pamdir, "popa3d"), "w") as f:
            f.write(stack)
        # A --without-pam build authenticates with crypt(3) against a
        # shadow-format file instead: the same users and passwords.
        self.pam = built_with("HAVE_PAM")
        self.shadow_file = os.path.join(self.dir, "shadow")
        with open(self.shadow_file, "w") as f:
            for name, pw in self.users.items():
                f.write("%s:%s:19000:0:99999:7:::\n" % (name, shadow_hash(pw)))
        os.chmod(self.shadow_file, 0o600)
        self.log_path = os.path.join(self.dir, "daemon.log")

    def write_passdb(self, service="popa3d"):
        with open(self.passdb, "w") as f:
            for name, pw in self.users.items():
                f.write("%s:%s:%s\n" % (name, pw, service))

    # -------------------------------------------------------------- mail
    def mailbox_path(self, user):
        return os.path.join(self.spool, user)

    def put_mailbox(self, user, data, mode=0o600):
        p = self.mailbox_path(user)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, self.uids[user], self.uids[user])
        os.chmod(p, mode)
        return p

    def get_mailbox(self, user):
        try:
            with open(self.mailbox_path(user), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    # -------------------------------------------------------------- daemon
    def env(self):
        e = dict(os.environ)
        e["LD_PRELOAD"] = find_lib("libnss_wrapper.so")
        e["NSS_WRAPPER_PASSWD"] = self.passwd_file
        e["NSS_WRAPPER_GROUP"] = self.group_file
        # nss_wrapper dlopens libc with RTLD_DEEPBIND, which ASan refuses;
        # without it the sanitizer build could not look users up at all
        e["NSS_WRAPPER_DISABLE_DEEPBIND"] = "1"
        return e

    def base_args(self):
        auth = (["--pam-confdir", self.pamdir] if self.pam else
                ["--auth", "shadow", "--shadow-file", self.shadow_file])
        return ["--log-stderr", "--user", "popa3d-test", "--empty-dir", self.empty] + auth + [
                "--mailbox", "mbox:%s/%%u" % self.spool,
                "--fail-delay", "50", "--min-uid", "1000", "--timeout", "60",
                "--lock-timeout", "2"]

    def start(self, wait=True):
        self.port = free_port(self.host)
        listen = ("[%s]:%d" if ":" in self.host else "%s:%d") % (self.host, self.port)
        cmd = [popa3d_binary(), "-D", "-F", "-l", listen] + self.base_args() + self.args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        if wait:
            self.wait_listening()
        return self

    def wait_listening(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("popa3d exited with %s:\n%s"
                                   % (self.proc.returncode, self.read_log()))
            if listening(self.host, self.port):
                return
            time.sleep(0.02)
        raise RuntimeError("popa3d did not start listening:\n" + self.read_log())

    def inetd(self, data, timeout=20, extra=()):
        """Run one inetd-mode session on a socketpair and return all output."""
        a, b = socket.socketpair()
        cmd = [popa3d_binary()] + self.base_args() + list(extra) + self.args
        p = subprocess.Popen(cmd, env=self.env(), stdin=b.fileno(), stdout=b.fileno(),
                             stderr=open(self.log_path, "ab"))
        b.close()
        # The daemon may answer and close before it reads what was sent
        # (a refusal, or nothing to send at all): its output still counts.
        try:
            if data:
                a.sendall(data)
        except BrokenPipeError:
            pass
        a.settimeout(timeout)
        out = b""
        try:
            while True:
                chunk = a.recv(65536)
                if not chunk:
                    break
                out += chunk
        finally:
            a.close()
            p.wait(timeout)
        return out, p.returncode

    def connect(self, source=None, timeout=10):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect((self.host, self.port))
        return s

    def stop(self, timeout=10):
        """SIGTERM by PID; returns the exit status (None if already gone)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


def config_lines(args):
    """Long options ("--name value", "--flag") as config-file lines."""
    out, i = [], 0
    while i < len(args):
        name = args[i][2:]
        if i + 1 < len(args) and not args[i + 1].startswith("--"):
            out.append("%s %s\n" % (name, args[i + 1]))
            i += 2
        else:
            out.append("%s\n" % name)
            i += 1
    return "".join(out)


def listening(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Client:
    """A raw POP3 client: exact bytes in, exact bytes out.

    Linear in the size of an answer: a bytearray consumed from the front
    and a joined list.  Copying the answer so far for every line made a
    3 MB RETR cost so much CPU on a loaded machine that the next command
    came after the server's --timeout, and the server rightly logged the
    session out (RFC 1939 section 3): a client fault, not a relay one."""

    def __init__(self, sock):
        self.s = sock
        self.buf = bytearray()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        i = self.buf.find(b"\n")
        while i < 0:
            seen = len(self.buf)
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed; got %r" % bytes(self.buf))
            self.buf += chunk
            i = self.buf.find(b"\n", seen)
        out = bytes(self.buf[:i + 1])
        del self.buf[:i + 1]
        return out

    def multiline(self):
        """Lines up to the terminating '.', still dot-stuffed."""
        out = []
        while True:
            ln = self.line()
            if ln == b".\r\n":
                return b"".join(out)
            out.append(ln)

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.line()

    def closed(self, timeout=5):
        """True if the server closes the connection without more output."""
        self.s.settimeout(timeout)
        try:
            data = self.s.recv(1)
        except (ConnectionResetError, socket.timeout):
            return False
        return data == b"" and self.buf == b""

    def read_to_eof(self, errors=(OSError,)):
        """Raw bytes until the server closes: (bytes, True), or (bytes read
        so far, False) if one of errors (a reset, a time-out) came first."""
        got = bytearray()
        try:
            while True:
                chunk = self.s.recv(4096)
                if not chunk:
                    return bytes(got), True
                got += chunk
        except errors:
            return bytes(got), False

    def close(self):
        self.s.close()


def pass_reply(srv, user, password, source=None):
    """One connection: USER, PASS, QUIT; the PASS reply."""
    c = Client(srv.connect(source=source, timeout=60))
    c.line()
    c.cmd("USER " + user)
    r = c.cmd("PASS " + password)
    try:
        c.cmd("QUIT")
    except (OSError, EOFError):
        pass                # closed after a failure limit
    c.close()
    return r


class Closed(Exception):
    """The server closed the connection (no more bytes)."""


class Conn:
    """A buffered POP3 client for long or heavy sessions: lines split at
    CRLF, multi-line payloads returned unstuffed, large reads.  Client
    above gives the exact, still stuffed bytes instead."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def fill(self):
        chunk = self.s.recv(262144)
        if not chunk:
            raise Closed("closed after %r" % self.buf[-200:])
        self.buf += chunk

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i + 2], self.buf[i + 2:]
                return out
            self.fill()

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.line()

    def multiline(self):
        """The payload up to the terminating dot line, unstuffed."""
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                raw, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return unstuff(raw)
            start = max(0, len(self.buf) - 4)
            self.fill()

    def rest(self, timeout=30):
        """Everything until the server closes (b'' if it sends nothing)."""
        self.s.settimeout(timeout)
        out = bytearray(self.buf)
        self.buf = b""
        while True:
            try:
                chunk = self.s.recv(1 << 20)
            except ConnectionResetError:
                return bytes(out)
            if not chunk:
                return bytes(out)
            out += chunk

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def unstuff(data):
    """POP3 multi-line payload back to the message octets."""
    lines = data.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


def wire(msg):
    """The transmitted form RFC 1939 counts: every line ends in CRLF."""
    out = msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


def mbox(*messages, sender="MAILER-DAEMON", date="Thu Nov 19 10:00:00 2026"):
    """An mbox as Debian's MTAs write it: From_ line, message, blank line."""
    out = b""
    for m in messages:
        if isinstance(m, str):
            m = m.encode()
        if not m.endswith(b"\n"):
            m += b"\n"
        out += ("From %s %s\n" % (sender, date)).encode() + m + b"\n"
    return out


def sample_messages(n=3):
    return [("Received: from x by y id %d; Thu, 19 Nov 2026 10:00:%02d +0000\n"
             "From: sender%d@example.org\nTo: alice@example.org\n"
             "Subject: message %d\nMessage-ID: <%d@example.org>\n\n"
             "Body line 1 of %d\n.leading dot line\n\nlast line\n" % (i, i, i, i, i, i)).encode()
            for i in range(1, n + 1)]


def fetchmail_runner(d, host, port, user, password, options="sslproto ''"):
    """fetchmail with keep + uidl (its id file in d) and an MDA that stores
    each message as d/out/NNNN, in delivery order.  Returns run(): one
    fetchmail run, giving (CompletedProcess, [messages delivered])."""
    out = os.path.join(d, "out")
    os.mkdir(out)
    deliver = os.path.join(d, "deliver.sh")
    with open(deliver, "w") as f:
        f.write('#!/bin/sh\nn=$(ls "$1" | wc -l)\nexec cat > "$1/$(printf %04d "$n")"\n')
    os.chmod(deliver, 0o700)
    rc_path = os.path.join(d, "fetchmailrc")
    # invisible: no Received: line of its own; no stripcr: keep the CRs an
    # MDA delivery would drop; no rewrite: addresses untouched.
    fd = os.open(rc_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write('set no bouncemail\nset invisible\nset idfile "%s/ids"\n'
                'poll %s with proto POP3 service %d auth password uidl no envelope\n'
                '  user "%s" there with password "%s" is "root" here\n'
                '  options keep no rewrite no stripcr %s\n'
                '  mda "%s %s"\n' % (d, host, port, user, password, options, deliver, out))
    env = dict(os.environ, HOME=d, FETCHMAILHOME=d)

    # As root, fetchmail takes its lock in /var/run whatever FETCHMAILHOME
    # says, so two tests running it at once (make -j) refused each other.
    def run():
        r = subprocess.run(["fetchmail", "--nodetach", "--nosyslog", "-f", rc_path,
                            "--pidfile", os.path.join(d, "fetchmail.pid")],
                           capture_output=True, text=True, env=env, timeout=300)
        got = []
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), "rb") as fh:
                got.append(fh.read())
            os.unlink(os.path.join(out, name))
        return r, got
    return run


NOBODY = 65534


def as_nobody():
    """preexec_fn: run a client as nobody (getmail refuses root)."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def getmail_runner(d, host, port, user, password, verbose=0):
    """getmail6 (read_all = false, delete = false) as nobody, delivering
    to the Maildir d/Maildir, its state in d/state.  Returns (run,
    maildir): run() is one getmail run, giving its CompletedProcess; the
    messages stay in maildir/new for the caller to take.

    getmail 6.18 can miss the SIGCHLD of its own delivery child when the
    child ends before it starts waiting (a lost wake-up in
    baseclasses._wait_for_child), and then fails with "waiting child pid N
    timed out" after the retriever's timeout, without saving its state.
    That is getmail's race, not the server's: such a run is undone (the
    messages it delivered are removed) and run again, at most twice."""
    for sub in ("", "Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp", "state"):
        path = os.path.join(d, sub)
        os.makedirs(path, exist_ok=True)
        os.chown(path, NOBODY, NOBODY)
    os.chmod(d, 0o700)
    md = os.path.join(d, "Maildir")
    rc_path = os.path.join(d, "getmailrc")
    with open(rc_path, "w") as f:
        f.write("[retriever]\ntype = SimplePOP3Retriever\nserver = %s\nport = %d\n"
                "username = %s\npassword = %s\ntimeout = 30\n\n"
                "[destination]\ntype = Maildir\npath = %s/\n\n"
                "[options]\nread_all = false\ndelete = false\n"
                "delivered_to = false\nreceived = false\nmessage_log_syslog = false\n"
                "verbose = %d\n" % (host, port, user, password, md, verbose))
    os.chown(rc_path, NOBODY, NOBODY)
    os.chmod(rc_path, 0o600)
    new = os.path.join(md, "new")

    def run():
        for _ in range(3):
            before = set(os.listdir(new))
            r = subprocess.run(["getmail", "--rcfile=" + rc_path,
                                "--getmaildir=" + os.path.join(d, "state")],
                               capture_output=True, text=True, timeout=300,
                               preexec_fn=as_nobody, env=dict(os.environ, HOME=d))
            if "waiting child pid" not in r.stdout + r.stderr:
                return r
            for name in set(os.listdir(new)) - before:
                os.unlink(os.path.join(new, name))
        return r
    return run, md


def conformance_module():
    """tests/e2e/test-conformance.py as a module: its awkward messages
    (tricky_messages) and its pop3conf relay, for other tests to share."""
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("conformance_e2e",
                                                  os.path.join(here, "test-conformance.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
