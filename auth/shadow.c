/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the auth helper.
 * shadow(5) + crypt(3) backend (--auth shadow, and the only one in a
 * --without-pam build).
 *
 * Runs as root, inside the throwaway auth helper only.  Its input is a
 * request the leader has validated; it never reads from the network.  It
 * must never tell a wrong password from an unknown user, by answer or by
 * time (doc/standards.md, threat class 9): an unknown or locked account
 * still pays for one crypt() with a hash of the default algorithm, and
 * hashes are compared in constant time.  Account state (expiry, forced
 * change) is only looked at once the password has proved right, so it
 * tells nothing to someone without the password.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "sysio.h"

/* The algorithm of the dummy hash: Debian 12's default (yescrypt). */
#define AUTH_SHADOW_DUMMY_PREFIX "$y$"

/* What the lookup keeps of an entry: no pointers into NSS buffers. */
struct auth_shadow_entry {
	char name[256];
	char hash[CRYPT_OUTPUT_SIZE];
	long lstchg, max, inact, expire;
};

/* Equal iff same length and same bytes; the time depends only on the
 * lengths, which a hash string's algorithm fixes anyway. */
static int auth_ct_memeq(const char *a, size_t alen, const char *b, size_t blen)
{
	volatile unsigned char d = alen != blen;

	for (size_t i = 0; i < alen; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)(i < blen ? b[i] : 0);
	return d == 0;
}

static void auth_shadow_keep(struct auth_shadow_entry *e, const struct spwd *sp)
{
	size_t n = strlen(sp->sp_namp), h = strlen(sp->sp_pwdp ? sp->sp_pwdp : "");

	if (n >= sizeof e->name || h >= sizeof e->hash) {
		/* cannot be a usable account: treat as locked */
		e->name[0] = '\0';
		memcpy(e->hash, "*", 2);
	} else {
		memcpy(e->name, sp->sp_namp, n + 1);
		memcpy(e->hash, sp->sp_pwdp ? sp->sp_pwdp : "", h + 1);
	}
	e->lstchg = sp->sp_lstchg;
	e->max = sp->sp_max;
	e->inact = sp->sp_inact;
	e->expire = sp->sp_expire;
}

/* 1 found, 0 no such user, -1 lookup failed (TEMPFAIL). */
static int auth_shadow_lookup(const struct auth_request *rq,
			      struct auth_shadow_entry *e)
{
	struct spwd sp, *res = NULL;
	char buf[4096];
	int found = 0, fd, rc;
	FILE *fp;

	if (!rq->shadow_file) {
		rc = getspnam_r(rq->user, &sp, buf, sizeof buf, &res);
		if (rc != 0 && rc != ENOENT) {
			errno = rc;
			log_msg(LOG_ERR, "shadow: getspnam_r: %m");
			explicit_bzero(buf, sizeof buf);
			return -1;
		}
		if (res)
			auth_shadow_keep(e, res);
		explicit_bzero(buf, sizeof buf);
		return res != NULL;
	}
	/* An administrator's (or test's) file; a symlink there is a trap. */
	fd = open(rq->shadow_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_msg(LOG_ERR, "shadow: cannot open the shadow file: %m");
		return -1;
	}
	fp = fdopen(fd, "r");
	if (!fp) {
		log_msg(LOG_ERR, "shadow: fdopen: %m");
		close(fd);
		return -1;
	}
	for (;;) {
		rc = fgetspent_r(fp, &sp, buf, sizeof buf, &res);
		if (rc != 0)
			break;
		if (strcmp(res->sp_namp, rq->user) == 0) {
			auth_shadow_keep(e, res);
			found = 1;
			break;
		}
	}
	if (!found && rc != ENOENT) {
		log_msg(LOG_ERR, "shadow: reading the shadow file failed (error %d)", rc);
		found = -1;
	}
	explicit_bzero(buf, sizeof buf);
	fclose(fp);
	return found;
}

/* One crypt() of the secret over a setting; NULL when crypt refuses. */
static const char *auth_shadow_crypt(struct crypt_data *cd, const char *secret,
				     const char *setting)
{
	memset(cd, 0, sizeof *cd);
	return crypt_rn(secret, setting, cd, (int)sizeof *cd);
}

/* Spend what a real check would, for an unknown or locked account. */
static void auth_shadow_dummy(struct crypt_data *cd, const char *secret)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	if (!crypt_gensalt_rn(AUTH_SHADOW_DUMMY_PREFIX, 0, NULL, 0,
			      setting, (int)sizeof setting)) {
		log_msg(LOG_ERR, "shadow: crypt_gensalt_rn: %m");
		return;
	}
	(void)auth_shadow_crypt(cd, secret, setting);
}

/* shadow(5) fields, the way pam_unix reads them: -1 means "not set". */
static int auth_shadow_expired(const struct auth_shadow_entry *e, const char **reason)
{
	long today = (long)(time(NULL) / 86400);

	if (e->expire >= 0 && today >= e->expire) {
		*reason = "account expired";
		return 1;
	}
	if (e->lstchg == 0) {
		*reason = "password change required";
		return 1;
	}
	if (e->max >= 0 && e->lstchg > 0 && today - e->lstchg > e->max) {
		*reason = "password expired";
		return 1;
	}
	return 0;
}

enum auth_result auth_shadow_check(const struct auth_request *rq,
				   char *final_user, size_t final_size,
				   const char **reason)
{
	struct auth_shadow_entry e;
	struct crypt_data *cd;
	const char *got;
	enum auth_result res;
	int found;

	if (final_size)
		final_user[0] = '\0';
	*reason = "authentication failure";
	memset(&e, 0, sizeof e);
	found = auth_shadow_lookup(rq, &e);
	if (found < 0) {
		*reason = "shadow lookup failed";
		return AUTH_RESULT_TEMPFAIL;
	}
	cd = xcalloc(1, sizeof *cd);
	/* '!' and '*' lock an account (passwd -l, system accounts); an empty
	 * hash would let anyone in: refused too. */
	if (!found || e.hash[0] == '\0' || e.hash[0] == '!' || e.hash[0] == '*' ||
	    strlen(rq->secret) >= CRYPT_MAX_PASSPHRASE_SIZE) {
		auth_shadow_dummy(cd, rq->secret);
		res = AUTH_RESULT_FAIL;
		goto out;
	}
	got = auth_shadow_crypt(cd, rq->secret, e.hash);
	if (!got) {
		char clean[LOG_CLEAN_SIZE(64)];

		log_msg(LOG_WARNING, "shadow: unusable password hash for %s",
			log_clean(clean, sizeof clean, rq->user, strlen(rq->user)));
		res = AUTH_RESULT_FAIL;
		goto out;
	}
	if (!auth_ct_memeq(got, strlen(got), e.hash, strlen(e.hash))) {
		res = AUTH_RESULT_FAIL;
		goto out;
	}
	if (auth_shadow_expired(&e, reason)) {
		res = AUTH_RESULT_EXPIRED;
		goto out;
	}
	if (strlen(e.name) >= final_size) {
		*reason = "user name too long";
		res = AUTH_RESULT_TEMPFAIL;
		goto out;
	}
	memcpy(final_user, e.name, strlen(e.name) + 1);
	*reason = "authenticated";
	res = AUTH_RESULT_OK;
out:
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	explicit_bzero(&e, sizeof e);
	return res;
}
