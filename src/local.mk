# The daemon: listener, per-connection leader, pre-auth child, session.
noinst_LIBRARIES += src/libpop3.a
src_libpop3_a_SOURCES =

sbin_PROGRAMS += src/popa3d
src_popa3d_SOURCES = src/main.c
src_popa3d_LDADD = src/libpop3.a mbox/libmbox.a auth/libauth.a \
	src/lib/libtoolkit.a $(PAM_LIBS) $(CRYPT_LIBS) $(SECCOMP_LIBS) $(SSL_LIBS)
src_popa3d_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS) $(SSL_CFLAGS)
