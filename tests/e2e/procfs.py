# SPDX-License-Identifier: BSD-2-Clause
"""Looking at the daemon's processes through /proc, for the end-to-end
tests: who holds a socket, which uids a process runs with, its children,
its descriptors.  A process may vanish between any two looks: every
helper here copes with that."""
import os
import time


def socket_inode(local_port, remote_port):
    """inode of the TCP socket 127.0.0.1:local_port <-> 127.0.0.1:remote_port"""
    want_l = "0100007F:%04X" % local_port
    want_r = "0100007F:%04X" % remote_port
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
