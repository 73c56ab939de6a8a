/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Authentication backends.  They check credentials only inside the
 * throwaway auth helper, a root process that reads nothing from the
 * network: its input is a request the leader has already validated (the
 * listener only preloads PAM's modules, auth_pam_preload).  Knows nothing of POP3,
 * sockets or mailboxes.
 */
#ifndef POPA3D_AUTH_H
#define POPA3D_AUTH_H

#include <stddef.h>

enum auth_result {
	AUTH_RESULT_OK = 0,
	AUTH_RESULT_FAIL,	/* unknown user or wrong password: one answer */
	AUTH_RESULT_EXPIRED,	/* password right, account refused */
	AUTH_RESULT_TEMPFAIL	/* the backend could not decide */
};

struct auth_request {
	const char *user;	/* validated by authproto_user_valid (authproto.h) */
	const char *secret;	/* NUL-terminated password */
	const char *rhost;	/* client address for PAM_RHOST and logs */
	const char *service;	/* PAM service name */
	const char *pam_confdir;/* NULL: /etc/pam.d (else pam_start_confdir) */
	const char *shadow_file;/* NULL: getspnam(); else fgetspent() on it */
};

/*
 * Each backend fills final_user with the account name to log in as (PAM
 * modules may change PAM_USER; "" unless OK) and reason with a short class
 * for the log ("authentication failure", "account expired", ...).  An
 * unknown user and a wrong password give the same result and the same
 * reason.  How long a backend takes is not hidden here: the leader
 * answers every failure at one deadline from the request (--fail-delay),
 * and the PAM backend keeps libpam from sleeping a module's failure delay
 * of its own.  (The shadow backend still burns a dummy hash for unknown
 * users, so that even its helper's lifetime says nothing.)
 */
enum auth_result auth_pam_check(const struct auth_request *rq,
				char *final_user, size_t final_size,
				const char **reason);
enum auth_result auth_shadow_check(const struct auth_request *rq,
				   char *final_user, size_t final_size,
				   const char **reason);
/* 1 if this build has PAM. */
int auth_pam_available(void);
/* In the listener: load the service's PAM modules once and keep them
 * loaded for the auth helpers forked later (no authentication here). */
void auth_pam_preload(const char *service, const char *confdir);

#endif
