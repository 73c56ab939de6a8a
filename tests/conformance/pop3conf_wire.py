# SPDX-License-Identifier: BSD-2-Clause
"""pop3conf's plumbing: the TAP report, a connection that keeps the exact
bytes it exchanged, and the mbox and RFC 1939 section 11 helpers the
checks compare RETR with.  No check lives here."""
import collections
import re
import socket
import ssl
import sys

CRLF = b"\r\n"
STATUS_RE = re.compile(rb"^(\+OK|-ERR)( [^\r\n]*)?\r\n$")
# RFC 1939 section 5: "+OK nn mm", anything may follow the size.
STAT_RE = re.compile(rb"^\+OK (\d+) (\d+)(?: [^\r\n]*)?\r\n$")
SCAN_RE = re.compile(rb"^(\d+) (\d+)(?: [^\r\n]*)?\r\n$")
# RFC 2449 s8: "[" resp-level *("/" resp-level) "]", resp-level = 1*<ALPHA/DIGIT/"-">
RESP_CODE_RE = re.compile(rb"^-ERR \[[A-Za-z0-9-]+(?:/[A-Za-z0-9-]+)*\]")
UIDL_ONE_RE = re.compile(rb"^\+OK (\d+) ([\x21-\x7e]{1,70})\r\n$")
UIDL_LINE_RE = re.compile(rb"^(\d+) ([\x21-\x7e]{1,70})\r\n$")


class Closed(Exception):
    """The server closed the connection where an answer was due."""


class LoginFailed(Exception):
    pass


# --------------------------------------------------------------------- TAP
class Report:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.n = 0
        self.failed = 0
        self.todo_failed = 0
        self.status_lines = 0
        self.bad_status = []	# (line, why): RFC 1939 section 3 format

    def _print(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    def diag(self, text):
        for line in str(text).splitlines():
            self._print("# " + line)

    def ok(self, cond, name, conn=None, detail=None, todo=None):
        self.n += 1
        line = ("ok" if cond else "not ok") + " %d - %s" % (self.n, name)
        if todo:
            line += " # TODO " + todo
        self._print(line)
        if not cond:
            if todo:
                self.todo_failed += 1
            else:
                self.failed += 1
            if detail is not None:
                for d in str(detail).splitlines()[-40:]:
                    self._print("#   " + d)
            if conn is not None:
                self._print("#   last bytes on this connection (C: client, S: server):")
                for d in conn.transcript():
                    self._print("#     " + d)
        return bool(cond)

    def skip(self, name, why):
        self.n += 1
        self._print("ok %d - %s # SKIP %s" % (self.n, name, why))

    def note_status(self, line):
        """Every status line we read: RFC 1939 section 3 shape and size."""
        self.status_lines += 1
        if not STATUS_RE.match(line):
            self.bad_status.append((line, "not '+OK'/'-ERR' [SP text] CRLF"))
        elif len(line) > 512:
            self.bad_status.append((line, "longer than 512 octets"))
        elif line.startswith(b"-ERR [") and not RESP_CODE_RE.match(line):
            self.bad_status.append((line, "malformed response code (RFC 2449 s8)"))

    def plan(self):
        self._print("1..%d" % self.n)


# --------------------------------------------------------------- connection
def show(data, limit=160):
    r = repr(bytes(data[:limit]))
    if len(data) > limit:
        r += "... (%d bytes)" % len(data)
    return r


class Conn:
    """Exact bytes in and out, with a transcript for diagnostics."""

    def __init__(self, rep, host, port, timeout, tls=None):
        self.rep = rep
        self.s = socket.create_connection((host, port), timeout)
        self.s.settimeout(timeout)
        self.buf = b""
        self.log = collections.deque(maxlen=14)
        if tls:
            self.wrap(*tls)

    def wrap(self, ctx, hostname):
        """TLS from here on.  Bytes the server sent after its STLS +OK and
        before the handshake would be plaintext injected into the TLS
        session (RFC 2595 s4): there must be none."""
        if self.buf:
            raise Closed("%d plaintext bytes before the TLS handshake: %r"
                         % (len(self.buf), self.buf[:100]))
        self.s = ctx.wrap_socket(self.s, server_hostname=hostname)
        self.log.append("-- TLS %s %s" % (self.s.version(), self.s.cipher()[0]))

    def transcript(self):
        return list(self.log)

    def send(self, data, mask=False):
        self.log.append("C: " + ("<PASS line, masked>" if mask else show(data)))
        self.s.sendall(data)

    def nodelay(self):
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                break
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                self.log.append("S: <timeout> after %s" % show(self.buf))
                raise
            except (ConnectionResetError, ssl.SSLEOFError):
                chunk = b""
            if not chunk:
                self.log.append("S: <closed> after %s" % show(self.buf))
                raise Closed("connection closed; pending %r" % self.buf[:200])
            self.buf += chunk
        out, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        return out

    def status(self):
        ln = self.line()
        self.log.append("S: " + show(ln))
        self.rep.note_status(ln)
        return ln

    def cmd(self, text, mask=False):
        data = text if isinstance(text, bytes) else text.encode("latin-1")
        self.send(data + CRLF, mask=mask)
        return self.status()

    def multi(self):
        """Lines after a +OK up to the terminating '.', still dot-stuffed."""
        lines = []
        while True:
            ln = self.line()
            if ln == b".\r\n":
                self.log.append("S: <%d lines> .\\r\\n" % len(lines))
                return lines
            lines.append(ln)

    def closed_by_server(self, timeout=10):
        self.s.settimeout(timeout)
        try:
            data = self.s.recv(1)
        except (ConnectionResetError, ssl.SSLEOFError):
            return True
        except socket.timeout:
            return False
        return data == b"" and self.buf == b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def unstuff(lines):
    """RFC 1939 section 3: strip one leading '.' from stuffed lines."""
    return b"".join(l[1:] if l.startswith(b".") else l for l in lines)


# -------------------------------------------------------------------- mbox
def mbox_messages(data):
    """Messages of an mbox as Debian's MTAs write them (mboxo/mboxrd):
    a From_ line at the start of the file or after an empty line starts a
    message; the empty line before the next From_ line, and a final empty
    line, are separators; '>From ' lines are content, left as stored."""
    msgs = []
    cur = None		# offset where the current message's content starts
    prev_blank = True
    blank_off = None
    off = 0
    n = len(data)
    last_complete = True
    while off < n:
        nl = data.find(b"\n", off)
        end = n if nl < 0 else nl + 1
        line = data[off:end]
        blank = line in (b"\n", b"\r\n")
        if prev_blank and line.startswith(b"From "):
            if cur is not None:
                msgs.append(data[cur:blank_off])
            cur = end
            blank = False
        elif cur is None:
            raise ValueError("not an mbox: first line is no From_ line")
        prev_blank = blank
        if blank:
            blank_off = off
        last_complete = nl >= 0
        off = end
    if cur is not None:
        msgs.append(data[cur:blank_off] if prev_blank and last_complete else data[cur:])
    return msgs


def wire(msg):
    """RFC 1939 section 11's transmitted form: every line ends in CRLF."""
    out = re.sub(rb"(?<!\r)\n", b"\r\n", msg)
    if out and not out.endswith(b"\n"):
        out += b"\n" if out.endswith(b"\r") else CRLF
    return out


def header_end(msg):
    """Length of headers plus the empty line (or all of msg if none)."""
    if msg.startswith(CRLF):
        return 2
    i = msg.find(b"\r\n\r\n")
    return len(msg) if i < 0 else i + 4
