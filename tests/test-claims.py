#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Claims of the documentation that the code can confirm, checked (TAP).

Every sentence about security in doc/DESIGN.md and the man pages must be
true (issue 21).  Most need a reader; these need only the code:

  - DESIGN's list of the seccomp filter (between its "seccomp" markers)
    names exactly the calls src/sandbox.c allows, allows on a condition
    and refuses, and everything else kills the process;
  - DESIGN counts the daemon's symbols the TLS module may call back;
  - every function, table or constant named in backquotes in DESIGN,
    README and the engine's notes exists in the code;
  - popa3d -T prints every option of the table a file may hold, and
    every "--option (N)" default the documents state in prose is the
    value it prints, and every "[N]" default of --help too;
  - every numeric range a man page entry states ("1 to 100") is the one
    the option table enforces;
  - the options that are command line only are the same in the table,
    in popa3d(8)'s entries and in its OPTIONS introduction.

src/options.c and src/sandbox.c are read as text: their tables are data
laid out one entry a line, which is what lets a test read them.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "e2e"))
from tap import TAP  # noqa: E402

TOP = os.environ.get("top_srcdir", os.path.join(HERE, ".."))
POPA3D = os.environ.get("POPA3D", os.path.join(TOP, "src", "popa3d"))
DOCS = ["README.md", "doc/DESIGN.md", "doc/popa3d.8.in", "doc/popa3d.conf.5.in",
        "doc/standards.md", "doc/scaling.md", "doc/mbox.md", "doc/maildir.md",
        "doc/migration.md", "doc/performance.md"]


def read(path):
    with open(os.path.join(TOP, path), encoding="utf-8") as f:
        return f.read()


def roff_plain(text):
    """roff source to words: fonts, escapes and request names away."""
    text = re.sub(r"\\f[BIRP]", "", text)
    text = text.replace("\\-", "-").replace("\\&", "").replace("\\(dq", '"')
    text = text.replace("\\(en", "-")
    return re.sub(r"^\.[A-Z]+ ?", "", text, flags=re.M)


def words(text):
    return " ".join(text.replace("`", "").split())


# ------------------------------------------------------------------ seccomp
def c_block(src, start, end="};"):
    i = src.index(start)
    return src[i:src.index(end, i)]


def sandbox_filter():
    """(allowed, conditional, refused, default action) from sandbox.c."""
    src = read("src/sandbox.c")
    allowed = c_block(src, "static const int sandbox_allowed[]")
    # the sanitizer build's extras are not the filter a user runs
    allowed = re.sub(r"#ifdef POPA3D_SANITIZERS.*?#endif", "", allowed, flags=re.S)
    refused = c_block(src, "static const int sandbox_refused[]")
    build = c_block(src, "static scmp_filter_ctx sandbox_build", "\n}\n")
    cond = re.findall(r"seccomp_rule_add\(ctx, SCMP_ACT_ALLOW, SCMP_SYS\((\w+)\), [1-9]", build)
    default = re.search(r"seccomp_init\((\w+)\)", build)
    return (set(re.findall(r"SCMP_SYS\((\w+)\)", allowed)), set(cond),
            set(re.findall(r"SCMP_SYS\((\w+)\)", refused)), default and default.group(1))


def design_filter():
    """The same four from DESIGN's marked list: lower-case names in
    backquotes are system calls (flags and signals are upper case)."""
    text = read("doc/DESIGN.md")
    m = re.search(r"<!-- seccomp: begin -->(.*?)<!-- seccomp: end -->", text, re.S)
    if not m:
        return None
    items = {}
    for item in re.split(r"\n- ", "\n" + m.group(1).strip()):
        if ":" in item:
            label, rest = item.split(":", 1)
            items[label.strip()] = rest
    names = {k: set(re.findall(r"`([a-z_0-9]+)`", v)) for k, v in items.items()}
    last = re.search(r"`(SCMP_ACT_\w+)`", items.get("anything else", ""))
    return (names.get("allowed"), names.get("allowed with a condition on the arguments"),
            names.get("refused with `EACCES`"), last and last.group(1))


def check_seccomp(t):
    code = sandbox_filter()
    doc = design_filter()
    if not t.ok(doc is not None and None not in doc,
                "DESIGN.md has the seccomp list between its markers", doc):
        return
    what = ("allowed", "allowed on a condition", "refused with EACCES", "default action")
    for i, name in enumerate(what):
        c, d = code[i], doc[i]
        t.ok(c == d and c, "seccomp, %s: DESIGN.md says what src/sandbox.c does" % name,
             "only in sandbox.c: %s\nonly in DESIGN.md: %s" % (
                 sorted(c - d) if isinstance(c, set) else c,
                 sorted(d - c) if isinstance(d, set) else d))
    # what DESIGN's prose names as out of reach must be in no list
    reach = code[0] | code[1] | code[2]
    for call in ("execve", "fork", "clone", "kill", "ptrace", "sendmsg",
                 "process_vm_readv", "process_vm_writev", "setpgid", "pidfd_open"):
        t.ok(call not in reach, "seccomp: %s kills the process, as DESIGN.md says" % call)


NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                "nine", "ten", "eleven", "twelve"]


def check_dynlist(t):
    """DESIGN counts the daemon's symbols that the TLS module may call."""
    syms = re.findall(r"^\s*(\w+);", read("src/tls.dynlist"), re.M)
    m = re.search(r"only for the (\w+) helpers listed in src/tls.dynlist",
                  words(read("doc/DESIGN.md")))
    said = m and m.group(1)
    t.ok(said in NUMBER_WORDS and NUMBER_WORDS.index(said) == len(syms),
         "DESIGN.md counts the %d symbols of src/tls.dynlist" % len(syms), "DESIGN says %s" % said)


# Names in backquotes that are other programs', not ours.
FOREIGN_NAMES = {
    "mail_max_userip_connections": "Dovecot's setting",
    "pam_faildelay": "a PAM module",
    "pidfd_getfd": "a system call the tests use",
    "rsae_send_imsg": "OpenSMTPD's function",
    "auth_debug": "Courier's function (a CVE)",
    "pop_msg": "qpopper's function (a CVE)",
    "getmail_maildir": "getmail's delivery program",
}
NAMED_IN = ["README.md", "doc/DESIGN.md", "doc/standards.md", "doc/mbox.md", "doc/maildir.md"]


def code_words():
    out = set()
    for d in ("src", "src/lib", "mbox", "auth"):
        for name in os.listdir(os.path.join(TOP, d)):
            if name.endswith((".c", ".h", ".dynlist")):
                out |= set(re.findall(r"\w+", read(os.path.join(d, name))))
    return out


def check_names(t):
    """A function, table or constant the documents name is in the code."""
    have = code_words()
    named = 0
    missing = []
    for path in NAMED_IN:
        for name in sorted(set(re.findall(r"`([a-z][a-z0-9]*_[a-z0-9_]*)`", read(path)))):
            named += 1
            if name not in have and name not in FOREIGN_NAMES:
                missing.append("%s: %s" % (path, name))
    t.ok(named >= 40 and not missing,
         "the %d code names in backquotes in %d documents exist in src/, mbox/, auth/"
         % (named, len(NAMED_IN)), "\n".join(missing))


# ------------------------------------------------------------------ options
def c_eval(expr):
    expr = expr.replace("UINT32_MAX", str(2**32 - 1)).replace("UINT64_MAX", str(2**64 - 1))
    if not re.fullmatch(r"[0-9 +*/()-]+", expr):
        raise ValueError(expr)
    return eval(expr.replace("/", "//"))  # digits and operators only, checked above


def option_table():
    """name -> (type, min, max, flags, argument name) from opt_table."""
    block = c_block(read("src/options.c"), "static const struct opt_def opt_table[]")
    out = {}
    for m in re.finditer(r'\{ "([a-z-]+)", [^,]+, &(\w+), [^,]+, ([^,]+), ([^,]+),\s*([^,]+),'
                         r'\s*[^,]+?,\s*(NULL|"[^"]*"),', block):
        name, kind, lo, hi, flags, arg = m.groups()
        out[name] = (kind, lo.strip(), hi.strip(), flags, arg.strip('"'))
    return out


def print_config():
    """popa3d -T: (name -> value of the options set, every name in order)."""
    try:
        r = subprocess.run([POPA3D, "-T"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None, None
    if r.returncode != 0:
        return None, None
    lines = r.stdout.splitlines()[1:]
    order = [re.sub(r"^# (\S+) not set$", r"\1", ln).split(" ", 1)[0] for ln in lines]
    return dict(ln.split(" ", 1) for ln in lines if not ln.startswith("#")), order


def page_entries(path, tag):
    """name -> the text of its .TP entry, up to the next .TP/.SS/.SH; tag
    finds the name in the entry's first line."""
    out = {}
    cur = None
    lines = read(path).splitlines()
    for i, ln in enumerate(lines):
        if re.match(r"^\.(TP|SS|SH)", ln):
            cur = None
            m = ln.startswith(".TP") and i + 1 < len(lines) and re.search(tag, lines[i + 1])
            if m:
                cur = m.group(1).replace("\\-", "-")
                out[cur] = ""
            continue
        if cur:
            out[cur] += ln + "\n"
    return out


def man_entries(path):
    """popa3d(8): the first --name of the tag line."""
    return page_entries(path, r"\\-\\-([a-z\\-]+)")


def conf_entries(path):
    """popa3d.conf(5): its tags start ".B name"."""
    return page_entries(path, r"^\.B ([a-z\\-]+)")


UNIT_MS = {"ms": 1, "s": 1000, "seconds": 1000}


def check_defaults(t, table, conf):
    """"--name (N)" in prose, and --help's [N], against popa3d -T."""
    stated = 0
    wrong = []
    for path in DOCS:
        text = read(path)
        if path.endswith(".in"):
            text = roff_plain(text)
        for m in re.finditer(r"--([a-z][a-z-]*[a-z])((?: [a-z]+)?) \((\d+)(?: (ms|s|seconds))?[,;)]",
                             words(text)):
            name, _, value, unit = m.groups()
            if name not in conf or name not in table:
                continue
            want = int(conf[name])
            got = int(value)
            if unit:
                opt_ms = table[name][4] == "MS"
                got = got * UNIT_MS[unit] // (1 if opt_ms else 1000)
            stated += 1
            if got != want:
                wrong.append("%s: %r, but popa3d -T says %s %s" % (path, m.group(0), name, want))
    t.ok(stated >= 10 and not wrong,
         "the %d option defaults stated in prose are popa3d -T's" % stated, "\n".join(wrong))

    r = subprocess.run([POPA3D, "--help"], capture_output=True, text=True, timeout=30)
    # one option per entry; its [default] may be on a continuation line
    helps = re.split(r"\n(?=  -|      --)", r.stdout)
    wrong = []
    n = 0
    for h in helps:
        m = re.search(r"--([a-z-]+)", h)
        d = re.search(r"\[([^]]*)\]\s*$", h)
        if not m or not d or m.group(1) not in conf:
            continue
        n += 1
        value = conf[m.group(1)]
        if d.group(1) != value and not (value == "0" and d.group(1) == "not sent"):
            wrong.append("--%s: --help [%s], -T %s" % (m.group(1), d.group(1), value))
    t.ok(n >= 20 and not wrong, "the %d defaults --help shows are what -T prints" % n,
         "\n".join(wrong))


def check_ranges(t, table):
    """"A to B" in an entry of either page: the table's bounds."""
    pages = {"popa3d.8": man_entries("doc/popa3d.8.in"),
             "popa3d.conf.5": conf_entries("doc/popa3d.conf.5.in")}
    stated = 0
    wrong = []
    for page, entries in pages.items():
        for name, text in entries.items():
            if name not in table or table[name][0] != "opt_num":
                continue
            lo, hi = c_eval(table[name][1]), c_eval(table[name][2])
            body = words(roff_plain(text))
            for a, b in re.findall(r"\b(\d+) (?:to|-) (\d+)\b(?! ?[KMG]i?B)", body):
                stated += 1
                if (int(a), int(b)) != (lo, hi):
                    wrong.append("%s %s: %s to %s, the table %d to %d" % (page, name, a, b, lo, hi))
            for b in re.findall(r"at most (\d+)\)", body):
                stated += 1
                if int(b) != hi:
                    wrong.append("%s %s: at most %s, the table %d" % (page, name, b, hi))
    t.ok(stated >= 10 and not wrong,
         "the %d ranges the pages state are the table's" % stated, "\n".join(wrong))


def check_cmdline(t, table):
    cmdline = {n for n, v in table.items() if "OPT_CMDLINE" in v[3]}
    entries = man_entries("doc/popa3d.8.in")
    said = {n for n, text in entries.items() if "Command line only." in text}
    t.eq(sorted(said), sorted(cmdline),
         "popa3d.8's 'Command line only.' entries are the table's OPT_CMDLINE options")
    intro = words(roff_plain(read("doc/popa3d.8.in")))
    m = re.search(r"Every long option may also be given in a configuration file .*? except (.*?)\.",
                  intro)
    listed = set(re.findall(r"--([a-z-]+)", m.group(1))) if m else set()
    t.eq(sorted(listed), sorted(cmdline),
         "popa3d.8's OPTIONS introduction names the command-line-only options")


def main():
    t = TAP()
    check_seccomp(t)
    check_dynlist(t)
    check_names(t)
    table = option_table()
    n = len(re.findall(r'\{ "[a-z-]+", ', c_block(read("src/options.c"),
                                                   "static const struct opt_def opt_table[]")))
    t.ok(len(table) == n and n >= 40, "read all %d options of src/options.c's table" % n,
         "understood %d" % len(table))
    check_ranges(t, table)
    check_cmdline(t, table)
    conf, order = print_config() if os.access(POPA3D, os.X_OK) else (None, None)
    if conf is None:
        t.ok(True, "popa3d -T # SKIP popa3d not built at %s" % POPA3D)
    else:
        t.eq(order, [n for n, v in table.items() if "OPT_CMDLINE" not in v[3]],
             "popa3d -T prints every option a file may hold, in the table's order")
        check_defaults(t, table, conf)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
