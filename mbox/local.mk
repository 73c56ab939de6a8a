# The mail engine (runs as the mail user).
noinst_LIBRARIES += mbox/libmbox.a
mbox_libmbox_a_SOURCES = mbox/mbox.h
