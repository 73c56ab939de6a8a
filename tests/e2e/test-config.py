# SPDX-License-Identifier: BSD-2-Clause
"""popa3d -t and -T against the real binary, with the fixture's users,
PAM stack and directories (nothing in /etc is used).

- a good configuration passes -t silently; each kind of problem a start
  refuses is refused by -t alone, with exactly one line naming it, and
  several problems give one line each;
- a SIGHUP with a broken file logs the very lines -t prints;
- -T prints every option of the table (src/options.c), defaults
  included, and what it prints read back with -c prints the same;
- doc/popa3d.conf.example passes -t, names every option, and the
  defaults it shows commented out are the program's (-T).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import TAP  # noqa: E402
import fixture  # noqa: E402
from fixture import Server  # noqa: E402

SRCDIR = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(SRCDIR, "doc", "popa3d.conf.example")


def table_options():
    """Names of the options a file may set, from opt_table in src/options.c."""
    names, inside = [], False
    with open(os.path.join(SRCDIR, "src", "options.c")) as f:
        for line in f:
            if "opt_table[] = {" in line:
                inside = True
                continue
            if inside and line.startswith("};"):
                break
            m = re.match(r'\s*\{ "([a-z-]+)", ', line) if inside else None
            if m and "OPT_CMDLINE" not in line:
                names.append(m.group(1))
    return names


def run(srv, *args):
    r = subprocess.run([fixture.popa3d_binary()] + list(args), env=srv.env(),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def body(t):
    fixture.require_root(t)
    names = table_options()
    t.ok(len(names) >= 30, "%d file options in the table (sanity: at least 30)" % len(names))
    with Server() as srv:
        conf = os.path.join(srv.dir, "popa3d.conf")
        port = fixture.free_port()
        good = "daemon yes\nforeground yes\nlisten 127.0.0.1:%d\n" % port + fixture.config_lines(srv.base_args())
        with open(conf, "w") as f:
            f.write(good)
        rc, out, err = run(srv, "-c", conf, "-t")
        t.ok(rc == 0 and out == "" and err == "", "a good configuration: -t exits 0, silent",
             "rc=%d out=%r err=%r" % (rc, out, err))
        rc, out, err = run(srv, "-c", conf, "-V")
        t.ok(rc == 0 and out.startswith("popa3d "), "-c FILE -V still prints the version", out + err)

        # One problem at a time: exit 1, one line, naming it.
        cert, key = fixture.make_cert(srv.dir)
        cert2, key2 = fixture.make_cert(srv.dir, "other")
        full = os.path.join(srv.dir, "full")
        os.mkdir(full, 0o755)
        open(os.path.join(full, "x"), "w").close()
        wide = os.path.join(srv.dir, "wide")
        os.mkdir(wide)
        os.chmod(wide, 0o777)
        mine = os.path.join(srv.dir, "mine")
        os.mkdir(mine, 0o755)
        os.chown(mine, fixture.FIRST_UID, fixture.FIRST_UID)
        cases = [
            ("timeout 0", "--timeout"),
            ("bogus-option 1", "unknown option \"bogus-option\""),
            ("user nosuchuser", "--user nosuchuser: no such user"),
            ("user root", "--user root: must not be root"),
            ("empty-dir %s" % full, "must be empty"),
            ("empty-dir %s" % wide, "writable by nobody else"),
            ("empty-dir %s" % mine, "must be owned by root"),
            ("empty-dir %s/none" % srv.dir, "not a directory"),
            ("tls-cert %s\ntls-key %s/none" % (cert, srv.dir), "--tls-key"),
            ("tls-cert %s\ntls-key %s" % (cert, key2), "--tls-cert %s" % cert),
            ("tls-cert %s" % cert, "--tls-cert and --tls-key go together"),
            ("require-tls yes", "--require-tls needs --tls-cert"),
            ("proxy-protocol yes", "--proxy-protocol needs --proxy-from"),
            ("proxy-from 127.0.0.0/8", "--proxy-from only makes sense with --proxy-protocol"),
            ("listen 127.0.0.1:%d" % port, "127.0.0.1:%d: this address is given twice" % port),
            ("mailbox mbox:%s/nospool/%%u" % srv.dir, "nospool is not a directory"),
            ("pid-file %s/nodir/popa3d.pid" % srv.dir, "--pid-file"),
            ("foreground yes\ndaemon no", "-F only makes sense with -D"),
        ]
        if not fixture.built_with("HAVE_TLS"):
            cases = [c for c in cases if "tls" not in c[0]]
        if srv.pam:
            cases.append(("pam-service nosuchservice", "--pam-service nosuchservice: no file"))
        else:
            cases.append(("shadow-file %s/none" % srv.dir, "--shadow-file"))
        for extra, want in cases:
            with open(conf, "w") as f:
                f.write(good + extra + "\n")
            rc, out, err = run(srv, "-c", conf, "-t")
            lines = err.splitlines()
            t.ok(rc == 1 and len(lines) == 1 and want in lines[0] and out == "",
                 "-t refuses %r with one line" % extra.replace("\n", "; "),
                 "rc=%d stderr=%r" % (rc, err))

        # All problems, not just the first: syntax first (each bad line)...
        with open(conf, "w") as f:
            f.write(good + "timeout x\nmax-sessions 0\nno-such 1\n")
        rc, _, err = run(srv, "-c", conf, "-t")
        lines = err.splitlines()
        t.ok(rc == 1 and len(lines) == 3 and all(conf in ln for ln in lines),
             "three bad lines: three lines, each naming file:line", err)
        # ...then every broken rule between options (and not the system)...
        with open(conf, "w") as f:
            f.write(good + "proxy-protocol yes\nrequire-tls yes\nuser nosuchuser\n")
        rc, _, err = run(srv, "-c", conf, "-t")
        t.ok(rc == 1 and len(err.splitlines()) == 2 and "nosuchuser" not in err,
             "two broken rules: two lines, the system not checked yet", err)
        # ...then every problem the system has
        broken = (good + "user nosuchuser\nmailbox mbox:%s/nospool/%%u\n" % srv.dir +
                  "pid-file %s/nodir/popa3d.pid\n" % srv.dir)
        with open(conf, "w") as f:
            f.write(broken + "listen 127.0.0.1:%d\n" % port)
        rc, _, err = run(srv, "-c", conf, "-t")
        t.ok(rc == 1 and len(err.splitlines()) == 4, "four problems: four lines", err)
        # (a reload does not check the listen addresses: it keeps its sockets)
        with open(conf, "w") as f:
            f.write(broken)
        rc, _, err = run(srv, "-c", conf, "-t")
        check_lines = err.splitlines()

        # The same lines from a SIGHUP that is refused.
        with open(conf, "w") as f:
            f.write(good)
        p = subprocess.Popen([fixture.popa3d_binary(), "-c", conf], env=srv.env(),
                             stdout=open(srv.log_path, "ab"), stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 10
            while not fixture.listening("127.0.0.1", port) and time.time() < deadline:
                time.sleep(0.05)
            t.ok(fixture.listening("127.0.0.1", port), "the daemon runs with the good file")
            rc, _, err = run(srv, "-c", conf, "-t")
            t.ok(rc == 0, "-t passes while the daemon holds the port", err)
            with open(conf, "w") as f:
                f.write(broken)
            p.send_signal(signal.SIGHUP)
            want = ["SIGHUP: configuration not reloaded: " + ln[len("popa3d: "):]
                    for ln in check_lines if ln.startswith("popa3d: ")]
            deadline = time.time() + 10
            while (srv.read_log().count("not reloaded") < len(want) and
                   time.time() < deadline):
                time.sleep(0.05)
            log = srv.read_log()
            got = [ln[ln.index("SIGHUP:"):] for ln in log.splitlines() if "not reloaded" in ln]
            t.eq(got, want, "a refused SIGHUP logs the lines -t prints, one per problem")
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            t.ok(s.recv(100).startswith(b"+OK"), "and keeps serving with the old configuration")
            s.close()
        finally:
            p.send_signal(signal.SIGTERM)
            t.eq(p.wait(10), 0, "clean stop")

        # Not root: a start would refuse; so does -t, in the same words.
        with open(conf, "w") as f:
            f.write(good)
        os.chmod(conf, 0o644)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            fixture.popa3d_binary(), "-c", conf, "-t"], env=srv.env(),
                           capture_output=True, text=True, timeout=30)
        t.ok(r.returncode == 1 and r.stderr.splitlines() ==
             ["popa3d: must be started as root (it authenticates users and switches to them)"],
             "-t as another user: exit 1, the start's one line", r.stderr)

        # -T: every option, and a fixed point.
        tls = ("listen-tls 127.0.0.1:%d\ntls-cert %s\ntls-key %s\nrequire-tls yes\n"
               % (port + 1, cert, key)) if fixture.built_with("HAVE_TLS") else ""
        rich = (good + tls + "proxy-protocol yes\nproxy-from 127.0.0.0/8,::1/128\n"
                "lock-method flock,dotlock\nexpire 30\nlogin-delay 60\n"
                "mailbox maildir:%h/Maildir\npid-file /run/popa3d-test.pid\n")
        for what, text in (("defaults", ""), ("the test file", good), ("a file setting more", rich)):
            with open(conf, "w") as f:
                f.write(text)
            rc, out1, err = run(srv, "-c", conf, "-T")
            shown = set()
            for ln in out1.splitlines():
                m = re.match(r"(?:# )?([a-z-]+) ", ln)
                if m:
                    shown.add(m.group(1))
            missing = [n for n in names if n not in shown]
            t.ok(rc == 0 and not missing, "-T (%s) shows all %d options" % (what, len(names)),
                 "rc=%d missing=%s %s" % (rc, missing, err))
            with open(conf, "w") as f:
                f.write(out1)
            rc, out2, err = run(srv, "-c", conf, "-T")
            t.ok(rc == 0 and out2 == out1, "-T (%s) read back with -c gives the same -T" % what,
                 err + "\n" + "\n".join(a + " | " + b for a, b in zip(out1.splitlines(),
                                                                      out2.splitlines()) if a != b))
        rc, out, _ = run(srv, "-T")
        defaults = dict(ln.split(" ", 1) for ln in out.splitlines() if not ln.startswith("#"))
        t.ok("max-sessions 100" in out.splitlines() and "lock-method fcntl,dotlock" in out,
             "-T shows the built-in defaults", out)
        # --help states defaults in [brackets] by hand: they must be -T's
        # (login-delay's "[not sent]" is what its 0 means).
        rc, helptext, _ = run(srv, "--help")
        wrong, compared = [], 0
        for ln in helptext.splitlines():
            opts = re.findall(r"--([a-z][a-z-]*)", ln)
            m = re.search(r"\[([^]]*)\]$", ln)
            if len(opts) == 1 and m and opts[0] in defaults and opts[0] != "login-delay":
                compared += 1
                if defaults[opts[0]] != m.group(1):
                    wrong.append("%s: help [%s], -T %s" % (opts[0], m.group(1), defaults[opts[0]]))
        t.ok(compared >= 15 and not wrong,
             "the %d defaults --help shows are the ones -T prints" % compared, wrong)

        # doc/popa3d.conf.example: true, complete, and passing -t here
        # (with this machine's users and directories from the command line,
        # which override the file's).
        with open(EXAMPLE) as f:
            example = f.read()
        lines = example.splitlines()
        present = set()
        for ln in lines:
            m = re.match(r"#?([a-z][a-z-]*)(?: |$)", ln)
            if m and m.group(1) in names:
                present.add(m.group(1))
        t.ok(not [n for n in names if n not in present],
             "the example names every option", [n for n in names if n not in present])
        # Commented-out values are the defaults, except these examples of
        # what to set (and the four configure decides, see popa3d.8).
        not_defaults = {"listen-tls", "tls-cert", "tls-key", "require-tls", "proxy-protocol",
                        "proxy-from", "pid-file", "pam-confdir", "shadow-file",
                        "user", "empty-dir", "mailbox", "auth"}
        wrong = []
        for ln in lines:
            m = re.match(r"#([a-z][a-z-]*) (.*)$", ln)
            if m and m.group(1) in defaults and m.group(1) not in not_defaults:
                if defaults[m.group(1)] != m.group(2):
                    wrong.append("%s: example %s, -T %s" % (m.group(1), m.group(2),
                                                          defaults[m.group(1)]))
        t.ok(not wrong, "the example's commented values are the defaults -T shows", wrong)
        t.ok("not implemented" not in example.lower(),
             "the example does not call anything unimplemented")
        args = ["-c", EXAMPLE] + srv.base_args()
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
                s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s6.bind(("::", 0))
        except OSError:
            args += ["-l", "0.0.0.0:110"]   # this host has no IPv6: its [::] cannot be checked
        rc, out, err = run(srv, *(args + ["-t"]))
        t.ok(rc == 0 and err == "", "doc/popa3d.conf.example passes -t", err)


TAP().run(body)
