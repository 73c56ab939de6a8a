#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Log in to a POP3 server and print the mailbox's UIDL list, one
"N UID" a line; exit 1 with the reason on stderr if the login fails.

  pop3check.py PORT USER PASSWORD       TCP on 127.0.0.1:PORT
  pop3check.py --inetd USER PASSWORD    run /usr/sbin/popa3d as inetd would,
                                        with a socket on its stdin/stdout
Used by tests/deb/in-root.sh inside the throwaway Debian root."""
import poplib
import socket
import subprocess
import sys


class InetdPOP3(poplib.POP3):
    """poplib over a socketpair whose other end is popa3d's stdin/stdout,
    as inetd hands a connection to "pop3 stream tcp nowait root ..."."""

    def __init__(self):
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(["/usr/sbin/popa3d"], stdin=theirs, stdout=theirs)
        theirs.close()
        self.host, self.port = "inetd", 0
        self._tls_established = False
        self.sock = ours
        self.sock.settimeout(30)
        self.file = self.sock.makefile("rb")
        self._debugging = 0
        self.welcome = self._getresp()


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    try:
        if argv[1] == "--inetd":
            pop = InetdPOP3()
        else:
            pop = poplib.POP3("127.0.0.1", int(argv[1]), timeout=30)
        pop.user(argv[2])
        pop.pass_(argv[3])
        for line in pop.uidl()[1]:
            print(line.decode())
        pop.quit()
    except (OSError, poplib.error_proto) as e:
        print("pop3check: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
