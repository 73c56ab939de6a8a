/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The throwaway auth helper: the leader's one way to ask a backend.
 *
 * authhelper_run forks a fresh root process per attempt, which runs the
 * chosen backend (auth/auth.h) on a request the leader has already
 * decoded with authproto_parse_request, answers with ONE
 * FRAME_AUTH_RESULT frame and exits.  A PAM module that leaks, hangs,
 * crashes or scribbles on memory takes only the helper down, never the
 * leader; the leader trusts nothing from it but a well-formed frame AND
 * a clean exit status.
 */
#ifndef POPA3D_AUTHHELPER_H
#define POPA3D_AUTHHELPER_H

#include "auth.h"
#include "authproto.h"

enum authhelper_backend {
	AUTHHELPER_PAM = 0,
	AUTHHELPER_SHADOW = 1
};

struct authhelper_req {
	const char *user;		/* must pass authproto_user_valid */
	const char *secret;		/* no NUL inside, <= FRAME_SECRET_MAX */
	enum authhelper_backend backend;
	const char *rhost;		/* client address (PAM_RHOST), may be NULL */
	const char *service;		/* PAM service, NULL: "popa3d" */
	const char *pam_confdir;	/* NULL: /etc/pam.d */
	const char *shadow_file;	/* NULL: getspnam() */
	/* The helper's deadline: --auth-timeout, whose default is the
	 * option table's (options.c); a hung helper is killed then. */
	int timeout_ms;
};

struct authhelper_res {
	enum auth_result result;
	char user[FRAME_USER_MAX + 1];	/* final user name; "" unless OK */
	const char *reason;		/* static text for the log line */
};

/*
 * Runs as root.  Returns res->result.  Anything but a clean helper (a
 * bad request, fork failure, time-out, a malformed or missing frame,
 * trailing bytes, a non-zero exit or a signal) is AUTH_RESULT_TEMPFAIL
 * with res->reason saying why; the helper is always reaped.
 *
 * The caller must not reap children with waitpid(-1) (e.g. in a SIGCHLD
 * handler) while this runs: the helper's status is part of the answer.
 */
enum auth_result authhelper_run(const struct authhelper_req *rq,
				struct authhelper_res *res);

#endif
