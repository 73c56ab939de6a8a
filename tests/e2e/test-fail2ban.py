# SPDX-License-Identifier: BSD-2-Clause
"""The shipped fail2ban filter against the real daemon's log.

The real popa3d (fixture.Server: real PAM through pam_matrix, loopback)
sees failed logins -- some with user names built to forge a second rip=
field or a reason -- one good login, a connection flood over
--max-per-source, and, from a second server with a broken PAM stack, a
temporary backend failure, and, from a third one with a certificate,
failures under STLS by USER/PASS and by AUTH PLAIN.  Its --log-stderr output is turned into the
syslog lines fail2ban reads ("Nov 25 13:00:00 host popa3d[123]: ..."), and
fail2ban-regex runs doc/fail2ban/filter.d/popa3d.conf, installed as
fail2ban would have it (beside fail2ban's own common.conf), in each mode.

Asserted: one match per failed login, always for 127.0.0.1 and never for
the address inside a user name; the user fail2ban extracts is the logged,
sanitised name; the good login, the refusals (in normal mode) and the
backend failure are not matched; the flood mode matches exactly the logged
max-per-source refusals.  And every auth ok / auth failure / refused /
logout line the daemon wrote has one of the formats popa3d(8) LOGGING
documents (the page's example lines, read from the generated page).
"""
import os
import re
import base64
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server, Client  # noqa: E402
from procfs import wait_for  # noqa: E402

COMMON_CONF = "/etc/fail2ban/filter.d/common.conf"
FORGED = "10.9.9.9"

# USER arguments that reach the leader (one word, no controls: anything
# else the pre-auth child refuses before it asks) and try to smuggle a
# field into the log line.
BAD_USERS = [
    "alice",                               # right name, wrong password
    "nosuchuser",
    "rip=" + FORGED,
    'x"rip=' + FORGED + '"',
    "\\x20rip=" + FORGED,                  # a literal backslash escape
    "%n%s%x%%rip=" + FORGED,
    'reason="x"',
    "\u00e9t\u00e9rip=" + FORGED,          # UTF-8
    "root",
]


def log_clean(name):
    """What popa3d's log_clean() makes of a name (see popa3d(8), LOGGING)."""
    out = ""
    for b in name.encode("utf-8"):
        if 0x21 <= b <= 0x7e and chr(b) not in '%"\\':
            out += chr(b)
        else:
            out += "\\x%02x" % b
    return out


STAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d:\d\d:\d\d) (popa3d\[\d+\]: .*)$")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def to_syslog(text):
    """--log-stderr lines to the classic syslog form fail2ban reads."""
    out = []
    for line in text.splitlines():
        m = STAMP.match(line)
        if m:
            out.append("%s %2d %s testhost %s" % (MONTHS[int(m.group(2)) - 1],
                                                   int(m.group(3)), m.group(4), m.group(5)))
    return out


def greeting_conn(srv, tries=200):
    """A connection the server accepted (+OK greeting).  Sessions that just
    ended may not be reaped yet and still count against --max-per-source;
    retry until one is accepted (synchronisation, no timing asserted)."""
    for _ in range(tries):
        c = Client(srv.connect())
        g = c.line()
        if g.startswith(b"+OK"):
            return c
        c.close()
        time.sleep(0.05)
    raise RuntimeError("server kept refusing connections")


def documented_formats():
    """The example lines of popa3d(8) LOGGING as regular expressions:
    \fIX\fP placeholders match one token, quoted values any quoted text."""
    builddir = os.environ.get("top_builddir", ".")
    with open(os.path.join(builddir, "doc", "popa3d.8")) as f:
        text = f.read()
    section = text.split("\n.SH LOGGING\n", 1)[1].split("\n.SH ", 1)[0]
    pats = []
    for block in re.findall(r"\n\.EX\n(.*?)\n\.EE", section, re.S):
        for line in block.splitlines():
            line = line.replace("\\-", "-")
            out = ""
            for lit, ph in re.findall(r"(.*?)(\\fI.*?\\fP|$)", line):
                out += re.escape(lit) + (r"\S+" if ph else "")
            out = re.sub(r'="(?:[^"\\]|\\.)*"', '="[^"]*"', out)
            pats.append(re.compile(out + "$"))
    return pats


KINDS = ("auth ok ", "auth failure ", "refused ", "logout ", "end ")


def check_formats(t, raw):
    pats = documented_formats()
    seen, bad = set(), []
    for line in raw.splitlines():
        m = STAMP.match(line)
        if not m:
            continue
        msg = m.group(5).split(": ", 1)[1]
        kind = [k for k in KINDS if msg.startswith(k)]
        if not kind:
            continue
        seen.add(kind[0])
        if not any(p.match(msg) for p in pats):
            bad.append(msg)
    t.ok(len(pats) >= 5 and seen == set(KINDS) and not bad,
         "every auth ok/auth failure/refused/logout/end line has a format popa3d(8) documents",
         "seen: %s\nundocumented:\n%s" % (sorted(seen), "\n".join(bad)))


def f2b(confdir, logfile, filt, out):
    r = subprocess.run(["fail2ban-regex", "-c", confdir, "-o", out, logfile, filt],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("fail2ban-regex %s failed (%d):\n%s%s"
                           % (filt, r.returncode, r.stdout, r.stderr))
    return [l for l in r.stdout.splitlines() if l.strip()]


def tls_failures(t, work, args):
    """Failed logins under STLS, by USER/PASS and by AUTH PLAIN: the lines
    say tls=yes and method=USER/PLAIN, and the filter still takes them."""
    if not fixture.built_with("HAVE_TLS"):
        t.skip("failed logins under STLS", "built without TLS")
        return
    if not shutil.which("openssl"):
        t.skip("failed logins under STLS", "openssl not installed")
        return
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       capture_output=True, text=True)
    if r.returncode != 0:
        t.diag("openssl req failed, no TLS failures checked: " + r.stderr)
        return
    os.chmod(key, 0o600)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    plain = base64.b64encode(b"\0rip=" + FORGED.encode() + b"\0wrong").decode()
    tport = fixture.free_port()
    with Server(args=args + ["--tls-cert", cert, "--tls-key", key,
                             "--listen-tls", "127.0.0.1:%d" % tport]) as srv:
        srv.start()
        c = greeting_conn(srv)
        r0 = c.cmd("STLS")
        c = Client(ctx.wrap_socket(c.s, server_hostname="localhost"))
        r1 = (c.cmd("USER alice"), c.cmd("PASS wrong"), c.cmd("AUTH PLAIN " + plain))
        c.cmd("QUIT")
        c.close()
        # plaintext on the POP3S port: a failed handshake (from its own
        # address: --max-per-source 2 may still count the STLS connection)
        s = socket.create_connection(("127.0.0.1", tport), timeout=10,
                                     source_address=("127.0.0.3", 0))
        s.sendall(b"USER alice\r\n")
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
        deadline = time.time() + 10
        while time.time() < deadline and "reason=tls-failed" not in srv.read_log():
            time.sleep(0.05)
        srv.stop()
        raw = srv.read_log()
    t.ok(r0.startswith(b"+OK") and r1[0].startswith(b"+OK") and
         all(x.startswith(b"-ERR [AUTH]") for x in r1[1:]),
         "under STLS: a failed USER/PASS and a failed AUTH PLAIN", (r0, r1))
    lines = [l for l in to_syslog(raw) if ": auth failure " in l]
    t.ok(len(lines) == 2 and all(" tls=yes " in l for l in lines) and
         " method=USER " in lines[0] and " method=PLAIN " in lines[1],
         "they are logged with tls=yes, method=USER and method=PLAIN", raw)
    logfile = os.path.join(work, "tls.log")
    with open(logfile, "w") as f:
        f.write("\n".join(lines) + "\n")
    t.eq(f2b(work, logfile, "popa3d", "ip"), ["127.0.0.1"] * 2,
         "the filter takes both, for 127.0.0.1")
    tlsfail = [l for l in to_syslog(raw) if " reason=tls-failed " in l]
    t.ok(len(tlsfail) == 1, "plaintext on the POP3S port: one end line, reason=tls-failed", raw)
    with open(logfile, "w") as f:
        f.write("\n".join(tlsfail) + "\n")
    t.eq(f2b(work, logfile, "popa3d[mode=scan]", "ip"), ["127.0.0.3"],
         "scan mode takes the failed handshake")
    t.eq(f2b(work, logfile, "popa3d", "ip"), [], "normal mode does not")


def body(t):
    fixture.require_root(t)
    if not shutil.which("fail2ban-regex"):
        t.skip_all("fail2ban-regex not installed (Debian: fail2ban)")
    if not os.path.exists(COMMON_CONF):
        t.skip_all(COMMON_CONF + " missing")
    # The fixture logs users in through PAM (pam_matrix); in a build
    # configured --without-pam no login could ever succeed here.
    try:
        with open(os.path.join(os.environ.get("top_builddir", "."), "config.h")) as f:
            have_pam = "#define HAVE_PAM 1" in f.read()
    except OSError:
        have_pam = True
    if not have_pam:
        t.skip_all("popa3d built --without-pam (the fixture's users log in through PAM)")
    srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
    filt = os.path.join(srcdir, "doc", "fail2ban", "filter.d", "popa3d.conf")

    work = tempfile.mkdtemp(prefix="popa3d-f2b.")
    try:
        # fail2ban's layout: CONF/filter.d/{common.conf,popa3d.conf}
        os.mkdir(os.path.join(work, "filter.d"))
        shutil.copy(COMMON_CONF, os.path.join(work, "filter.d"))
        shutil.copy(filt, os.path.join(work, "filter.d", "popa3d.conf"))
        run(t, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(t, work):
    # All failures on one connection, and no per-source penalty, so the
    # test does not wait for popa3d's own brakes.
    args = ["--max-failures", "20", "--penalty-max", "0", "--max-per-source", "2"]
    with Server(args=args) as srv:
        srv.start()
        c = greeting_conn(srv)
        answers = []
        for name in BAD_USERS:
            r1 = c.cmd("USER " + name)
            r2 = c.cmd("PASS wrong password")
            answers.append((name, r1, r2))
        c.cmd("QUIT")
        c.close()
        t.ok(all(r1.startswith(b"+OK") and r2.startswith(b"-ERR [AUTH]") for _, r1, r2 in answers),
             "%d failed logins, each +OK to USER and -ERR [AUTH] to PASS" % len(BAD_USERS),
             answers)

        c = greeting_conn(srv)
        c.cmd("USER alice")
        r = c.cmd("PASS alice-secret")
        t.ok(r.startswith(b"+OK"), "one good login", r)
        c.cmd("QUIT")
        c.close()

        # Flood: hold --max-per-source connections, then knock twice more.
        held = [greeting_conn(srv) for _ in range(2)]
        refused = 0
        for _ in range(2):
            k = Client(srv.connect())
            try:
                if k.line().startswith(b"-ERR [SYS/TEMP]"):
                    refused += 1
            except EOFError:
                pass
            k.close()
        t.eq(refused, 2, "connections over --max-per-source are refused")
        for h in held:
            h.close()
        # Each held connection's leader writes its end line once its child
        # has gone; SIGTERM leaves leaders running, so wait for the lines
        # before reading the log, not for a time.
        wait_for(lambda: srv.read_log().count(" reason=no-auth ") >= 2, 10)
        t.eq(srv.stop(), 0, "daemon stopped with SIGTERM, exit 0")
        raw = srv.read_log()

    check_formats(t, raw)
    lines = to_syslog(raw)
    logfile = os.path.join(work, "mail.log")
    with open(logfile, "w") as f:
        f.write("\n".join(lines) + "\n")
    failures = [l for l in lines if ": auth failure " in l]
    oks = [l for l in lines if ": auth ok " in l]
    refusals = [l for l in lines if ': refused rip=' in l and 'reason="max-per-source"' in l]
    t.eq(len(failures), len(BAD_USERS), "the daemon logged one auth failure line per failed login")
    t.eq(len(oks), 1, "the daemon logged the good login")
    t.ok(len(refusals) >= 1, "the daemon logged the refusal (rate-limited: %d line(s))" % len(refusals),
         raw)
    forged = [l for l in failures if FORGED in l]
    t.ok(len(forged) >= 4 and all("rip=127.0.0.1 " in l for l in forged),
         "the log holds %d failure lines with %s inside the user name" % (len(forged), FORGED),
         "\n".join(failures))
    t.ok(all(log_clean(n) in "\n".join(failures) for n in BAD_USERS),
         "user names are logged sanitised (no space, quote, percent sign or backslash left raw)",
         "\n".join(failures))

    ips = f2b(work, logfile, "popa3d", "ip")
    t.eq(len(ips), len(BAD_USERS), "normal mode: one match per failed login, none for the rest")
    t.ok(ips and all(ip == "127.0.0.1" for ip in ips), "every match is 127.0.0.1, never " + FORGED,
         ips)
    t.eq(f2b(work, logfile, "popa3d[logtype=journal]", "ip"), ips,
         "with the journal backend's line prefix: the same matches")
    users = f2b(work, logfile, "popa3d", "user")
    t.eq(users, [log_clean(n) for n in BAD_USERS],
         "the user fail2ban extracts is the whole sanitised user= field")

    okfile = os.path.join(work, "ok.log")
    with open(okfile, "w") as f:
        f.write("\n".join(oks + refusals) + "\n")
    t.eq(f2b(work, okfile, "popa3d", "ip"), [],
         "normal mode: the good login and the refusals match nothing")

    flood = f2b(work, logfile, "popa3d[mode=flood]", "ip")
    t.eq(flood, ["127.0.0.1"] * len(refusals), "flood mode: exactly the max-per-source refusals")
    # the held connections and the start-up probe ended without a login attempt
    scans = [l for l in lines if ": end " in l and " state=pre-auth reason=no-auth " in l]
    ends = [l for l in lines if ": end " in l]
    t.ok(len(scans) >= 2 and len(ends) > len(scans),
         "%d end lines, %d of them no-auth" % (len(ends), len(scans)), raw)
    t.eq(f2b(work, logfile, "popa3d[mode=scan]", "ip"), ["127.0.0.1"] * len(scans),
         "scan mode: exactly the no-auth end lines (not quit, not the session)")
    both = f2b(work, logfile, "popa3d[mode=aggressive]", "ip")
    t.eq(len(both), len(BAD_USERS) + len(refusals) + len(scans),
         "aggressive mode: failures, refusals and scans")

    tls_failures(t, work, args)

    # A broken PAM stack: the server's trouble, which must not ban anyone.
    broken = "auth required /nonexistent/pam_popa3d_missing.so\n" \
             "account required /nonexistent/pam_popa3d_missing.so\n"
    with Server(args=args, pam_stack=broken) as srv:
        srv.start()
        c = greeting_conn(srv)
        c.cmd("USER alice")
        r = c.cmd("PASS alice-secret")
        c.close()
        srv.stop()
        raw = srv.read_log()
    lines = [l for l in to_syslog(raw) if ": auth failure " in l]
    t.ok(len(lines) == 1 and 'reason="authentication failure"' not in lines[0]
         and r.startswith(b"-ERR"),
         "broken PAM: -ERR, and one auth failure line with a backend reason", (r, raw))
    tmpfile = os.path.join(work, "tempfail.log")
    with open(tmpfile, "w") as f:
        f.write("\n".join(lines) + "\n")
    t.eq(f2b(work, tmpfile, "popa3d", "ip"), [], "normal mode: a backend failure matches nothing")


TAP().run(body)
