#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""--mailbox maildir:%h/Maildir against Maildirs written by real delivery
agents: getmail6's getmail_maildir always, Dovecot's LDA (dovecot-lda,
which names files with ,S= and ,W= size hints) when installed.

What a client fetches must be the files' octets exactly (LF stored, CRLF
on the wire, RFC 1939 section 11), through python poplib, fetchmail and the
conformance suite; UIDL must be the file's unique part, stable across a
flag change and the new/ -> cur/ move; mail delivered during a session is
neither listed nor touched; a message deleted by a second session is a
clear -ERR for that message only, and deleting it again is no error;
symlinks, FIFOs and other users' files planted in the Maildir are not
served; limits refuse the maildrop."""
import os
import poplib
import shutil
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Client, Server, mbox, sample_messages, wire  # noqa: E402

_conf = fixture.conformance_module()

USERS = {"alice": "alice-secret", "bob": "bob secret", "carol": "carol-pw",
         "dave": "dave-pw", "erin": "erin-pw", "frank": "frank-pw", "grace": "grace-pw"}
LDA = "/usr/lib/dovecot/dovecot-lda"
DATE = "Thu Nov 19 10:00:00 2026"


def maildir_path(srv, user):
    return os.path.join(srv.home, user, "Maildir")


def make_maildir(srv, user):
    md = maildir_path(srv, user)
    uid = srv.uids[user]
    for sub in ("", "cur", "new", "tmp"):
        p = os.path.join(md, sub)
        os.mkdir(p, 0o700)
        os.chown(p, uid, uid)
    return md


def as_user(srv, user):
    uid = srv.uids[user]

    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return drop


def deliver_getmail(srv, user, msg):
    """getmail_maildir, as the user, as a .forward or procmail would run it."""
    env = dict(srv.env(), SENDER="sender@example.org", HOME=os.path.join(srv.home, user))
    r = subprocess.run(["getmail_maildir", maildir_path(srv, user) + "/"], input=msg,
                       capture_output=True, env=env, preexec_fn=as_user(srv, user), timeout=60)
    if r.returncode != 0:
        raise RuntimeError("getmail_maildir: %r" % r.stderr)


def deliver_lda(srv, user, msg):
    """Dovecot's LDA as the user (nss_wrapper gives it the user's home)."""
    conf = os.path.join(srv.dir, "lda.conf")
    if not os.path.exists(conf):
        with open(conf, "w") as f:
            f.write("mail_location = maildir:~/Maildir\nlog_path = /dev/stderr\nssl = no\n")
        os.chmod(conf, 0o644)
    env = dict(srv.env(), HOME=os.path.join(srv.home, user), USER=user)
    r = subprocess.run([LDA, "-c", conf, "-f", "sender@example.org"], input=msg,
                       capture_output=True, env=env, preexec_fn=as_user(srv, user), timeout=60)
    if r.returncode != 0:
        raise RuntimeError("dovecot-lda: %r" % r.stderr)


def files(srv, user):
    """{unique part: (sub, name, octets)} of every message file."""
    out = {}
    md = maildir_path(srv, user)
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(md, sub)):
            if name.startswith("."):
                continue
            with open(os.path.join(md, sub, name), "rb") as f:
                out[name.split(":")[0]] = (sub, name, f.read())
    return out


def expected_uidl(base):
    ok = 1 <= len(base) <= 70 and all(0x21 <= ord(c) <= 0x7e for c in base) and base[0] != "~"
    return base if ok else None


def login(srv, user):
    poplib._MAXLINE = 1 << 20
    p = poplib.POP3(srv.host, srv.port, timeout=30)
    p.user(user)
    p.pass_(USERS[user])
    return p


def check_fetch(t, srv, user, label):
    """poplib: every message as its file, ids from names, delivery order."""
    fs = files(srv, user)
    p = login(srv, user)
    count, size = p.stat()
    t.eq((count, size), (len(fs), sum(len(wire(c)) for _, _, c in fs.values())),
         "%s: STAT counts every file, sizes as transmitted" % label)
    ids = [l.split()[1].decode() for l in p.uidl()[1]]
    byid = {}
    for base, v in fs.items():
        byid[expected_uidl(base) or base] = v
    hashed = [u for u in ids if u.startswith("~")]
    t.ok(sorted(u for u in ids if not u.startswith("~")) ==
         sorted(expected_uidl(b) for b in fs if expected_uidl(b)) and
         len(hashed) == sum(1 for b in fs if not expected_uidl(b)) and
         all(len(u) == 33 for u in hashed),
         "%s: UIDL is each file's unique part (hashed only when not printable/too long)" % label,
         ids)
    lists = dict((int(a), int(b)) for a, b in (l.split() for l in p.list()[1]))
    bad = []
    times = []
    for i, u in enumerate(ids, 1):
        if u not in byid:
            bad.append((i, u, "no such file"))
            continue
        sub, name, content = byid[u]
        times.append(int(name.split(".")[0]))
        resp, lines, octets = p.retr(i)
        got = b"\r\n".join(lines) + b"\r\n"
        if got != wire(content) or lists[i] != len(wire(content)) or \
                resp != b"+OK %d octets" % len(wire(content)):
            bad.append((i, name, resp, got[:80], wire(content)[:80]))
    t.ok(not bad and len(ids) == len(fs),
         "%s: RETR of %d messages byte-identical to the files, LIST and +OK exact"
         % (label, len(fs)), bad[:2])
    t.ok(times == sorted(times), "%s: messages in delivery-time order" % label, times)
    t.ok(p.quit().startswith(b"+OK"), "%s: QUIT" % label)
    return ids


def with_fetchmail(t, srv):
    if not shutil.which("fetchmail"):
        t.skip("fetchmail", "fetchmail not installed")
        return
    make_maildir(srv, "carol")
    for m in sample_messages(4):
        deliver_getmail(srv, "carol", m)
    d = os.path.join(srv.dir, "fetchmail-carol")
    os.mkdir(d, 0o700)
    run = fixture.fetchmail_runner(d, srv.host, srv.port, "carol", USERS["carol"])
    r, got = run()
    t.eq(r.returncode, 0, "fetchmail: first run exit 0")
    if r.returncode:
        t.diag(r.stdout + r.stderr)
    want = sorted(wire(c) for _, _, c in files(srv, "carol").values())
    t.eq(sorted(got), want, "fetchmail: 4 messages byte-identical to the Maildir files (CRLF kept)")
    deliver_getmail(srv, "carol", b"Subject: fifth\n\nnew mail\n")
    r, got = run()
    new = [wire(c) for b, (_, _, c) in files(srv, "carol").items() if b"fifth" in c]
    t.eq((r.returncode, got), (0, new), "fetchmail keep+uidl: the second run fetches only the new one")
    # A MUA reads the mail: new/ -> cur/ with the S flag, then a flag change.
    md = maildir_path(srv, "carol")
    for name in os.listdir(os.path.join(md, "new")):
        os.rename(os.path.join(md, "new", name), os.path.join(md, "cur", name + ":2,S"))
    cur = sorted(os.listdir(os.path.join(md, "cur")))
    os.rename(os.path.join(md, "cur", cur[0]), os.path.join(md, "cur", cur[0] + "R"))
    r, got = run()
    t.eq((r.returncode, got), (1, []),
         "fetchmail: after new/ -> cur/ and a flag change nothing looks new (UIDL stable)")
    t.eq(len(files(srv, "carol")), 5, "fetchmail keep: all 5 files still there")


def with_lda(t, srv):
    if not os.access(LDA, os.X_OK):
        t.skip("dovecot-lda", "dovecot-lda not installed (dovecot-core)")
        return
    msgs = sample_messages(3) + [m for k, m in _conf.tricky_messages()
                                 if k in ("dot lines", "CRLF stored", "NUL byte", "empty body")]
    for m in msgs:
        deliver_lda(srv, "bob", m)
    fs = files(srv, "bob")
    t.ok(len(fs) == len(msgs) and all(",W=" in b for b in fs),
         "dovecot-lda: %d files, each named with a ,W= size hint" % len(msgs), sorted(fs))
    check_fetch(t, srv, "bob", "dovecot-lda")
    # The hints are right: the listed sizes equal what ,W= says.
    p = login(srv, "bob")
    ids = [l.split()[1].decode() for l in p.uidl()[1]]
    sizes = [int(l.split()[1]) for l in p.list()[1]]
    p.quit()
    hinted = [int(u.split(",W=")[1].split(",")[0]) for u in ids]
    t.eq(sizes, hinted, "dovecot-lda: LIST sizes are the files' ,W= hints")


def concurrent(t, srv):
    make_maildir(srv, "dave")
    for m in sample_messages(3):
        deliver_getmail(srv, "dave", m)
    before = files(srv, "dave")

    def session():
        c = Client(srv.connect())
        c.line()
        c.cmd("USER dave")
        return c, c.cmd("PASS " + USERS["dave"])

    a, greet = session()
    t.ok(greet.startswith(b"+OK 3 messages"), "session A: 3 messages", greet)
    a.send(b"UIDL\r\n")
    a.line()
    ids = a.multiline()
    deliver_getmail(srv, "dave", b"Subject: during the session\n\nhello\n")
    t.ok(a.cmd("STAT").startswith(b"+OK 3 "), "delivery during the session: STAT unchanged")
    a.send(b"UIDL\r\n")
    a.line()
    t.eq(a.multiline(), ids, "...and UIDL unchanged")
    t.ok(a.cmd("DELE 1").startswith(b"+OK"), "session A: DELE 1")
    t.ok(a.cmd("QUIT").startswith(b"+OK"), "session A: QUIT")
    after = files(srv, "dave")
    first = ids.split(b"\r\n")[0].split()[1].decode()
    t.ok(first not in after and len(after) == 3 and
         any(b"during the session" in c for _, _, c in after.values()),
         "UPDATE removed message 1 only; the new mail is untouched", sorted(after))

    # Two sessions at once; A deletes what B is about to fetch.
    a, ga = session()
    b, gb = session()
    t.ok(ga.startswith(b"+OK 3") and gb.startswith(b"+OK 3"), "sessions A and B: 3 messages each")
    b.send(b"UIDL\r\n")
    b.line()
    bids = [l.split()[1].decode() for l in b.multiline().split(b"\r\n") if l]
    t.ok(a.cmd("DELE 1").startswith(b"+OK") and a.cmd("QUIT").startswith(b"+OK"),
         "A: DELE 1, QUIT")
    r = b.cmd("RETR 1")
    t.ok(r.startswith(b"-ERR") and b"removed" in r, "B: RETR 1 is a clear -ERR", r)
    t.ok(b.cmd("NOOP").startswith(b"+OK"), "B: the session goes on")
    r = b.cmd("RETR 2")
    got = fixture.unstuff(b.multiline()) if r.startswith(b"+OK") else b""
    t.eq(got, wire(after[bids[1]][2]), "B: RETR 2 still served, byte-identical")
    t.ok(b.cmd("DELE 1").startswith(b"+OK") and b.cmd("DELE 2").startswith(b"+OK"),
         "B: DELE 1 (already gone) and DELE 2")
    r = b.cmd("QUIT")
    t.ok(r.startswith(b"+OK"), "B: QUIT is +OK although message 1 was gone", r)
    t.eq(sorted(files(srv, "dave")), [bids[2]], "only the message nobody deleted is left")


def planted(t, srv):
    md = make_maildir(srv, "erin")
    deliver_getmail(srv, "erin", b"Subject: real\n\nthe only real message\n")
    real = files(srv, "erin")
    # another user's file, a symlink to it, a FIFO, a directory
    bobs = os.path.join(md, "new", "1700000001.foreign.host")
    with open(bobs, "wb") as f:
        f.write(b"Subject: not erin's\n\nsecret\n")
    os.chown(bobs, srv.uids["bob"], srv.uids["bob"])
    os.symlink(srv.passwd_file, os.path.join(md, "new", "1700000002.link.host"))
    os.mkfifo(os.path.join(md, "cur", "1700000003.fifo.host:2,"))
    os.chown(os.path.join(md, "cur", "1700000003.fifo.host:2,"), srv.uids["erin"], srv.uids["erin"])
    os.mkdir(os.path.join(md, "new", "1700000004.dir.host"))
    p = login(srv, "erin")
    count, size = p.stat()
    content = list(real.values())[0][2]
    t.eq((count, size), (1, len(wire(content))),
         "planted foreign file, symlink, FIFO, directory: not served")
    resp, lines, octets = p.retr(1)
    t.eq(b"\r\n".join(lines) + b"\r\n", wire(content), "the real message is")
    p.quit()
    t.ok("entries not served" in srv.read_log(), "the log says entries were not served")

    # The Maildir itself a symlink: refused.
    os.symlink(md, maildir_path(srv, "frank"))
    c = Client(srv.connect())
    c.line()
    c.cmd("USER frank")
    r = c.cmd("PASS " + USERS["frank"])
    t.ok(r.startswith(b"-ERR [SYS/PERM]"), "Maildir is a symlink: -ERR [SYS/PERM]", r)


def conformance(t, srv):
    """pop3conf against a Maildir written by getmail_maildir."""
    make_maildir(srv, "grace")
    msgs = [m for k, m in _conf.tricky_messages() if k != "no final newline"]
    last = dict(_conf.tricky_messages())["no final newline"]
    for m in msgs:
        deliver_getmail(srv, "grace", m)
    # the unterminated one must be the last (an mbox can only end with it):
    # delivered in a later second, so its name sorts last
    sec = int(time.time())
    while int(time.time()) == sec:
        time.sleep(0.05)
    deliver_getmail(srv, "grace", last)
    fs = sorted(files(srv, "grace").values(), key=lambda v: (int(v[1].split(".")[0]), v[1]))
    contents = [c for _, _, c in fs]
    data = mbox(*contents[:-1], date=DATE) + ("From MAILER-DAEMON %s\n" % DATE).encode() + contents[-1]
    expect = os.path.join(srv.dir, "grace.mbox")
    with open(expect, "wb") as f:
        f.write(data)
    common = ["--host", srv.host, "--port", str(srv.port), "--user", "grace",
              "--password", USERS["grace"], "--expect-mbox", expect]
    _conf.relay(t, "maildir strict", common + ["--strict"])
    t.eq(files(srv, "grace"), dict((n.split(":")[0], (s, n, c)) for s, n, c in fs),
         "non-destructive run: the Maildir is unchanged")
    _conf.relay(t, "maildir destructive", common + ["--destructive"])
    left = sorted(files(srv, "grace").values(), key=lambda v: (int(v[1].split(".")[0]), v[1]))
    t.eq([c for _, _, c in left], contents[1:-1], "destructive run: exactly the first and last file gone")


def limits(t):
    with Server(users={"alice": "alice-secret"},
                args=["--mailbox", "maildir:%h/Maildir/", "--max-messages", "2"]) as srv:
        srv.start()
        c = Client(srv.connect())
        c.line()
        c.cmd("USER alice")
        t.ok(c.cmd("PASS alice-secret").startswith(b"+OK 0 messages"),
             "no Maildir yet (maildir:%h/Maildir/): an empty maildrop")
        make_maildir(srv, "alice")
        for m in sample_messages(3):
            deliver_getmail(srv, "alice", m)
        c = Client(srv.connect())
        c.line()
        c.cmd("USER alice")
        r = c.cmd("PASS alice-secret")
        t.ok(r.startswith(b"-ERR [SYS/PERM]"), "--max-messages 2 with 3 files: refused", r)
        log = srv.read_log()
        t.ok("status=limit why=more\\x20than\\x202" in log, "...and the log says why", log[-600:])


def body(t):
    fixture.require_root(t)
    if not shutil.which("getmail_maildir"):
        t.skip_all("getmail_maildir (getmail6) not installed")
    with Server(users=USERS, args=["--mailbox", "maildir:%h/Maildir", "--penalty-max", "0"]) as srv:
        srv.start()
        make_maildir(srv, "alice")
        msgs = sample_messages(3) + [m for _, m in _conf.tricky_messages()]
        for m in msgs:
            deliver_getmail(srv, "alice", m)
        t.eq(len(files(srv, "alice")), len(msgs), "getmail_maildir delivered %d messages" % len(msgs))
        ids = check_fetch(t, srv, "alice", "getmail_maildir")
        # A MUA moves everything to cur/ and flags it: same ids.
        md = maildir_path(srv, "alice")
        for name in os.listdir(os.path.join(md, "new")):
            os.rename(os.path.join(md, "new", name), os.path.join(md, "cur", name + ":2,S"))
        p = login(srv, "alice")
        t.eq([l.split()[1].decode() for l in p.uidl()[1]], ids,
             "UIDL unchanged after new/ -> cur/ with flags")
        p.quit()
        t.ok(all(stat.S_ISREG(os.lstat(os.path.join(md, "cur", n)).st_mode)
                 for n in os.listdir(os.path.join(md, "cur"))) and
             not os.listdir(os.path.join(md, "new")), "no DELE asked: nothing moved or removed")
        with_lda(t, srv)
        with_fetchmail(t, srv)
        concurrent(t, srv)
        planted(t, srv)
        conformance(t, srv)
        t.eq(srv.stop(), 0, "SIGTERM: exit 0")
    limits(t)


if __name__ == "__main__":
    TAP().run(body)
