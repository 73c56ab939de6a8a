/* SPDX-License-Identifier: BSD-2-Clause */
/* The standalone listener (-D); see listener.c. */
#ifndef POPA3D_LISTENER_H
#define POPA3D_LISTENER_H

#include "options.h"

/* Bind (or take systemd's sockets), detach unless -F, serve until
 * SIGTERM.  argc/argv are read again on SIGHUP, with the config file
 * they name.  Returns the process exit status. */
int listener_run(struct options *o, int argc, const char *const *argv);
/* How many sockets systemd handed us (LISTEN_FDS for our LISTEN_PID),
 * at most OPT_LISTEN_MAX; 0 if none or not for us. */
int listener_inherited_count(void);

#endif
