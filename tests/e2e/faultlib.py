# SPDX-License-Identifier: BSD-2-Clause
"""What the fault tests share (test-faults.py, test-killupdate.py):
logging in, finding and waiting for a session, a tmpfs spool, mbox
records and messages, and where a killed rewrite spliced its layouts."""
import os
import random
import re
import subprocess
import time

from procfs import children
import fixture
from fixture import Conn

DATE = "Thu Nov 19 10:00:00 2026"
SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error")

def login(srv, user, source=None, timeout=30):
    c = Conn(srv.connect(source=source, timeout=timeout))
    g = c.line()
    if not g.startswith(b"+OK"):
        c.close()
        raise AssertionError("greeting %r" % g)
    c.cmd("USER " + user)
    r = c.cmd("PASS " + srv.users[user])
    return c, r


def uid_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def session_pid(srv, user, timeout=10):
    """The session of `user`: the listener's child running as the user
    (after login the leader is the session, src/leader.c)."""
    want = srv.uids[user]
    deadline = time.time() + timeout
    while time.time() < deadline:
        pids = [p for p in children(srv.proc.pid) if uid_of(p) == want]
        if len(pids) == 1:
            return pids[0]
        time.sleep(0.005)
    return None


def gone(pid, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not os.path.exists("/proc/%d" % pid):
            return True
        time.sleep(0.005)
    return False


def mount_tmpfs(path, opts):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr.strip()


def umount(path):
    if subprocess.run(["umount", path], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True)


def record(msg, sender="MAILER-DAEMON"):
    """One message as stored: From_ line, the message, the separator."""
    return ("From %s %s\n" % (sender, DATE)).encode() + msg + b"\n"


def unrecord(rec):
    """The message of a record (no From_ line, no separator)."""
    return rec.split(b"\n", 1)[1][:-1]


def common_prefix(a, b):
    n = min(len(a), len(b))
    step = 65536
    i = 0
    while i + step <= n and a[i:i + step] == b[i:i + step]:
        i += step
    while i < n and a[i] == b[i]:
        i += 1
    return i


def common_suffix(a, b):
    """Length of the common tail of two equally long byte strings."""
    n = len(a)
    step = 65536
    i = 0
    while i + step <= n and a[n - i - step:n - i] == b[n - i - step:n - i]:
        i += step
    while i < n and a[n - 1 - i] == b[n - 1 - i]:
        i += 1
    return i


def splice_point(got, old, new):
    """k such that got == new[:k] + old[k:] (the UPDATE invariant), or
    None.  A finished UPDATE gives got == new (k = len(new), truncated)."""
    if got == new:
        return len(new)
    if len(got) != len(old):
        return None
    p = common_prefix(got, new)
    s = common_suffix(got, old)
    lo = len(old) - s       # got[lo:] == old[lo:]
    if lo <= min(p, len(new)):
        return lo
    return None


def msg_id(rec):
    m = re.search(rb"Message-ID: <([^>]*)>", rec)
    return m.group(1).decode() if m else None


_POOL = None


def text_pool():
    """~1 MB of random text lines (some dot-led), made once."""
    global _POOL
    if _POOL is None:
        r = random.Random(1)
        lines = []
        for _ in range(16000):
            ln = "".join(r.choice("abcdefghij .") for _ in range(r.randrange(20, 90)))
            lines.append(("." + ln) if r.random() < 0.05 else ln)
        _POOL = ("\n".join(lines) + "\n").encode()
    return _POOL


def big_message(tag, i, size):
    """A message of about `size` bytes with its own Received/Message-ID
    and a body cut from the pool at a place that depends on (tag, i)."""
    head = ("Received: from relay.example by mx.faults.test id %s%05d; "
            "Thu, 19 Nov 2026 10:00:00 +0000\nFrom: s%d@example.org\nTo: k@faults.test\n"
            "Subject: %s %d\nMessage-ID: <%s.%d@faults.test>\n\n" % (tag, i, i, tag, i, tag, i)).encode()
    pool = text_pool()
    body = []
    n = len(head)
    off = random.Random("%s%d" % (tag, i)).randrange(len(pool) // 2)
    while n < size:
        start = pool.index(b"\n", off) + 1
        piece = pool[start:start + min(size - n, len(pool) - start)]
        piece = piece[:piece.rindex(b"\n") + 1] if b"\n" in piece else b"x\n"
        body.append(piece)
        n += len(piece)
        off = 0
    return head + b"".join(body) + b"%s %d end\n" % (tag.encode(), i)


def small_message(tag, i, extra=0):
    return ("Received: from mta by mx.faults.test id %s%d; Thu, 19 Nov 2026 11:00:00 +0000\n"
            "From: d@example.org\nSubject: %s %d\nMessage-ID: <%s.%d@faults.test>\n\n"
            "body of %s %d\npad %s\nFrom here on, a line that is content\nend\n"
            % (tag, i, tag, i, tag, i, tag, i, "x" * extra)).encode()


def run_parts(t, parts):
    """Run each (letter, function) part, or those FAULTS_ONLY names."""
    fixture.require_root(t)
    only = os.environ.get("FAULTS_ONLY", "")
    for name, fn in parts:
        if only and name not in only:
            continue
        t0 = time.time()
        fn(t)
        t.diag("part %s: %.1f s" % (name, time.time() - t0))
