/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Privilege drops, called as root: by the pre-auth child and the TLS key
 * holder for themselves, and by the leader when it becomes the session.
 *
 * sandbox_preauth: the pre-auth child, which parses every byte the
 * client sends before authentication, becomes an unprivileged user
 * inside an empty root-owned chroot, cannot regain privileges, cannot
 * fork, cannot open files or sockets, and (with libseccomp) can make
 * only the system calls that reading and writing its socket and pipe
 * need; any other kills it with SIGSYS.  None of those reaches another
 * process or address: no signal but its own abort(), no F_SETOWN or
 * O_ASYNC, no send to an address.  The processes of the pre-auth uid
 * (every client's child, every TLS relay) cannot touch each other.
 * The TLS key holder (keyholder.c) drops the same way: it too only
 * reads and writes descriptors it holds.
 *
 * sandbox_become_user: the session process becomes the authenticated
 * user with exactly that user's groups, for good.
 *
 * Both return only on success.  Anything else -- a bad configuration
 * (unknown user, uid 0, an unsafe chroot) or a failed call half-way --
 * ends the process through fatal() with a log line naming the problem:
 * a process that is not fully dropped must not go on, and a caller that
 * forgot to check could not make it.
 */
#ifndef POPA3D_SANDBOX_H
#define POPA3D_SANDBOX_H

#include <pwd.h>

/* Root -> user (never uid or gid 0) chrooted in empty_dir, which must
 * be a root-owned directory that nobody else may write and that holds
 * nothing.  Descriptors it needs (client socket, pipe to the leader,
 * syslog) must be open before the call and none above maxfd, the
 * highest, which the caller knows (it has just closed the others);
 * RLIMIT_NOFILE becomes maxfd + 1, so no new one can be opened after.  Prepared (below) for this user and directory, it skips the
 * lookup and the directory read; else it does both itself. */
void sandbox_preauth(const char *user, const char *empty_dir, int maxfd);

/*
 * The TLS key holder: sandbox_preauth's drop and filter, plus recvmsg on
 * ctl_fd alone (-1: none), where root leaders send it their channels.
 */
void sandbox_keyholder(const char *user, const char *empty_dir, int maxfd, int ctl_fd);

struct buf;
/* Once per configuration, as root, before the pre-auth children (and
 * by popa3d -t: the one check of both): look user up (not root) and
 * check empty_dir completely (owner, mode, empty).  0; or -1 with the
 * problems in err, one line each, and the previous preparation kept. */
int sandbox_preauth_prepare(const char *user, const char *empty_dir, struct buf *err);

/* In the listener, once: compile the pre-auth seccomp filter so that
 * each child only loads it (doc/performance.md).
 * 1 if prepared; 0 if each child will build its own (no libseccomp, or
 * a filter we could not patch: logged). */
int sandbox_prepare(void);

/* In the listener, once: one group-list lookup (for user, the pre-auth
 * user), so that the NSS modules of nsswitch.conf's passwd and group
 * lines (libnss_systemd on Debian, sss, ...) are loaded and their
 * symbols bound here, and each session's sandbox_become_user finds them
 * ready instead of loading them again.  Like any process's first
 * lookup, it may leave a descriptor open (an sssd socket); children
 * close it with the rest, and the modules reconnect. */
void sandbox_nss_preload(const char *user);

/*
 * Descriptors 0, 1 and 2 that are not the connection (in_fd, out_fd:
 * inetd's 0 and 1) become /dev/null, so a subverted pre-auth child,
 * relay or session cannot write into the daemon's stdout or stderr (a
 * journal stream under systemd).  fd 2 stays when keep_stderr: the
 * administrator asked for --log-stderr and gets it from every process.
 * Before the chroot: it opens /dev/null.
 */
void sandbox_null_stdio(int in_fd, int out_fd, int keep_stderr);

/* Root -> pw (never uid or gid 0, never a member of group 0), with
 * exactly the account's groups (getgrouplist, then setgroups of that same
 * list); not dumpable, since a password passed through here. */
void sandbox_become_user(const struct passwd *pw);

#endif
