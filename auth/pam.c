/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the auth helper, the listener (pam_start and pam_end once
 * at start, auth_pam_preload: no pam_sm_* function runs there).
 * Linux-PAM backend.
 *
 * Runs as root.  Authentication runs inside the throwaway auth helper
 * only; the listener calls only pam_start and pam_end (auth_pam_preload),
 * so no module's pam_sm_* function runs there.  The helper's input is a
 * request the leader has validated; it never reads from the network and
 * never touches a mailbox.  It must never put the password anywhere but
 * into PAM's own prompt answers, and never let module text reach a log
 * line unsanitised.
 *
 * Timing (doc/standards.md, threat class 9): no failure may be told from
 * another by when it is answered.  Modules ask libpam for a failure delay
 * (pam_unix asks for one of seconds, randomised) that libpam would sleep only when
 * pam_authenticate fails, so a right password for an account refused
 * afterwards came back seconds sooner than a wrong one.  This file takes
 * that delay over with PAM_FAIL_DELAY: libpam calls our callback, which
 * does nothing, instead of sleeping.  The one delay is the leader's: it
 * answers every failure at the same deadline from the request
 * (--fail-delay), whatever happened here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"

#ifdef HAVE_PAM

#include <dlfcn.h>
#include <link.h>
#include <security/pam_appl.h>

struct auth_pam_conv_data {
	const char *user;
	const char *secret;
};

static void auth_pam_free_resp(struct pam_response *resp, int n)
{
	for (int i = 0; i < n; i++) {
		if (resp[i].resp) {
			explicit_bzero(resp[i].resp, strlen(resp[i].resp));
			free(resp[i].resp);
		}
	}
	free(resp);
}

/*
 * No terminal: the only questions we can answer are "password?" (from the
 * client's PASS or SASL PLAIN) and "user name?".  Module messages are
 * logged, never sent to the client: an account state in the text would
 * tell an attacker which user names exist.
 */
static int auth_pam_conv(int num_msg, const struct pam_message **msg,
			 struct pam_response **resp_out, void *appdata)
{
	const struct auth_pam_conv_data *cd = appdata;
	struct pam_response *resp;
	char clean[LOG_CLEAN_SIZE(128)], user_clean[LOG_CLEAN_SIZE(64)];

	*resp_out = NULL;
	if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG || !msg || !cd)
		return PAM_CONV_ERR;
	resp = calloc((size_t)num_msg, sizeof *resp);
	if (!resp)
		return PAM_BUF_ERR;
	for (int i = 0; i < num_msg; i++) {
		const char *text = msg[i] ? msg[i]->msg : NULL;

		if (!msg[i])
			goto conv_err;
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			resp[i].resp = strdup(cd->secret);
			if (!resp[i].resp)
				goto buf_err;
			break;
		case PAM_PROMPT_ECHO_ON:
			resp[i].resp = strdup(cd->user);
			if (!resp[i].resp)
				goto buf_err;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			if (!text)
				text = "";
			log_clean(clean, sizeof clean, text, strnlen(text, PAM_MAX_MSG_SIZE));
			log_clean(user_clean, sizeof user_clean, cd->user, strlen(cd->user));
			log_msg(LOG_INFO, "PAM %s for %s: %s",
				msg[i]->msg_style == PAM_ERROR_MSG ? "error" : "info",
				user_clean, clean);
			break;
		default:
			goto conv_err;
		}
	}
	*resp_out = resp;
	return PAM_SUCCESS;
buf_err:
	auth_pam_free_resp(resp, num_msg);
	return PAM_BUF_ERR;
conv_err:
	auth_pam_free_resp(resp, num_msg);
	return PAM_CONV_ERR;
}

/* pam_authenticate's answers.  Unknown user and wrong password are one
 * class with one reason text (class 9: no user enumeration via logs or
 * replies). */
static enum auth_result auth_pam_map_auth(int rc, const char **reason)
{
	switch (rc) {
	case PAM_SUCCESS:
		return AUTH_RESULT_OK;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_MAXTRIES:
	case PAM_CRED_INSUFFICIENT:
	case PAM_PERM_DENIED:
		*reason = "authentication failure";
		return AUTH_RESULT_FAIL;
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTHTOK_EXPIRED:
		*reason = "account expired";
		return AUTH_RESULT_EXPIRED;
	default:
		*reason = "PAM backend failure";
		return AUTH_RESULT_TEMPFAIL;
	}
}

/* pam_acct_mgmt's answers: the password was right, so a refusal here is
 * about the account, whatever code the module chose (pam_deny and
 * pam_succeed_if say PAM_AUTH_ERR); only someone who knows the password
 * learns it.  PAM_NEW_AUTHTOK_REQD counts as expired: there is no
 * terminal to change the password on. */
static enum auth_result auth_pam_map_acct(int rc, const char **reason)
{
	switch (rc) {
	case PAM_SUCCESS:
		return AUTH_RESULT_OK;
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTHTOK_EXPIRED:
	case PAM_PERM_DENIED:
	case PAM_USER_UNKNOWN:
	case PAM_AUTH_ERR:
		*reason = "account expired or refused";
		return AUTH_RESULT_EXPIRED;
	default:
		*reason = "PAM backend failure";
		return AUTH_RESULT_TEMPFAIL;
	}
}

int auth_pam_available(void)
{
	return 1;
}

/* PAM_FAIL_DELAY: libpam calls this instead of sleeping (see the file
 * comment); the leader's deadline is the only delay. */
static void auth_pam_no_delay(int retval, unsigned usec_delay, void *appdata)
{
	(void)retval;
	(void)usec_delay;
	(void)appdata;
}

/* A conversation for a handle that never authenticates anybody. */
static int auth_pam_no_conv(int num_msg, const struct pam_message **msg,
			    struct pam_response **resp, void *data)
{
	(void)num_msg;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

/* dl_iterate_phdr: the objects mapped in this process, by name */
struct auth_pam_objs {
	char **name;
	size_t n, cap;
	int failed;
};

static int auth_pam_obj_add(struct dl_phdr_info *info, size_t size, void *data)
{
	struct auth_pam_objs *o = data;
	char **grown;

	(void)size;
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 0;		/* the executable, or the vDSO */
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 32;

		grown = realloc(o->name, cap * sizeof *grown);
		if (!grown) {
			o->failed = 1;
			return 1;
		}
		o->name = grown;
		o->cap = cap;
	}
	o->name[o->n] = strdup(info->dlpi_name);
	if (!o->name[o->n]) {
		o->failed = 1;
		return 1;
	}
	o->n++;
	return 0;
}

static void auth_pam_objs_free(struct auth_pam_objs *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->name[i]);
	free(o->name);
	memset(o, 0, sizeof *o);
}

static int auth_pam_obj_known(const struct auth_pam_objs *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->name[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Mark every object that pam_start mapped (the modules and the libraries
 * they pulled in) RTLD_NODELETE: dlopen with RTLD_NOLOAD only finds an
 * object already loaded, and the flag keeps it mapped after pam_end's
 * dlclose.  The count of objects pinned, or -1.
 */
static int auth_pam_pin(const struct auth_pam_objs *before)
{
	struct auth_pam_objs after = { NULL, 0, 0, 0 };
	int pinned = 0;

	dl_iterate_phdr(auth_pam_obj_add, &after);
	if (after.failed) {
		auth_pam_objs_free(&after);
		return -1;
	}
	for (size_t i = 0; i < after.n; i++) {
		void *h;

		if (auth_pam_obj_known(before, after.name[i]))
			continue;
		h = dlopen(after.name[i], RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
		if (!h)
			continue;	/* not one dlopen can name: left as it is */
		dlclose(h);
		pinned++;
	}
	auth_pam_objs_free(&after);
	return pinned;
}

void auth_pam_preload(const char *service, const char *confdir)
{
	struct auth_pam_objs before = { NULL, 0, 0, 0 };
	struct pam_conv conv = { auth_pam_no_conv, NULL };
	pam_handle_t *h = NULL;
	int rc, pinned;

	/*
	 * pam_start reads the service's configuration and dlopen()s its
	 * modules; no pam_sm_* function runs.  The objects it mapped are
	 * pinned and the handle ended: the listener keeps the modules'
	 * code, mapped and relocated, and no PAM handle.  Each auth helper
	 * forked from here then finds them loaded instead of loading them
	 * again (doc/performance.md); it still reads the configuration,
	 * and loads a module added to it since.
	 */
	if (!service)
		service = "popa3d";
	dl_iterate_phdr(auth_pam_obj_add, &before);
	if (before.failed) {
		auth_pam_objs_free(&before);
		log_msg(LOG_WARNING, "PAM: modules not preloaded: out of memory");
		return;
	}
#ifdef HAVE_PAM_START_CONFDIR
	rc = confdir ? pam_start_confdir(service, NULL, &conv, confdir, &h)
		     : pam_start(service, NULL, &conv, &h);
#else
	if (confdir) {
		auth_pam_objs_free(&before);
		return;
	}
	rc = pam_start(service, NULL, &conv, &h);
#endif
	if (rc != PAM_SUCCESS) {
		if (h)
			pam_end(h, rc);
		auth_pam_objs_free(&before);
		return;		/* each helper reports what is wrong */
	}
	pinned = auth_pam_pin(&before);
	pam_end(h, PAM_SUCCESS);
	auth_pam_objs_free(&before);
	if (pinned < 0)
		log_msg(LOG_WARNING, "PAM: modules not preloaded: out of memory");
}

/* One line for a PAM error: module text is sanitised before the log. */
static void auth_pam_log_error(pam_handle_t *h, int rc, const char *what)
{
	char clean[LOG_CLEAN_SIZE(64)];
	const char *e = pam_strerror(h, rc);

	log_msg(LOG_ERR, "PAM: %s%s", what, log_clean(clean, sizeof clean, e, strlen(e)));
}

/* pam_start, from --pam-confdir when the tests give one.  PAM_SUCCESS
 * with *h set, or a PAM error (logged; *h ended). */
static int auth_pam_start(const struct auth_request *rq, const struct pam_conv *conv,
			  pam_handle_t **h)
{
	const char *service = rq->service ? rq->service : "popa3d";
	int rc;

#ifdef HAVE_PAM_START_CONFDIR
	if (rq->pam_confdir)
		rc = pam_start_confdir(service, rq->user, conv, rq->pam_confdir, h);
	else
		rc = pam_start(service, rq->user, conv, h);
#else
	if (rq->pam_confdir) {
		log_msg(LOG_ERR, "PAM: this libpam has no pam_start_confdir");
		return PAM_SYSTEM_ERR;
	}
	rc = pam_start(service, rq->user, conv, h);
#endif
	if (rc != PAM_SUCCESS) {
		auth_pam_log_error(*h, rc, "pam_start failed: ");
		if (*h)
			pam_end(*h, rc);
		*h = NULL;
	}
	return rc;
}

/* The items every attempt sets.  PAM_SUCCESS, or the failing call's code. */
static int auth_pam_set_items(pam_handle_t *h, const char *rhost)
{
	/* libpam's documented way to pass the callback as an item */
	void (*delay_fn)(int, unsigned, void *) = auth_pam_no_delay;
	const void *item_fn;
	int rc;

	/* pam_access and pam_faillock look at the peer; a TTY item keeps
	 * modules that insist on one (pam_securetty) from crashing. */
	if (rhost && (rc = pam_set_item(h, PAM_RHOST, rhost)) != PAM_SUCCESS)
		return rc;
	if ((rc = pam_set_item(h, PAM_TTY, "popa3d")) != PAM_SUCCESS)
		return rc;
	_Static_assert(sizeof item_fn == sizeof delay_fn, "function pointer as an item");
	memcpy(&item_fn, &delay_fn, sizeof item_fn);
	return pam_set_item(h, PAM_FAIL_DELAY, item_fn);
}

enum auth_result auth_pam_check(const struct auth_request *rq,
				char *final_user, size_t final_size,
				const char **reason)
{
	struct auth_pam_conv_data cd = { rq->user, rq->secret };
	struct pam_conv conv = { auth_pam_conv, &cd };
	pam_handle_t *h = NULL;
	enum auth_result res;
	const void *item = NULL;
	int rc;

	if (final_size)
		final_user[0] = '\0';
	*reason = "PAM backend failure";
	if (auth_pam_start(rq, &conv, &h) != PAM_SUCCESS)
		return AUTH_RESULT_TEMPFAIL;
	if ((rc = auth_pam_set_items(h, rq->rhost)) != PAM_SUCCESS) {
		auth_pam_log_error(h, rc, "pam_set_item failed: ");
		pam_end(h, rc);
		return AUTH_RESULT_TEMPFAIL;
	}
	rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	res = auth_pam_map_auth(rc, reason);
	if (res == AUTH_RESULT_OK) {
		rc = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
		res = auth_pam_map_acct(rc, reason);
	}
	if (res == AUTH_RESULT_TEMPFAIL)
		auth_pam_log_error(h, rc, "");
	if (res == AUTH_RESULT_OK) {
		/* A module may map the login name (e.g. to a canonical
		 * account); the session must run as the name PAM decided. */
		rc = pam_get_item(h, PAM_USER, &item);
		if (rc != PAM_SUCCESS || !item || !*(const char *)item ||
		    strlen(item) >= final_size) {
			log_msg(LOG_ERR, "PAM: no usable PAM_USER after authentication");
			*reason = "PAM backend failure";
			res = AUTH_RESULT_TEMPFAIL;
		} else {
			memcpy(final_user, item, strlen(item) + 1);
			*reason = "authenticated";
		}
	}
	pam_end(h, rc);
	return res;
}

#else /* !HAVE_PAM */

int auth_pam_available(void)
{
	return 0;
}

void auth_pam_preload(const char *service, const char *confdir)
{
	(void)service;
	(void)confdir;
}

enum auth_result auth_pam_check(const struct auth_request *rq,
				char *final_user, size_t final_size,
				const char **reason)
{
	(void)rq;
	if (final_size)
		final_user[0] = '\0';
	*reason = "built without PAM";
	return AUTH_RESULT_TEMPFAIL;
}

#endif
