# SPDX-License-Identifier: BSD-2-Clause
# End-to-end tests: the real daemon on loopback, real clients, real PAM.
EXTRA_DIST += tests/e2e/tap.py tests/e2e/fixture.py tests/e2e/procfs.py tests/e2e/faultlib.py
E2E_TESTS = tests/e2e/test-daemon.py tests/e2e/test-privsep.py \
	tests/e2e/test-modes.py tests/e2e/test-limits.py
EXTRA_DIST += $(E2E_TESTS)
TESTS += $(E2E_TESTS)
E2E_TESTS += tests/e2e/test-fail2ban.py
E2E_TESTS += tests/e2e/test-conformance.py
E2E_TESTS += tests/e2e/test-clients.py
E2E_TESTS += tests/e2e/test-maildir.py
E2E_TESTS += tests/e2e/test-strict.py
EXTRA_DIST += tests/conformance/pop3conf.py tests/conformance/README.md \
	tests/conformance/pop3conf_wire.py tests/conformance/pop3conf_auth.py \
	tests/conformance/pop3conf_trans.py tests/conformance/pop3conf_modes.py
E2E_TESTS += tests/e2e/test-load.py
E2E_TESTS += tests/e2e/test-faults.py
E2E_TESTS += tests/e2e/test-killupdate.py
E2E_TESTS += tests/e2e/test-proxy.py
E2E_TESTS += tests/e2e/test-haproxy.py
E2E_TESTS += tests/e2e/test-config.py
E2E_TESTS += tests/e2e/test-migration.py
E2E_TESTS += tests/e2e/test-authfail.py
E2E_TESTS += tests/e2e/test-peruser.py
E2E_TESTS += tests/e2e/test-tlsfiles.py
E2E_TESTS += tests/e2e/test-stdio.py
E2E_TESTS += tests/e2e/test-index-memory.py
E2E_TESTS += tests/e2e/test-flood.py
E2E_TESTS += tests/e2e/test-endlog.py
E2E_TESTS += tests/e2e/test-pampreload.py
E2E_TESTS += tests/e2e/test-noinherit.py
