# SPDX-License-Identifier: BSD-2-Clause
"""Minimal TAP producer for the end-to-end tests (Automake's tap-driver
counts each line)."""
import sys
import traceback


class TAP:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=None):
        self.n += 1
        print(("ok" if cond else "not ok") + " %d - %s" % (self.n, name))
        if not cond:
            self.failed += 1
            if detail is not None:
                for line in str(detail).splitlines()[-30:]:
                    print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name,
                       None if got == want else "got:  %r\nwant: %r" % (got, want))

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def skip(self, name, why):
        """One check that cannot run here, counted as a skip."""
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why))
        sys.stdout.flush()

    def skip_all(self, why):
        print("1..0 # SKIP %s" % why)
        sys.stdout.flush()
        sys.exit(0)

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)

    def run(self, fn):
        """Run fn(tap); an exception is one failed test with its trace."""
        try:
            fn(self)
        except SystemExit:
            raise
        except BaseException:
            self.ok(False, "test body raised", traceback.format_exc())
        self.done()
