/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A PAM module for popa3d's tests only (never installed): it drives the
 * application's conversation function in ways stock modules do not, and
 * renames PAM_USER.  Arguments, acted on in order by pam_sm_authenticate:
 *
 *   rename=NAME   set PAM_USER to NAME
 *   num=N         ask N questions at once (default 1; 0 and 33 are the
 *                 out-of-range cases)
 *   style=S       message style of the questions (PAM_PROMPT_ECHO_OFF=1,
 *                 ECHO_ON=2, ERROR_MSG=3, TEXT_INFO=4, or any number)
 *   ask           run the conversation with num and style as set so far
 *   want=TEXT     every answer of the last "ask" must equal TEXT
 *   forge         write a well-formed FRAME_AUTH_RESULT "OK mallory" to
 *                 every descriptor from 3 up (a module scribbling on the
 *                 auth helper's result pipe)
 *   exit=N        _exit(N) in the middle of authentication
 *   crash         die of SIGSEGV
 *   delayfn       fail with PAM_SERVICE_ERR unless the application set
 *                 PAM_FAIL_DELAY (took libpam's failure delay over)
 *
 * A conversation error is returned as it is, so the test sees how the
 * application mapped it.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <security/pam_modules.h>

int pam_sm_authenticate(pam_handle_t *h, int flags, int argc, const char **argv);
int pam_sm_setcred(pam_handle_t *h, int flags, int argc, const char **argv);
int pam_sm_acct_mgmt(pam_handle_t *h, int flags, int argc, const char **argv);

/* type 3 (FRAME_AUTH_RESULT), fields: result 0 (OK), user "mallory" */
static void forge(void)
{
	static const unsigned char payload[] = { 0, 1, 0, 0, 7, 'm', 'a', 'l', 'l', 'o', 'r', 'y' };
	unsigned char msg[8 + sizeof payload];
	uint32_t type = 3, len = sizeof payload;

	memcpy(msg, &type, 4);
	memcpy(msg + 4, &len, 4);
	memcpy(msg + 8, payload, sizeof payload);
	for (int fd = 3; fd < 64; fd++)
		if (write(fd, msg, sizeof msg) < 0)
			continue;
}

static void free_resp(struct pam_response *resp, int n)
{
	if (!resp)
		return;
	for (int i = 0; i < n; i++)
		free(resp[i].resp);
	free(resp);
}

int pam_sm_authenticate(pam_handle_t *h, int flags, int argc, const char **argv)
{
	const struct pam_conv *conv = NULL;
	struct pam_response *resp = NULL;
	int num = 1, style = PAM_PROMPT_ECHO_OFF, asked = 0, rc;

	(void)flags;
	if (pam_get_item(h, PAM_CONV, (const void **)&conv) != PAM_SUCCESS || !conv)
		return PAM_SYSTEM_ERR;
	for (int a = 0; a < argc; a++) {
		if (strncmp(argv[a], "rename=", 7) == 0) {
			if (pam_set_item(h, PAM_USER, argv[a] + 7) != PAM_SUCCESS)
				return PAM_SYSTEM_ERR;
		} else if (strncmp(argv[a], "num=", 4) == 0) {
			num = atoi(argv[a] + 4);
		} else if (strncmp(argv[a], "style=", 6) == 0) {
			style = atoi(argv[a] + 6);
		} else if (strcmp(argv[a], "ask") == 0) {
			int n = num > 0 && num < 64 ? num : 1;
			struct pam_message *m = calloc((size_t)n, sizeof *m);
			const struct pam_message **mp = calloc((size_t)n, sizeof *mp);

			if (!m || !mp) {
				free(m);
				free(mp);
				return PAM_BUF_ERR;
			}
			for (int i = 0; i < n; i++) {
				m[i].msg_style = style;
				m[i].msg = "pam_test_conv: question";
				mp[i] = &m[i];
			}
			free_resp(resp, asked);
			resp = NULL;
			rc = conv->conv(num, mp, &resp, conv->appdata_ptr);
			free(m);
			free(mp);
			if (rc != PAM_SUCCESS) {
				free_resp(resp, n);
				return rc;
			}
			asked = n;
		} else if (strcmp(argv[a], "forge") == 0) {
			forge();
		} else if (strncmp(argv[a], "exit=", 5) == 0) {
			_exit(atoi(argv[a] + 5));
		} else if (strcmp(argv[a], "delayfn") == 0) {
			const void *fn = NULL;

			if (pam_get_item(h, PAM_FAIL_DELAY, &fn) != PAM_SUCCESS || !fn) {
				free_resp(resp, asked);
				return PAM_SERVICE_ERR;
			}
		} else if (strcmp(argv[a], "crash") == 0) {
			raise(SIGSEGV);
		} else if (strncmp(argv[a], "want=", 5) == 0) {
			for (int i = 0; i < asked; i++) {
				if (!resp || !resp[i].resp || strcmp(resp[i].resp, argv[a] + 5) != 0) {
					free_resp(resp, asked);
					return PAM_AUTH_ERR;
				}
			}
		} else {
			free_resp(resp, asked);
			return PAM_SYSTEM_ERR;
		}
	}
	free_resp(resp, asked);
	return PAM_SUCCESS;
}

int pam_sm_setcred(pam_handle_t *h, int flags, int argc, const char **argv)
{
	(void)h;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

int pam_sm_acct_mgmt(pam_handle_t *h, int flags, int argc, const char **argv)
{
	(void)h;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
