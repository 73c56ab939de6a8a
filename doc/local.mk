# SPDX-License-Identifier: BSD-2-Clause
EXTRA_DIST += doc/demo-setup.sh

# The documentation, installed under $(docdir) (/usr/share/doc/popa3d).
dist_doc_DATA = README.md LICENSE doc/DESIGN.md doc/mbox.md doc/maildir.md \
	doc/scaling.md doc/migration.md doc/performance.md

# Man pages.  They are templates so that they state the defaults this build
# really has (configure's --with-user, --with-empty-dir, --with-mail-spool)
# and its version.  Generated in the build tree (the source tree may be
# read-only, as under distcheck), removed by "make clean".
man_MANS += doc/popa3d.8 doc/popa3d.conf.5
CLEANFILES += doc/popa3d.8 doc/popa3d.conf.5
EXTRA_DIST += doc/popa3d.8.in doc/popa3d.conf.5.in

doc_man_edit = $(SED) \
	-e 's|@POPA3D_USER[@]|$(POPA3D_USER)|g' \
	-e 's|@POPA3D_EMPTY_DIR[@]|$(POPA3D_EMPTY_DIR)|g' \
	-e 's|@POPA3D_MAIL_SPOOL[@]|$(POPA3D_MAIL_SPOOL)|g' \
	-e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g' \
	-e 's|@pkglibdir[@]|$(pkglibdir)|g'

# Written to a temporary file first, so that an interrupted make never
# leaves a half page that looks up to date.
doc/popa3d.8: $(srcdir)/doc/popa3d.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) doc && rm -f $@ $@.tmp && \
	$(doc_man_edit) $(srcdir)/doc/popa3d.8.in > $@.tmp && mv $@.tmp $@
doc/popa3d.conf.5: $(srcdir)/doc/popa3d.conf.5.in Makefile
	$(AM_V_GEN)$(MKDIR_P) doc && rm -f $@ $@.tmp && \
	$(doc_man_edit) $(srcdir)/doc/popa3d.conf.5.in > $@.tmp && mv $@.tmp $@

# Examples for administrators and packagers, installed under $(docdir)
# (prefix-relative, so "make distcheck" can install them too).  Nothing is
# put into /etc or the systemd unit directories: that is the packager's
# choice (the units name /usr/sbin/popa3d).
popa3d_examplesdir = $(docdir)/examples
dist_popa3d_examples_DATA = doc/popa3d.conf.example doc/uidl-compare
popa3d_systemddir = $(docdir)/examples/systemd
dist_popa3d_systemd_DATA = doc/systemd/popa3d.service doc/systemd/popa3d.socket \
	doc/systemd/popa3d@.service
popa3d_inetddir = $(docdir)/examples/inetd
dist_popa3d_inetd_DATA = doc/inetd/inetd.conf doc/inetd/xinetd.popa3d
popa3d_fail2bandir = $(docdir)/examples/fail2ban
dist_popa3d_fail2ban_DATA = doc/fail2ban/README
popa3d_f2bfilterdir = $(docdir)/examples/fail2ban/filter.d
dist_popa3d_f2bfilter_DATA = doc/fail2ban/filter.d/popa3d.conf
popa3d_f2bjaildir = $(docdir)/examples/fail2ban/jail.d
dist_popa3d_f2bjail_DATA = doc/fail2ban/jail.d/popa3d.conf

# The man pages against "popa3d --help", groff's warnings, and the example
# configurations against the real parser.
TESTS += tests/e2e/test-manpage.sh
EXTRA_DIST += tests/e2e/test-manpage.sh
