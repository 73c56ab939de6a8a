#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Migration without a re-download (doc/migration.md), with the real
programs on loopback:

  * dovecot-pop3d -> us, mbox and Maildir: Dovecot's LDA delivers, its
    POP3 server (own configuration, passwd-file users, 127.0.0.1) serves
    and writes what it writes; fetchmail (keep + uidl) and getmail
    (read_all = false) fetch everything from it and its UIDL list is
    captured.  Then popa3d serves the same files with --uidl dovecot:
    every message has the id Dovecot gave it, both clients fetch nothing,
    and mail delivered after the move is fetched once.
  * popa3d 1.0.3 -> us, mbox: Debian's 1.0.3 binary (bench/setup's
    `apt-get download popa3d`, never installed; POPA3D_REF names it),
    run per connection by socat under nss_wrapper and pam_wrapper, then
    us with the default policy: the same ids, fetchmail fetches nothing.

A part whose program is missing is a TAP skip.  Nothing in /etc is
touched; popa3d 1.0.3's compiled-in /var/mail (a file for a throw-away
user name, removed) and chroot /var/lib/popa3d (created if missing, an
empty directory, left) are used.
"""
import os
import poplib
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402
from tap import TAP  # noqa: E402

DOVECOT = "/usr/sbin/dovecot"
LDA = "/usr/lib/dovecot/dovecot-lda"
POP3 = "/usr/lib/dovecot/pop3"
USERS = {"mary": "mary-secret", "mdir": "mdir secret"}


def message(i, tag):
    return ("From: sender%d@example.org\nTo: user@example.org\nSubject: %s %d\n"
            "Message-ID: <%s-%d@example.org>\nDate: Wed, 2 Dec 2026 10:00:%02d +0000\n\n"
            "Body of %s %d\n.leading dot\n" % (i, tag, i, tag, i, i, tag, i)).encode()


def by_message_id(host, port, user, password):
    """{uidl: Message-ID} of a maildrop, and the UIDL list in order."""
    poplib._MAXLINE = 1 << 20
    p = poplib.POP3(host, port, timeout=30)
    p.user(user)
    p.pass_(password)
    ids = [l.split()[1].decode() for l in p.uidl()[1]]
    out = {}
    for n, u in enumerate(ids, 1):
        head = b"\n".join(p.top(n, 0)[1])
        mid = [l for l in head.split(b"\n") if l.lower().startswith(b"message-id:")]
        out[u] = mid[0].split(b":", 1)[1].strip().decode() if mid else "(none %d)" % n
    p.quit()
    return out, ids


class Dovecot:
    """Dovecot's POP3 server with its own configuration under d."""

    def __init__(self, srv, d, mail):
        self.d = d
        self.port = fixture.free_port()
        run = os.path.join(d, "run")
        os.makedirs(run)
        os.chmod(d, 0o755)
        self.users = os.path.join(d, "users")
        with open(self.users, "w") as f:
            for u, pw in USERS.items():
                f.write("%s:{PLAIN}%s:%d:%d::%s::userdb_mail=%s\n"
                        % (u, pw, srv.uids[u], srv.uids[u], os.path.join(srv.home, u), mail[u]))
        self.conf = os.path.join(d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write("base_dir = %s\nstate_dir = %s/state\ninstance_name = popa3d-mig-%d\n"
                    "protocols = pop3\nlisten = 127.0.0.1\nssl = no\n"
                    "disable_plaintext_auth = no\nauth_mechanisms = plain\n"
                    "log_path = %s/dovecot.log\nfirst_valid_uid = 1000\n"
                    "mail_location = mbox:~/mail\n"
                    "service pop3-login {\n inet_listener pop3 {\n  address = 127.0.0.1\n"
                    "  port = %d\n }\n inet_listener pop3s {\n  port = 0\n }\n}\n"
                    "service imap-login {\n inet_listener imap {\n  port = 0\n }\n"
                    " inet_listener imaps {\n  port = 0\n }\n}\n"
                    "passdb {\n driver = passwd-file\n args = %s\n}\n"
                    "userdb {\n driver = passwd-file\n args = %s\n}\n"
                    % (run, run, os.getpid(), d, self.port, self.users, self.users))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.d, "stderr"), "ab"))
        deadline = time.time() + 20
        while not fixture.listening("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("dovecot did not start: " + self.log())
            time.sleep(0.05)

    def deliver(self, user, msg):
        r = subprocess.run([LDA, "-c", self.conf, "-d", user, "-f", "sender@example.org"],
                           input=msg, capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("dovecot-lda: %r %s" % (r.stderr, self.log()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()      # by PID: the process we started
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(os.path.join(self.d, "dovecot.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""


class Fetchmail:
    """fetchmail, keep + uidl, one id file whatever server it polls."""

    def __init__(self, d, user):
        self.d = d
        self.user = user
        self.out = os.path.join(d, "out")
        os.makedirs(self.out)
        self.deliver = os.path.join(d, "deliver.sh")
        with open(self.deliver, "w") as f:
            f.write('#!/bin/sh\nn=$(ls "$1" | wc -l)\nexec cat > "$1/$(printf %04d "$n")"\n')
        os.chmod(self.deliver, 0o700)

    def run(self, port):
        rc = os.path.join(self.d, "fetchmailrc")
        with open(rc, "w") as f:
            f.write('set no bouncemail\nset invisible\nset idfile "%s/ids"\n'
                    'poll 127.0.0.1 with proto POP3 service %d auth password uidl no envelope\n'
                    '  user "%s" there with password "%s" is "root" here\n'
                    '  options keep no rewrite sslproto \'\'\n  mda "%s %s"\n'
                    % (self.d, port, self.user, USERS[self.user], self.deliver, self.out))
        os.chmod(rc, 0o600)
        r = subprocess.run(["fetchmail", "--nodetach", "--nosyslog", "-f", rc,
                            "--pidfile", os.path.join(self.d, "fetchmail.pid")],
                           capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, HOME=self.d, FETCHMAILHOME=self.d))
        got = sorted(os.listdir(self.out))
        for name in got:
            os.unlink(os.path.join(self.out, name))
        return r, len(got)


class Getmail:
    """getmail6, read_all = false, delete = false; runs as nobody."""

    def __init__(self, d, user):
        self.d = d
        self.user = user

    def run(self, port):
        run, md = fixture.getmail_runner(self.d, "127.0.0.1", port, self.user,
                                         USERS[self.user], verbose=1)
        r = run()
        new = os.path.join(md, "new")
        got = os.listdir(new)
        for name in got:
            os.unlink(os.path.join(new, name))
        return r, len(got)


def clients(t, srv, user, label):
    """The keep-mode clients available here, as (name, client)."""
    out = []
    if shutil.which("fetchmail"):
        out.append(("fetchmail (keep, uidl)", Fetchmail(os.path.join(srv.dir, "fm-" + user), user)))
    else:
        t.skip("%s: fetchmail" % label, "fetchmail not installed")
    if shutil.which("getmail"):
        out.append(("getmail (read_all = false)", Getmail(os.path.join(srv.dir, "gm-" + user), user)))
    else:
        t.skip("%s: getmail" % label, "getmail6 not installed")
    return out


def fetch_all(t, cl, port, n, label, server):
    for name, c in cl:
        r, got = c.run(port)
        t.eq(got, n, "%s: %s fetches all %d messages from %s" % (label, name, n, server))
        if got != n:
            t.diag(r.stdout + r.stderr)


def fetch_none(t, cl, port, label, server, want=0):
    for name, c in cl:
        r, got = c.run(port)
        t.eq(got, want, "%s: %s then fetches %d from %s" % (label, name, want, server))
        t.diag("%s: %s exit %d, %d messages: %s" % (label, name, r.returncode, got,
                                                   (r.stdout + r.stderr).strip()[-200:]))


def popa3d(srv, mailbox, policy, port=None):
    """Start popa3d, on the old server's port if given: getmail keeps its
    state per server and port, as a real switch on port 110 would."""
    srv.args = ["--mailbox", mailbox, "--uidl", policy]
    pick = fixture.free_port
    if port:
        fixture.free_port = lambda host="127.0.0.1": port
    try:
        srv.start()
    finally:
        fixture.free_port = pick
    return srv


COMPARE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "doc",
                       "uidl-compare")


def compare(t, srv, spec, policy, user, old_port, label, want):
    """doc/uidl-compare between the running old server and popa3d on a
    spare port, as doc/migration.md has the administrator do."""
    popa3d(srv, spec, policy)
    try:
        r = subprocess.run([sys.executable, COMPARE, user, "127.0.0.1:%d" % old_port,
                            "%s:%d" % (srv.host, srv.port)], capture_output=True, text=True,
                           env=dict(os.environ, POP3_PASSWORD=USERS[user]), timeout=120)
    finally:
        srv.stop()
    t.eq(r.returncode, want, "%s: doc/uidl-compare against popa3d --uidl %s exits %d"
         % (label, policy, want))
    t.diag("$ uidl-compare %s 127.0.0.1:%d %s:%d  (--uidl %s)\n%s%s"
           % (user, old_port, srv.host, srv.port, policy, r.stdout[-600:], r.stderr[-300:]))


def from_dovecot(t, fmt):
    label = "dovecot %s" % fmt
    user = "mary" if fmt == "mbox" else "mdir"
    with fixture.Server(users=USERS) as srv:
        home = os.path.join(srv.home, user)
        inbox = os.path.join(home, "inbox")
        mail = {"mary": "mbox:~/mail:INBOX=%s" % os.path.join(srv.home, "mary", "inbox"),
                "mdir": "maildir:~/Maildir"}
        dc = Dovecot(srv, os.path.join(srv.dir, "dovecot"), mail)
        dc.start()
        try:
            for i in range(1, 6):
                dc.deliver(user, message(i, label.replace(" ", "-")))
            if fmt == "mbox":
                # A message an MTA appended (as exim does), which Dovecot's
                # POP3 then numbers and writes an X-UID into.
                with open(inbox, "ab") as f:
                    f.write(b"From exim@example.org Wed Dec  2 10:01:00 2026\n" +
                            message(6, "exim") + b"\n")
            cl = clients(t, srv, user, label)
            fetch_all(t, cl, dc.port, 6 if fmt == "mbox" else 5, label, "Dovecot")
            theirs, order = by_message_id("127.0.0.1", dc.port, user, USERS[user])
            spec = ("mbox:%h/inbox" if fmt == "mbox" else "maildir:%h/Maildir")
            compare(t, srv, spec, "popa3d", user, dc.port, label, 1)
            compare(t, srv, spec, "dovecot", user, dc.port, label, 0)
        finally:
            dc.stop()
        t.diag("%s: Dovecot's UIDL: %s" % (label, " ".join(order)))
        t.ok(len(theirs) == len(order) and all(len(u) == 16 for u in order),
             "%s: Dovecot showed %d distinct 16-digit ids" % (label, len(order)))
        popa3d(srv, spec, "popa3d")
        plain, _ = by_message_id(srv.host, srv.port, user, USERS[user])
        srv.stop()
        t.ok(not set(plain) & set(theirs),
             "%s: with the default policy no id is Dovecot's (a switch would re-download)" % label,
             sorted(plain))

        popa3d(srv, spec, "dovecot", dc.port)
        try:
            ours, order2 = by_message_id(srv.host, srv.port, user, USERS[user])
            t.eq(ours, theirs, "%s: --uidl dovecot shows every message under Dovecot's id" % label)
            t.diag("%s: our UIDL:      %s" % (label, " ".join(order2)))
            fetch_none(t, cl, srv.port, label, "popa3d --uidl dovecot")
            # Mail delivered after the move: our own id, fetched once.
            if fmt == "mbox":
                with open(inbox, "ab") as f:
                    f.write(b"From exim@example.org Wed Dec  2 11:00:00 2026\n" +
                            message(7, "after") + b"\n")
            else:
                p = os.path.join(home, "Maildir", "new", "1796300000.P1Q1.after")
                with open(p, "wb") as f:
                    f.write(message(7, "after"))
                os.chown(p, srv.uids[user], srv.uids[user])
            after, order3 = by_message_id(srv.host, srv.port, user, USERS[user])
            t.ok(len(order3) == len(set(order3)) == len(ours) + 1 and
                 all(after[u] == theirs[u] for u in theirs),
                 "%s: after a new delivery the old ids stay and no id is shown twice" % label,
                 order3)
            fetch_none(t, cl, srv.port, label + ", one new message", "popa3d --uidl dovecot", 1)
            # A client deletes message 1 through us (on mbox the one that
            # carries X-IMAPbase): the others keep their ids.
            p = poplib.POP3(srv.host, srv.port, timeout=30)
            p.user(user)
            p.pass_(USERS[user])
            first = p.uidl(1).split()[2].decode()
            p.dele(1)
            p.quit()
            left, _ = by_message_id(srv.host, srv.port, user, USERS[user])
            want = dict((u, m) for u, m in after.items() if u != first)
            t.eq(left, want, "%s: after DELE 1 through us every other message keeps its id" % label)
            fetch_none(t, cl, srv.port, label + ", message 1 deleted", "popa3d --uidl dovecot")
        finally:
            srv.stop()
        if fmt == "maildir":
            lst = os.path.join(home, "Maildir", "dovecot-uidlist")
            t.ok(os.path.exists(lst), "%s: Dovecot's dovecot-uidlist is still there" % label)
            damaged_list(t, srv, spec, user, lst, label)


def damaged_list(t, srv, spec, user, lst, label):
    """A damaged dovecot-uidlist: our ids, none twice, one log line."""
    with open(lst, "rb") as f:
        good = f.read()
    lines = good.split(b"\n")
    # Two records swapped: UIDs no longer increase.
    with open(lst, "wb") as f:
        f.write(b"\n".join(lines[:1] + [lines[2], lines[1]] + lines[3:]))
    before = srv.read_log().count("dovecot-uidlist ignored")
    popa3d(srv, spec, "dovecot")
    try:
        ids, order = by_message_id(srv.host, srv.port, user, USERS[user])
    finally:
        srv.stop()
    log = srv.read_log()
    validity = "%08x" % int(lines[0].split()[1][1:])
    t.ok(len(order) == len(set(order)) and not any(u.endswith(validity) for u in order),
         "%s: a damaged dovecot-uidlist gives our ids, none twice" % label, order)
    t.eq(log.count("dovecot-uidlist ignored") - before, 1,
         "%s: ...and one log line (%s)" % (label, [l for l in log.splitlines()
                                                   if "uidlist" in l][-1:]))


def from_popa3d103(t):
    label = "popa3d 1.0.3 mbox"
    ref = os.environ.get("POPA3D_REF") or "/tmp/popa3d-deb/usr/sbin/popa3d"
    for cand in (ref, os.path.join(os.environ.get("top_builddir", "."),
                                   "bench/peers/popa3d/usr/sbin/popa3d")):
        if os.access(cand, os.X_OK):
            ref = cand
            break
    else:
        t.skip(label, "no popa3d 1.0.3 binary (bench/setup, or POPA3D_REF)")
        return
    wrapper = fixture.find_lib("libpam_wrapper.so")
    if not wrapper or not shutil.which("socat") or not os.path.isdir("/var/mail"):
        t.skip(label, "needs libpam_wrapper.so, socat and /var/mail")
        return
    user = "mig%d" % (os.getpid() % 100000)
    users = {user: "pw-%s" % user}
    USERS[user] = users[user]
    spool = os.path.join("/var/mail", user)
    with fixture.Server(users=users) as srv:
        try:
            # 1.0.3's compile-time choices: its own user, /var/lib/popa3d
            # as chroot, mail in /var/mail, PAM service "popa3d".
            with open(srv.passwd_file, "a") as f:
                f.write("popa3d:x:60101:60101:popa3d 1.0.3:/var/lib/popa3d:/usr/sbin/nologin\n")
            with open(srv.group_file, "a") as f:
                f.write("popa3d:x:60101:\n")
            # Left in place, as test-mbox-popa3d-compat does: another
            # test may be running 1.0.3 in it at the same time.
            os.makedirs("/var/lib/popa3d", 0o755, exist_ok=True)
            msgs = [message(i, "old") for i in range(1, 5)]
            data = fixture.mbox(*msgs)
            with open(spool, "wb") as f:
                f.write(data)
            os.chown(spool, srv.uids[user], 8)
            os.chmod(spool, 0o600)
            env = srv.env()
            env["LD_PRELOAD"] = wrapper + ":" + env["LD_PRELOAD"]
            env["PAM_WRAPPER"] = "1"
            env["PAM_WRAPPER_SERVICE_DIR"] = srv.pamdir
            port = fixture.free_port()
            sock = subprocess.Popen(["socat", "TCP4-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % port,
                                     "EXEC:%s" % ref], env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.time() + 10
                while not fixture.listening("127.0.0.1", port) and time.time() < deadline:
                    time.sleep(0.05)
                cl = clients(t, srv, user, label)
                fetch_all(t, cl, port, len(msgs), label, "popa3d 1.0.3")
                theirs, order = by_message_id("127.0.0.1", port, user, users[user])
                compare(t, srv, "mbox:/var/mail/%u", "popa3d", user, port, label, 0)
            finally:
                sock.terminate()       # by PID: the socat we started
                sock.wait(10)
            t.diag("%s: 1.0.3's UIDL: %s" % (label, " ".join(order)))
            t.ok(len(theirs) == len(msgs), "%s: 1.0.3 served all %d messages" % (label, len(msgs)),
                 order)
            popa3d(srv, "mbox:/var/mail/%u", "popa3d", port)
            try:
                ours, _ = by_message_id(srv.host, srv.port, user, users[user])
                t.eq(ours, theirs, "%s: the default policy shows 1.0.3's ids" % label)
                fetch_none(t, cl, srv.port, label, "popa3d")
            finally:
                srv.stop()
        finally:
            for p in (spool, spool + ".lock"):
                if os.path.exists(p):
                    os.unlink(p)


def body(t):
    fixture.require_root(t)
    for fmt in ("mbox", "maildir"):
        missing = [p for p in (DOVECOT, LDA, POP3) if not os.access(p, os.X_OK)]
        if missing:
            t.skip("dovecot %s" % fmt, "not installed: %s (dovecot-core, dovecot-pop3d)"
                 % ", ".join(missing))
            continue
        from_dovecot(t, fmt)
    from_popa3d103(t)


if __name__ == "__main__":
    TAP().run(body)
