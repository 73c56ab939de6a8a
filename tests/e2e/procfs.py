# SPDX-License-Identifier: BSD-2-Clause
"""Looking at the daemon's processes through /proc, for the end-to-end
tests: who holds a socket, which uids a process runs with, its children,
its descriptors.  A process may vanish between any two looks: every
helper here copes with that."""
import os
import socket
import time


def socket_inode(local_port, remote_port, remote_host="127.0.0.1"):
    """inode of the TCP socket 127.0.0.1:local_port <-> remote_host:remote_port
    (IPv4: /proc/net/tcp writes the address as a little-endian word)"""
    want_l = "0100007F:%04X" % local_port
    want_r = "%08X:%04X" % (int.from_bytes(socket.inet_aton(remote_host), "little"), remote_port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1] == want_l and parts[2] == want_r:
                return parts[9]
    return None


def holders(inode):
    """pids with the socket of that inode open"""
    target = "socket:[%s]" % inode
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == target:
                    pids.append(int(pid))
                    break
        except OSError:
            continue
    return sorted(set(pids))


def status(pid):
    """/proc/PID/status as {key: [words]}"""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def gone_or_zombie(pid):
    try:
        return status(pid).get("State", ["Z"])[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def proc_tree():
    """{ppid: [pids]} for every process now"""
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(p))
    return kids


def children(pid):
    return proc_tree().get(pid, [])


def descendants(pid):
    kids = proc_tree()
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def settle(pid, timeout=30):
    """Wait until pid has no descendants left; returns those that remain."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not descendants(pid):
            return []
        time.sleep(0.05)
    return descendants(pid)


def fd_targets(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                out.add(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            except OSError:
                pass
    except OSError:
        pass
    return out


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_for(fn, timeout=5):
    """fn() until it is true or timeout seconds pass; its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def memory_contains(pid, needles):
    """Search the memory of pid for any of needles: every readable mapping
    with resident pages (smaps Rss), read in chunks that overlap by a
    needle's length.  Mappings over 4 GiB are the sanitizers' shadow
    memory (reserved, never holding data) and are left out."""
    found = set()
    overlap = max(len(n) for n in needles) - 1
    regions = []
    with open("/proc/%d/smaps" % pid) as f:
        cur = None
        for line in f:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                name = parts[5] if len(parts) > 5 else ""
                cur = [lo, hi, parts[1], name, 0]
                regions.append(cur)
            elif first == "Rss:" and cur is not None:
                cur[4] = int(line.split()[1])
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for lo, hi, perms, name, rss in regions:
            if "r" not in perms or rss == 0 or name in ("[vvar]", "[vsyscall]") or \
                    hi - lo > (4 << 30):
                continue
            pos = lo
            while pos < hi:
                n = min(16 << 20, hi - pos)
                try:
                    mem.seek(pos)
                    data = mem.read(n + (overlap if pos + n < hi else 0))
                except (OSError, ValueError, OverflowError):
                    data = b""
                for nd in needles:
                    if nd in data:
                        found.add(nd)
                pos += n
    return found
