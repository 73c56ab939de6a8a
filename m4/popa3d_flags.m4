# SPDX-License-Identifier: BSD-2-Clause
# POPA3D_CHECK_CFLAG(FLAGS, [ACTION-IF-ACCEPTED], [ACTION-IF-NOT])
# Compile a small program with FLAGS added and -Werror, so a flag the
# compiler only warns about (unknown -W option, FORTIFY without -O) is
# treated as unsupported rather than breaking a later --enable-werror build.
AC_DEFUN([POPA3D_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([cachevar], [popa3d_cv_cflag_$1])
  AC_CACHE_CHECK([whether the C compiler accepts $1], [cachevar], [
    popa3d_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS $1 -Werror"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <string.h>]], [[char b[4]; memset(b, 0, sizeof b); return b[0];]])],
      [AS_VAR_SET([cachevar], [yes])], [AS_VAR_SET([cachevar], [no])])
    CFLAGS=$popa3d_save_CFLAGS])
  AS_VAR_IF([cachevar], [yes], [$2], [$3])
  AS_VAR_POPDEF([cachevar])
])

# POPA3D_CHECK_LDFLAG(FLAGS, [ACTION-IF-ACCEPTED], [ACTION-IF-NOT])
AC_DEFUN([POPA3D_CHECK_LDFLAG], [
  AS_VAR_PUSHDEF([cachevar], [popa3d_cv_ldflag_$1])
  AC_CACHE_CHECK([whether the linker accepts $1], [cachevar], [
    popa3d_save_LDFLAGS=$LDFLAGS
    popa3d_save_CFLAGS=$CFLAGS
    LDFLAGS="$LDFLAGS $1"
    AS_CASE([$1], [-fsanitize*], [CFLAGS="$CFLAGS $1"])
    AC_LINK_IFELSE([AC_LANG_PROGRAM([[]], [[return 0;]])],
      [AS_VAR_SET([cachevar], [yes])], [AS_VAR_SET([cachevar], [no])])
    LDFLAGS=$popa3d_save_LDFLAGS
    CFLAGS=$popa3d_save_CFLAGS])
  AS_VAR_IF([cachevar], [yes], [$2], [$3])
  AS_VAR_POPDEF([cachevar])
])

# POPA3D_USER_SETS(FLAGS, PATTERN, [ACTION-IF-SET], [ACTION-IF-NOT])
# Whether one word of FLAGS (the user's CFLAGS, LDFLAGS...) matches the
# shell PATTERN: then the user decided that flag, and we add nothing.
AC_DEFUN([POPA3D_USER_SETS], [
  popa3d_user_set=no
  for popa3d_w in $1; do
    AS_CASE([$popa3d_w], [$2], [popa3d_user_set=yes])
  done
  AS_IF([test "x$popa3d_user_set" = xyes], [$3], [$4])
])
