# The toolkit every process uses: buffers, checked I/O, logging, numbers,
# IPC frames.
noinst_LIBRARIES += src/lib/libtoolkit.a
src_lib_libtoolkit_a_SOURCES = \
	src/lib/buf.c src/lib/buf.h \
	src/lib/sysio.c src/lib/sysio.h \
	src/lib/log.c src/lib/log.h \
	src/lib/num.c src/lib/num.h \
	src/lib/frame.c src/lib/frame.h
