/* SPDX-License-Identifier: BSD-2-Clause */
/* The standalone listener (-D); see listener.c. */
#ifndef POPA3D_LISTENER_H
#define POPA3D_LISTENER_H

#include "boundary.h"
#include "frame.h"
#include "options.h"

/* Bind (or take systemd's sockets), detach unless -F, serve until
 * SIGTERM.  argc/argv are read again on SIGHUP, with the config file
 * they name.  Returns the process exit status. */
int listener_run(struct options *o, int argc, const char *const *argv);
/* How many sockets systemd handed us (LISTEN_FDS for our LISTEN_PID),
 * at most OPT_LISTEN_MAX; 0 if none or not for us. */
int listener_inherited_count(void);

/*
 * What a leader may send the listener, and when: boundary.c's table for
 * the path leader -> listener, with st as that leader's phase (proxy:
 * --proxy-protocol, so its PROXY_SOURCE comes first).
 */
void listener_leader_path(struct boundary_state *st, int proxy);
/*
 * The listener's one intake of a leader's frame on chan (pid for the
 * log): boundary_recv against st.  FRAME_RECV_OK with f to handle;
 * BOUNDARY_HOSTILE (logged) for a frame outside the table, whose sender
 * is to be treated as hostile; FRAME_RECV_EOF, or FRAME_RECV_ERROR
 * (logged): the channel is over.
 */
int listener_leader_frame(struct boundary_state *st, int chan, long pid, struct frame *f,
			  long long now);

#endif
