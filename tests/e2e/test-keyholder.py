# SPDX-License-Identifier: BSD-2-Clause
"""Where the TLS private key lives, read from /proc, and what the key
holder answers, on the real daemon with a real certificate:

  * one key holder, a child of the listener: the --user account's uids,
    chrooted in --empty-dir, seccomp, not dumpable; the private key (EC
    scalar or RSA prime) is in its memory and in no other process's: not
    the listener's, the leader's, the pre-auth child's, the relay's or the
    session's (the same search finding it in the holder shows it works);
  * only root leaders hold a channel's control socket, the relay holds no
    channel, the session no client socket;
  * an RSA holder is no decryption oracle, and hostile channels (garbage,
    other frame types, a second request) end that channel, not the holder;
  * a renewed pair is served after SIGHUP, and a lost holder is replaced.

Split from test-tls.py, which covers the protocol and the clients.
"""
import hashlib
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from procfs import children, fd_targets, gone_or_zombie, holders, memory_contains, socket_inode, \
    status, wait_for  # noqa: E402
from fixture import Server, Client, ctx_for, implicit, key_secret, make_cert, mbox, python_login, \
    sample_messages  # noqa: E402


def key_holders(srv):
    """The listener's children that run as the pre-auth user: the daemon's
    key holder (leaders and sessions run as root or a mail user)."""
    def uid(p):
        try:
            return status(p)["Uid"][0]
        except (FileNotFoundError, ProcessLookupError):
            return None	# a leader that ended while we looked

    return [p for p in children(srv.proc.pid)
            if not gone_or_zombie(p) and uid(p) == str(fixture.PREAUTH_UID)]


def unix_sockets(kind):
    """socket:[inode] of every AF_UNIX socket of that type, as
    /proc/net/unix writes it ("0001" stream, "0005" seqpacket)."""
    out = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            w = line.split()
            if len(w) >= 7 and w[4] == kind:
                out.add("socket:[%s]" % w[6])
    return out


def seqpacket_sockets():
    """The key holder's channels and control socket."""
    return unix_sockets("0005")


def where_the_key_lives(t, srv, tport, cert, key, kind="ECDSA"):
    """The private scalar (EC) or first prime (RSA) is in the key holder's
    memory and in no other process: not in a pre-auth child in the middle
    of AUTHORIZATION under TLS, nor its root leader, nor after login the
    relay, the session or the listener."""
    needles = key_secret(key)
    holders_now = wait_for(lambda: key_holders(srv))
    t.eq(len(holders_now), 1, "%s: one key holder, a child of the listener" % kind)
    if len(holders_now) != 1:
        return
    H = holders_now[0]
    hs = status(H)
    t.eq(hs["Uid"], [str(fixture.PREAUTH_UID)] * 4, "key holder: all uids are the --user account")
    t.eq(os.readlink("/proc/%d/root" % H), srv.empty, "key holder: chrooted in --empty-dir")
    t.eq(hs["CapEff"], ["0000000000000000"], "key holder: no capabilities")
    if fixture.built_with("HAVE_SECCOMP"):
        t.eq(hs["Seccomp"], ["2"], "key holder: seccomp filter")
    # /proc/PID of a process that is not dumpable belongs to root
    t.eq(os.stat("/proc/%d/mem" % H).st_uid, 0, "key holder: not dumpable (its /proc files are root's)")
    hfds = fd_targets(H)
    t.ok(os.path.realpath(key) not in hfds and os.path.realpath(cert) not in hfds,
         "key holder: no descriptor of the key or certificate file", hfds)
    t.ok(memory_contains(H, needles), "/proc/PID/mem: the %s private key is in the key holder "
         "(the search works)" % kind)

    # a pre-auth child under TLS, before login, and its leader
    c = implicit(srv, tport, ctx_for(cert))
    c.line()
    cport = c.s.getsockname()[1]
    inode = socket_inode(tport, cport)
    pre = wait_for(lambda: len(holders(inode)) == 2 and holders(inode))
    t.eq(len(pre or []), 2, "before login the leader and the pre-auth child hold the socket")
    t.ok(H not in holders(inode), "key holder: does not hold the client socket")
    for p in pre or []:
        who = "leader" if status(p)["Uid"][0] == "0" else "pre-auth child (TLS up, before login)"
        t.eq(memory_contains(p, needles), set(), "/proc/PID/mem: the %s key is not in the %s" % (kind, who))
        # the leader closed the control socket and gave the channel away;
        # the child closed its channel when the handshake ended
        t.eq(fd_targets(p) & seqpacket_sockets(), set(),
             "%s: no control socket, no channel to the key holder" % who)
    # a plain connection where STLS is possible: the child has its channel
    pc = Client(srv.connect())
    pc.line()
    pinode = socket_inode(srv.port, pc.s.getsockname()[1])
    pp = wait_for(lambda: len(holders(pinode)) == 2 and holders(pinode)) or []
    chans = {p: len(fd_targets(p) & seqpacket_sockets()) for p in pp}
    t.ok(len(pp) == 2 and sorted(chans.values()) == [0, 1] and
         all(status(p)["Uid"][0] != "0" for p, n in chans.items() if n == 1),
         "before STLS: the pre-auth child holds one channel, its root leader none", chans)
    pc.cmd("QUIT")
    pc.close()
    c.cmd("USER alice")
    t.ok(c.cmd("PASS alice-secret").startswith(b"+OK"), "/proc: logged in over POP3S")
    c.cmd("STAT")
    pids = wait_for(lambda: len(holders(inode)) == 1 and holders(inode))
    t.eq(len(pids), 1, "/proc: one process holds the client socket after login")
    if len(pids) != 1:
        c.close()
        return
    R = pids[0]
    st = status(R)
    S = int(st["PPid"][0])
    ss = status(S)
    alice = srv.uids["alice"]
    t.eq(st["Uid"], [str(fixture.PREAUTH_UID)] * 4, "relay (TLS-speaking): all uids are the --user account")
    t.eq(os.readlink("/proc/%d/root" % R), srv.empty, "relay: chrooted in --empty-dir")
    t.eq(st["CapEff"], ["0000000000000000"], "relay: no capabilities")
    if fixture.built_with("HAVE_SECCOMP"):
        t.eq(st["Seccomp"], ["2"], "relay: seccomp filter")
    t.eq(fd_targets(R) & seqpacket_sockets(), set(),
         "relay: its channel to the key holder is closed after the handshake")
    t.eq(ss["Uid"], [str(alice)] * 4, "session (the relay's parent): all uids are alice's")
    t.eq(ss["PPid"][0], str(srv.proc.pid), "session: child of the listener")
    t.ok(S not in holders(inode), "session: does not hold the client socket")
    fds = [os.readlink("/proc/%d/fd/%s" % (S, fd)) for fd in os.listdir("/proc/%d/fd" % S)]
    t.ok(os.path.realpath(key) not in fds and os.path.realpath(cert) not in fds,
         "session: no descriptor of the key or certificate file", fds)
    t.eq(set(fds) & seqpacket_sockets(), set(),
         "session: no control socket or channel to the key holder (the mail user cannot ask it)")
    streams = set(fds) & unix_sockets("0001")
    t.eq(len(streams), 1, "session: one AF_UNIX stream socket, its end of the relay's socketpair")
    # open the key as the session's user
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            os.setgroups([])
            os.setgid(alice)
            os.setuid(alice)
            os.close(os.open(key, os.O_RDONLY))
            code = 0
        except PermissionError:
            code = 13
        finally:
            os._exit(code)
    _, st = os.waitpid(pid, 0)
    t.eq(os.WEXITSTATUS(st), 13, "the mail user cannot open the key file (EACCES)")
    t.eq(memory_contains(R, needles), set(), "/proc/PID/mem: the %s key is not in the relay" % kind)
    t.eq(memory_contains(S, needles), set(), "/proc/PID/mem: the %s key is not in the session" % kind)
    t.eq(memory_contains(srv.proc.pid, needles), set(),
         "/proc/PID/mem: nor in the listener (it checks the key in a throwaway fork)")
    t.ok(memory_contains(H, needles), "/proc/PID/mem: still in the key holder")
    r = c.cmd("QUIT")
    t.ok(r.startswith(b"+OK"), "QUIT through the relay")
    t.ok(c.closed(), "closed")
    t.ok(wait_for(lambda: gone_or_zombie(R), 10), "the relay ends with the session")
    t.ok(not gone_or_zombie(H), "the key holder outlives the connection")


def peer_cert(srv, tport, cert):
    """The DER certificate the server presents on POP3S (not verified:
    it may be one we renewed)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = implicit(srv, tport, ctx)
    der = c.s.getpeercert(binary_form=True)
    c.line()
    c.cmd("QUIT")
    c.close()
    return der


def renewal_test(t, srv, tport, cert, key, d):
    """Certificate and key renewed on disk: the pair in service changes at
    SIGHUP (a new holder for the new key), not before, never half."""
    old_der = peer_cert(srv, tport, cert)
    old_holder = key_holders(srv)
    saved = (open(cert, "rb").read(), open(key, "rb").read())
    new_cert, new_key = fixture.make_cert(d, "renewed")
    shutil.copy(new_cert, cert)
    shutil.copy(new_key, key)
    os.chmod(key, 0o600)
    t.eq(peer_cert(srv, tport, cert), old_der, "renewed on disk: the old pair is served until SIGHUP")
    before = len(srv.read_log())
    os.kill(srv.proc.pid, signal.SIGHUP)
    wait_for(lambda: "reloaded" in srv.read_log()[before:], 10)
    der = peer_cert(srv, tport, cert)
    t.ok(der != old_der and der == ssl.PEM_cert_to_DER_cert(open(new_cert).read()),
         "after SIGHUP: the renewed certificate is served")
    v, r = python_login(srv, tport, new_cert, ssl.TLSVersion.TLSv1_3)
    t.ok(r.startswith(b"+OK"), "after SIGHUP: a verified login with the renewed pair", (v, r))
    now = key_holders(srv)
    t.ok(len(now) == 1 and now != old_holder, "after SIGHUP: a new key holder", (old_holder, now))
    t.ok(all(wait_for(lambda: gone_or_zombie(p), 10) for p in old_holder),
         "the retired key holder ends (no handshake left on it)")
    t.ok(memory_contains(now[0], key_secret(new_key)), "the new key is in the new holder")
    with open(cert, "wb") as f:
        f.write(saved[0])
    with open(key, "wb") as f:
        f.write(saved[1])
    os.chmod(key, 0o600)
    os.kill(srv.proc.pid, signal.SIGHUP)
    before = len(srv.read_log())
    wait_for(lambda: peer_cert(srv, tport, cert) == old_der, 10)


def holder_lost(t, srv, tport, cert):
    """The daemon's holder killed: each connection forks a holder of its
    own (logged) and TLS logins go on; SIGHUP starts a new one."""
    old = key_holders(srv)
    for p in old:
        os.kill(p, signal.SIGKILL)
    t.ok(all(wait_for(lambda: gone_or_zombie(p), 10) for p in old), "the key holder killed")
    before = len(srv.read_log())
    v, r = python_login(srv, tport, cert, ssl.TLSVersion.TLSv1_3)
    t.ok(r.startswith(b"+OK"), "without the daemon's holder a TLS login still works", (v, r))
    t.ok("key holder unreachable" in srv.read_log()[before:],
         "and the leader logs that it forked a holder of its own")
    os.kill(srv.proc.pid, signal.SIGHUP)
    t.ok(wait_for(lambda: key_holders(srv), 10), "SIGHUP starts a new key holder")
    v, r = python_login(srv, tport, cert, ssl.TLSVersion.TLSv1_2)
    t.ok(r.startswith(b"+OK"), "and TLS logins use it", (v, r))


def pidfd_getfd(pid, fd):
    """A copy of pid's descriptor fd (pidfd_getfd(2); root here)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        r = libc.syscall(438, pidfd, fd, 0)     # SYS_pidfd_getfd
        if r < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return r
    finally:
        os.close(pidfd)


def control_socket(t, srv):
    """A copy of the listener's control socket to its key holder, as a
    leader inherits it (root only: pidfd_getfd)."""
    ctl = [int(fd) for fd in os.listdir("/proc/%d/fd" % srv.proc.pid)
           if os.readlink("/proc/%d/fd/%s" % (srv.proc.pid, fd)) in seqpacket_sockets()]
    t.eq(len(ctl), 1, "the listener holds one control socket to the key holder")
    if len(ctl) != 1:
        return None
    return socket.socket(fileno=pidfd_getfd(srv.proc.pid, ctl[0]))


def holder_channel(ctlsock):
    """A new channel to the key holder, as a leader opens one."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    socket.send_fds(ctlsock, [b"k"], [b.fileno()])
    b.close()
    a.settimeout(10)
    return a


def ends(a):
    """The holder closed the channel without a word."""
    try:
        return a.recv(8192) == b""
    except (ConnectionResetError, socket.timeout):
        return False


def request(op, pad, data):
    """A FRAME_KEY_REQUEST packet."""
    p = b"".join(struct.pack(">H", len(x)) + x for x in (bytes([op]), bytes([pad]), data))
    return struct.pack("=II", 9, len(p)) + p


def answer(a, pkt):
    """Send pkt, return the KEY_REPLY's output or None."""
    a.send(pkt)
    rep = a.recv(8192)
    if len(rep) < 10 or struct.unpack("=II", rep[:8]) != (10, len(rep) - 8):
        return None
    return rep[10:]


def pss_encode(mhash, nbits):
    """EMSA-PSS-ENCODE (RFC 8017 9.1.1), SHA-256, salt of 32 bytes."""
    emlen = (nbits - 1 + 7) // 8
    salt = os.urandom(32)
    h = hashlib.sha256(b"\0" * 8 + mhash + salt).digest()
    db = b"\0" * (emlen - 32 - 32 - 2) + b"\1" + salt
    mask, c = b"", 0
    while len(mask) < len(db):
        mask += hashlib.sha256(h + struct.pack(">I", c)).digest()
        c += 1
    masked = bytearray(x ^ y for x, y in zip(db, mask))
    masked[0] &= 0xff >> (8 * emlen - (nbits - 1))
    return bytes(masked) + h + b"\xbc"


def rsa_oracle(t, srv, cert):
    """The holder of an RSA key is a signature oracle, not a raw RSA one:
    a block without padding must be an RSA-PSS encoding."""
    ctlsock = control_socket(t, srv)
    if ctlsock is None:
        return
    pubf = os.path.join(srv.dir, "rsa.pub")
    with open(pubf, "wb") as f:
        f.write(subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                               capture_output=True, check=True).stdout)
    a = holder_channel(ctlsock)
    a.send(request(1, 2, os.urandom(256)))
    t.ok(ends(a), "RSA: a raw block (no padding, not PSS) is refused: no decryption oracle")
    a.close()
    mhash = hashlib.sha256(b"popa3d").digest()
    a = holder_channel(ctlsock)
    sig = answer(a, request(1, 2, pss_encode(mhash, 2048)))
    a.close()
    files = {}
    for name, data in (("m", mhash), ("s", sig or b"")):
        files[name] = os.path.join(srv.dir, "rsa-pss." + name)
        with open(files[name], "wb") as f:
            f.write(data)
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pubf, "-in", files["m"],
                        "-sigfile", files["s"], "-pkeyopt", "rsa_padding_mode:pss",
                        "-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_pss_saltlen:32"],
                       capture_output=True, text=True)
    t.ok(sig and r.returncode == 0, "RSA: a PSS encoding is signed (verified with the certificate)",
         r.stdout + r.stderr)
    a = holder_channel(ctlsock)
    di = bytes.fromhex("3031300d060960864801650304020105000420") + mhash
    sig = answer(a, request(1, 1, di))
    a.close()
    with open(files["s"], "wb") as f:
        f.write(sig or b"")
    r = subprocess.run(["openssl", "pkeyutl", "-verifyrecover", "-pubin", "-inkey", pubf,
                        "-in", files["s"]], capture_output=True)
    t.ok(sig and r.stdout == di, "RSA: PKCS #1 v1.5 signs the DigestInfo given, padded by the holder")
    ctlsock.close()


def hostile_channels(t, srv, tport, cert, key):
    """Play a subverted pre-auth child: take a channel from the listener's
    control socket as a leader does, then send the holder garbage, a half
    frame, a frame of another type, and one valid request too many.
    Each ends that channel only; the holder answers the next one and the
    daemon's handshakes go on."""
    ctlsock = control_socket(t, srv)
    if ctlsock is None:
        return
    holder = key_holders(srv)

    def channel():
        return holder_channel(ctlsock)

    digest = hashlib.sha256(b"popa3d key holder").digest()
    for what, pkt in (("garbage", os.urandom(100)),
                      ("half a frame", request(3, 0, digest)[:20]),
                      ("an AUTH_REQUEST frame", struct.pack("=II", 1, 3) + b"\0\1x"),
                      ("an unknown operation", request(9, 0, digest)),
                      ("an RSA operation for an ECDSA key", request(1, 1, digest)),
                      ("a 1 KiB ECDSA digest", request(3, 0, b"\1" * 1024))):
        a = channel()
        a.send(pkt)
        t.ok(ends(a), "hostile channel: %s ends the channel without an answer" % what)
        a.close()
    a = channel()
    sig = answer(a, request(3, 0, digest)) or b""
    t.ok(len(sig) > 60, "a valid ECDSA request is answered")
    sigf = os.path.join(srv.dir, "holder.sig")
    with open(sigf, "wb") as f:
        f.write(sig)
    dgf = os.path.join(srv.dir, "holder.dgst")
    with open(dgf, "wb") as f:
        f.write(digest)
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], capture_output=True,
                         check=True).stdout
    pubf = os.path.join(srv.dir, "holder.pub")
    with open(pubf, "wb") as f:
        f.write(pub)
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pubf, "-in", dgf,
                        "-sigfile", sigf], capture_output=True, text=True)
    t.ok(r.returncode == 0, "the answer is a signature by the configured key", r.stdout + r.stderr)
    try:
        a.send(request(3, 0, digest))
        ended = ends(a)
    except BrokenPipeError:
        ended = True    # closed by the holder right after its one answer
    t.ok(ended, "a second request on the same channel: refused, the channel ends")
    a.close()
    # many idle channels and a closed one do not stop the others
    idle = [channel() for _ in range(5)]
    v, r = python_login(srv, tport, cert, ssl.TLSVersion.TLSv1_3)
    t.ok(r.startswith(b"+OK"), "the daemon's TLS logins go on (idle hostile channels open)", (v, r))
    for a in idle:
        a.close()
    ctlsock.close()
    t.eq(key_holders(srv), holder, "the same key holder survived every hostile channel")


def body(t):
    fixture.require_tls(t)
    d = tempfile.mkdtemp(prefix="popa3d-keyholder.")
    os.chmod(d, 0o700)
    try:
        msgs = sample_messages(3)
        for kind, newkey in (("ECDSA", None), ("RSA", "rsa:2048")):
            cert, key = make_cert(d, kind.lower(), newkey)
            tport = fixture.free_port()
            with Server(args=["--tls-cert", cert, "--tls-key", key, "--penalty-max", "0",
                              "--listen-tls", "127.0.0.1:%d" % tport]) as srv:
                srv.put_mailbox("alice", mbox(*msgs))
                srv.start()
                where_the_key_lives(t, srv, tport, cert, key, kind)
                if kind == "RSA":
                    rsa_oracle(t, srv, cert)
                else:
                    hostile_channels(t, srv, tport, cert, key)
                    renewal_test(t, srv, tport, cert, key, d)
                    holder_lost(t, srv, tport, cert)
                t.eq(srv.get_mailbox("alice"), mbox(*msgs), "%s: the mailbox is unchanged" % kind)
                t.eq(srv.stop(), 0, "%s: SIGTERM exit 0" % kind)
    finally:
        shutil.rmtree(d, ignore_errors=True)


TAP().run(body)
