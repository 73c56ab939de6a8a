# SPDX-License-Identifier: BSD-2-Clause
# The Debian package and its end-to-end check.  tests/deb/run.sh is a CI
# stage (.ci/run), not part of "make check": it builds the package, needs
# root, the network to reach the Debian archive, and a few minutes.
EXTRA_DIST += tests/deb/run.sh tests/deb/inroot.sh tests/deb/scenarios.sh \
	tests/deb/pop3check.py \
	debian/changelog debian/control debian/copyright debian/rules debian/README.Debian \
	debian/source/format debian/popa3d.install debian/popa3d.dirs \
	debian/popa3d.init debian/popa3d.preinst debian/popa3d.postinst debian/popa3d.prerm \
	debian/popa3d.postrm debian/popa3d.lintian-overrides \
	debian/popa3d-debian.conf debian/standalone-enabled \
	debian/tests/control debian/tests/pam-login
