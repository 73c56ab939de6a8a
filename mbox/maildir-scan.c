/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Runs in: the session.
 * Opening a Maildir (doc/maildir.md): the file-name parser and UIDL
 * rule, the scan of cur/ and new/ into the index, one message per unique
 * part, and the match with dovecot-uidlist for --uidl dovecot.  What the
 * session then does with the index (find, open, send, remove a message)
 * is maildir.c's.  Runs as the mail user, never as root, and only reads:
 * every file name comes from readdir and is checked
 * (maildir_parse_name) before it is used, and only ever relative to a
 * directory descriptor opened with O_NOFOLLOW; a directory a stranger
 * may write, a symlink or a file of another owner is not served.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "dovecot.h"
#include "log.h"
#include "maildir-int.h"
#include "maildir.h"
#include "mbox-int.h"
#include "num.h"

const char *const md_dirname[2] = { "cur", "new" };

/* ------------------------------------------------------------ names */

static int md_field(const char *p, size_t n, char key, uint64_t *v, int *seen)
{
	uint64_t x;

	if (n < 2 || p[0] != key || p[1] != '=')
		return 0;
	/* A hint given twice, or not a plain number, is no hint. */
	if (num_parse(p + 2, n - 2, UINT64_MAX / 4, &x) < 0 || (*seen)++) {
		*seen = 2;
		return 1;
	}
	*v = x;
	return 1;
}

int maildir_parse_name(const char *name, size_t len, struct maildir_name *out)
{
	const char *colon, *p, *end, *dot;
	int s_seen = 0, w_seen = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > MAILDIR_NAME_MAX || name[0] == '.' ||
	    memchr(name, '/', len) || memchr(name, '\0', len))
		return -1;
	colon = memchr(name, ':', len);
	out->baselen = colon ? (size_t)(colon - name) : len;
	if (out->baselen == 0)
		return -1;
	end = name + out->baselen;
	dot = memchr(name, '.', out->baselen);
	if (dot && num_parse(name, (size_t)(dot - name), UINT64_MAX / 4,
			     &out->time) == 0)
		out->has_time = 1;
	/* ",S=n" and ",W=n" fields after the host part. */
	for (p = memchr(name, ',', out->baselen); p && p < end;) {
		const char *f = p + 1, *next = memchr(f, ',', (size_t)(end - f));
		size_t n = (size_t)((next ? next : end) - f);

		if (!md_field(f, n, 'S', &out->s_size, &s_seen))
			(void)md_field(f, n, 'W', &out->w_size, &w_seen);
		p = next;
	}
	out->has_s = s_seen == 1;
	out->has_w = w_seen == 1;
	if (!out->has_s)
		out->s_size = 0;
	if (!out->has_w)
		out->w_size = 0;
	return 0;
}

void md_uidl(const char *base, size_t len, int plain,
		    char out[MAILDIR_UIDL_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	struct mbox_md5 c;
	unsigned char d[16];
	size_t i;

	plain = plain && len >= 1 && len < MAILDIR_UIDL_SIZE && base[0] != '~';

	for (i = 0; plain && i < len; i++)
		if ((unsigned char)base[i] < 0x21 || (unsigned char)base[i] > 0x7e)
			plain = 0;
	if (plain) {
		memcpy(out, base, len);
		out[len] = '\0';
		return;
	}
	mbox_md5_init(&c);
	mbox_md5_update(&c, base, len);
	mbox_md5_final(&c, d);
	out[0] = '~';
	for (i = 0; i < 16; i++) {
		out[1 + 2 * i] = hex[d[i] >> 4];
		out[2 + 2 * i] = hex[d[i] & 15];
	}
	out[33] = '\0';
}

void maildir_uidl_of(const char *base, size_t len, char out[MAILDIR_UIDL_SIZE])
{
	md_uidl(base, len, 1, out);
}

int maildir_size_hint(const struct maildir_name *n, uint64_t st_size,
		      uint64_t *size)
{
	if (!n->has_w || (n->has_s && n->s_size != st_size))
		return 0;
	if (n->w_size < st_size || n->w_size > 2 * st_size + 2)
		return 0;
	*size = n->w_size;
	return 1;
}

/* ------------------------------------------------------------ index */

int md_add_name(struct maildir *md, const char *name, size_t len,
		       uint32_t *off)
{
	if (md->plen + len + 1 > UINT32_MAX)
		return -1;
	if (md->plen + len + 1 > md->pcap) {
		size_t cap = md->pcap ? md->pcap * 2 : 4096;
		char *p;

		while (cap < md->plen + len + 1)
			cap *= 2;
		p = realloc(md->pool, cap);
		if (!p)
			return -1;
		md->pool = p;
		md->pcap = cap;
	}
	memcpy(md->pool + md->plen, name, len);
	md->pool[md->plen + len] = '\0';
	*off = (uint32_t)md->plen;
	md->plen += len + 1;
	return 0;
}

static void md_skip(struct maildir *md, const char *dir, const char *name,
		    const char *what)
{
	char clean[LOG_CLEAN_SIZE(64)];

	/* Logged once per open, with the first example, so a maildir full
	 * of junk cannot flood the log. */
	if (md->skipped++ == 0)
		(void)snprintf(md->skipped_why, sizeof(md->skipped_why),
			       "%s/%s: %s", dir,
			       log_clean(clean, sizeof(clean), name,
					 strnlen(name, 64)), what);
}

/*
 * The transmitted size of an open file, counted by the sender's own
 * rules, so that RETR sends exactly what LIST said.
 */
enum mbox_status md_count(struct mbox *m, int fd, uint64_t stsize,
				 uint64_t *size)
{
	return mbox_encode(fd, m->win, m->winsize, 0, stsize, -1, NULL, NULL, size);
}

int md_safe(const struct mbox *m, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == m->opts.owner;
}

/* --max-messages and --max-mailbox-size, before a file of stsize is added. */
static enum mbox_status md_limits(const struct mbox *m, uint64_t stsize,
				  uint64_t *total, char *why, size_t whysize)
{
	if (m->opts.max_messages && m->md->count >= m->opts.max_messages) {
		mbox_why(why, whysize, "more than %llu messages",
			 (unsigned long long)m->opts.max_messages);
		return MBOX_ERR_LIMIT;
	}
	*total += stsize;
	if (m->opts.max_size && *total > m->opts.max_size) {
		mbox_why(why, whysize, "over the limit of %llu bytes",
			 (unsigned long long)m->opts.max_size);
		return MBOX_ERR_LIMIT;
	}
	return MBOX_OK;
}

/* Room for one more message; -1 when out of memory. */
static int md_grow(struct maildir *md)
{
	uint32_t cap = md->cap ? md->cap * 2 : 256;
	struct maildir_msg *p;

	if (md->count < md->cap)
		return 0;
	if (cap <= md->cap || !(p = realloc(md->msgs, (size_t)cap * sizeof(*p))))
		return -1;
	md->msgs = p;
	md->cap = cap;
	return 0;
}

/*
 * msg->size of a file whose name gives none we can believe: open it and
 * count.  1 when counted; 0 when it went away or changed since the stat
 * (not a message this session); -1 with *rc set to stop.
 */
static int md_measure(struct mbox *m, int d, const char *name,
		      struct maildir_msg *msg, enum mbox_status *rc,
		      char *why, size_t whysize)
{
	struct stat st;
	enum mbox_status st2;
	int fd;

	fd = openat(m->md->dir[d], name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* gone (or replaced) since the stat */
	if (fstat(fd, &st) < 0 || !md_safe(m, &st) ||
	    (uint64_t)st.st_size != msg->stsize) {
		(void)close(fd);
		return 0;	/* changed between stat and open */
	}
	st2 = md_count(m, fd, msg->stsize, &msg->size);
	(void)close(fd);
	if (st2 == MBOX_ERR_CHANGED)
		return 0;	/* truncated meanwhile: not a message */
	if (st2 != MBOX_OK) {
		mbox_why(why, whysize, "read %s/...: %s", md_dirname[d],
			 strerror(errno));
		*rc = st2;
		return -1;
	}
	return 1;
}

/* Look at one directory entry; 0 to go on, -1 with rc set to stop. */
static int md_entry(struct mbox *m, int d, const struct dirent *de,
		    uint64_t *total, enum mbox_status *rc,
		    char *why, size_t whysize)
{
	struct maildir *md = m->md;
	struct maildir_name pn;
	struct maildir_msg *msg;
	struct stat st;
	size_t len = strlen(de->d_name);

	if (maildir_parse_name(de->d_name, len, &pn) < 0)
		return 0;		/* ".", "..", hidden files */
	if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN) {
		md_skip(md, md_dirname[d], de->d_name,
			de->d_type == DT_LNK ? "a symlink" : "not a regular file");
		return 0;
	}
	/* Never open what might be a FIFO or a device: lstat first. */
	if (fstatat(md->dir[d], de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;	/* removed since readdir */
		mbox_why(why, whysize, "stat %s/...: %s", md_dirname[d],
			 strerror(errno));
		*rc = MBOX_ERR_SYS;
		return -1;
	}
	if (!md_safe(m, &st)) {
		md_skip(md, md_dirname[d], de->d_name,
			S_ISLNK(st.st_mode) ? "a symlink" :
			!S_ISREG(st.st_mode) ? "not a regular file" :
			"owned by another user");
		return 0;
	}
	*rc = md_limits(m, (uint64_t)st.st_size, total, why, whysize);
	if (*rc != MBOX_OK)
		return -1;
	if (md_grow(md) < 0)
		goto oom;
	msg = &md->msgs[md->count];
	memset(msg, 0, sizeof(*msg));
	msg->dir = (uint8_t)d;
	msg->baselen = (uint16_t)pn.baselen;
	msg->stsize = (uint64_t)st.st_size;
	msg->time = pn.has_time ? pn.time : (uint64_t)st.st_mtim.tv_sec;
	md->notime |= !pn.has_time;
	if (maildir_size_hint(&pn, msg->stsize, &msg->size)) {
		msg->hinted = 1;
	} else {
		int r = md_measure(m, d, de->d_name, msg, rc, why, whysize);

		if (r <= 0)
			return r;
	}
	if (md_add_name(md, de->d_name, len, &msg->name) < 0)
		goto oom;
	md->count++;
	return 0;
oom:
	mbox_why(why, whysize, "out of memory");
	*rc = MBOX_ERR_SYS;
	return -1;
}

/* A directory we read with readdir, from its start, on a descriptor of its own. */
DIR *md_opendir(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *dir;

	if (d < 0)
		return NULL;
	dir = fdopendir(d);
	if (!dir) {
		(void)close(d);
		return NULL;
	}
	rewinddir(dir);		/* the duplicate shares the offset */
	return dir;
}

static enum mbox_status md_read_dir(struct mbox *m, int d, uint64_t *total,
				    char *why, size_t whysize)
{
	enum mbox_status rc = MBOX_OK;
	struct dirent *de;
	DIR *dir;

	if (m->md->dir[d] < 0)
		return MBOX_OK;
	dir = md_opendir(m->md->dir[d]);
	if (!dir) {
		mbox_why(why, whysize, "opendir %s: %s", md_dirname[d],
			 strerror(errno));
		return MBOX_ERR_SYS;
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno) {
				mbox_why(why, whysize, "readdir %s: %s",
					 md_dirname[d], strerror(errno));
				rc = MBOX_ERR_SYS;
			}
			break;
		}
		if (md_entry(m, d, de, total, &rc, why, whysize) < 0)
			break;
	}
	(void)closedir(dir);
	return rc;
}

static const struct maildir *md_sorting;	/* qsort has no context argument */

static int md_cmp_base(const struct maildir_msg *a, const struct maildir_msg *b)
{
	size_t n = a->baselen < b->baselen ? a->baselen : b->baselen;
	int c = memcmp(md_sorting->pool + a->name, md_sorting->pool + b->name, n);

	if (c)
		return c;
	return a->baselen < b->baselen ? -1 : a->baselen > b->baselen;
}

/* Delivery order: time, then the unique part, then cur/ before new/. */
static int md_cmp_order(const void *x, const void *y)
{
	const struct maildir_msg *a = x, *b = y;
	int c;

	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	c = md_cmp_base(a, b);
	return c ? c : (int)a->dir - (int)b->dir;
}

static int md_cmp_index(const void *x, const void *y)
{
	const struct maildir_msg *a = &md_sorting->msgs[*(const uint32_t *)x];
	const struct maildir_msg *b = &md_sorting->msgs[*(const uint32_t *)y];
	int c = md_cmp_base(a, b);

	return c ? c : (*(const uint32_t *)x > *(const uint32_t *)y) -
		       (*(const uint32_t *)x < *(const uint32_t *)y);
}

/* For the binary search of md_update's leftovers (maildir.c). */
void md_sort_index(struct maildir *md, uint32_t *idx, uint32_t n)
{
	md_sorting = md;
	qsort(idx, n, sizeof(*idx), md_cmp_index);
}

/*
 * One message per unique part, so that UIDLs are unique: a file seen in
 * both cur/ and new/ (moved while we read) or planted twice is listed
 * once, the first in delivery order.  Sorted by delivery time, equal
 * unique parts are neighbours whenever the time comes from the name; only
 * names without one need the second sort.
 */
static int md_dedup(struct maildir *md)
{
	uint32_t i, j, *idx = NULL;
	unsigned char *drop;

	if (md->count == 0)
		return 0;
	md_sorting = md;
	qsort(md->msgs, md->count, sizeof(*md->msgs), md_cmp_order);
	drop = calloc(md->count, 1);
	if (!drop)
		return -1;
	if (md->notime) {
		idx = malloc(md->count * sizeof(*idx));
		if (!idx) {
			free(drop);
			return -1;
		}
		for (i = 0; i < md->count; i++)
			idx[i] = i;
		qsort(idx, md->count, sizeof(*idx), md_cmp_index);
		for (i = 1; i < md->count; i++)
			if (md_cmp_base(&md->msgs[idx[i - 1]], &md->msgs[idx[i]]) == 0)
				drop[idx[i]] = 1;
	} else {
		for (i = 1; i < md->count; i++)
			if (md_cmp_base(&md->msgs[i - 1], &md->msgs[i]) == 0)
				drop[i] = 1;
	}
	for (i = j = 0; i < md->count; i++)
		if (!drop[i])
			md->msgs[j++] = md->msgs[i];
	md->count = j;
	free(idx);
	free(drop);
	return 0;
}

/*
 * The maildrop's directories: the user's own, not writable by others (a
 * stranger who can add entries can plant mail or links), opened without
 * following a symlink at the last component.
 */
static enum mbox_status md_opendirs(struct mbox *m, const char *path,
				    int *root, char *why, size_t whysize)
{
	struct maildir *md = m->md;
	struct stat st;
	int d;

	*root = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*root < 0) {
		if (errno == ENOENT)
			return MBOX_OK;		/* no Maildir yet: no mail */
		mbox_why(why, whysize, "open: %s", strerror(errno));
		return errno == ELOOP || errno == ENOTDIR ? MBOX_ERR_UNSAFE :
		    MBOX_ERR_SYS;
	}
	for (d = -1; d < 2; d++) {
		int fd = d < 0 ? *root : openat(*root, md_dirname[d], O_RDONLY |
						O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0) {
			if (errno == ENOENT)
				continue;	/* a Maildir without new/ yet */
			mbox_why(why, whysize, "open %s: %s", md_dirname[d],
				 strerror(errno));
			return errno == ELOOP || errno == ENOTDIR ?
			    MBOX_ERR_UNSAFE : MBOX_ERR_SYS;
		}
		if (d >= 0)
			md->dir[d] = fd;
		if (fstat(fd, &st) < 0) {
			mbox_why(why, whysize, "fstat: %s", strerror(errno));
			return MBOX_ERR_SYS;
		}
		if (st.st_uid != m->opts.owner || (st.st_mode & S_IWOTH)) {
			mbox_why(why, whysize, "%s%s owned by uid %lu, mode %04o",
				 d < 0 ? "the Maildir" : md_dirname[d],
				 d < 0 ? "" : "/", (unsigned long)st.st_uid,
				 (unsigned)(st.st_mode & 07777));
			return MBOX_ERR_UNSAFE;
		}
	}
	return MBOX_OK;
}

/* ------------------------------------------------------------ --uidl dovecot */

struct md_dc_match {
	struct mbox *m;
	uint32_t *tab;		/* message index + 1 by unique part; 0: empty */
	size_t mask;
};

static size_t md_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;	/* FNV-1a */

	while (n--)
		h = (h ^ (unsigned char)*p++) * 0x100000001b3u;
	return (size_t)(h ^ (h >> 32));
}

/* A record of dovecot-uidlist: the message with that unique part, if we
 * have it, gets the UID.  A message named twice makes the list damaged. */
static int md_dc_record(void *ctx, const char *name, size_t len, uint32_t uid)
{
	struct md_dc_match *mt = ctx;
	struct maildir *md = mt->m->md;
	const char *colon = memchr(name, ':', len);
	size_t h;

	if (colon)
		len = (size_t)(colon - name);
	for (h = md_hash(name, len) & mt->mask; mt->tab[h]; h = (h + 1) & mt->mask) {
		uint32_t i = mt->tab[h] - 1;

		if (md->msgs[i].baselen != len || memcmp(md_name(md, i), name, len) != 0)
			continue;
		if (mt->m->dc->uid[i])
			return -1;
		mt->m->dc->uid[i] = uid;
		return 0;
	}
	return 0;	/* a message we do not have (expunged, or not yet seen) */
}

/*
 * Dovecot's UIDs from root/dovecot-uidlist, read-only.  A list we cannot
 * believe is logged once and ignored: every message then has our id.
 */
static enum mbox_status md_dovecot(struct mbox *m, int root, char *why,
				   size_t whysize)
{
	struct maildir *md = m->md;
	struct mbox_dovecot *dc = m->dc;
	struct md_dc_match mt = { m, NULL, 0 };
	char reason[128];
	uint32_t validity = 0, i;
	size_t n = 64;
	int r;

	if (md->count == 0)
		return MBOX_OK;
	while (n < (size_t)md->count * 2)
		n *= 2;
	dc->uid = calloc(md->count, sizeof(*dc->uid));
	mt.tab = calloc(n, sizeof(*mt.tab));
	if (!dc->uid || !mt.tab) {
		free(mt.tab);
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	dc->cap = md->count;
	mt.mask = n - 1;
	for (i = 0; i < md->count; i++) {
		size_t h = md_hash(md_name(md, i), md->msgs[i].baselen) & mt.mask;

		while (mt.tab[h])
			h = (h + 1) & mt.mask;
		mt.tab[h] = i + 1;
	}
	r = dovecot_uidlist_read(root, m->opts.owner, m->win, m->winsize,
				 md_dc_record, &mt, &validity, reason,
				 sizeof(reason));
	free(mt.tab);
	if (r == 1) {
		dc->validity = validity;
		return MBOX_OK;
	}
	memset(dc->uid, 0, md->count * sizeof(*dc->uid));
	/* The reason is one of the parser's fixed texts or a strerror(). */
	if (r < 0)
		log_msg(LOG_WARNING, "maildir: " DOVECOT_UIDLIST_NAME
			" ignored (%s); our own ids are shown", reason);
	return MBOX_OK;
}

enum mbox_status md_open(struct mbox *m, char *why, size_t whysize)
{
	struct maildir *md;
	enum mbox_status rc;
	uint64_t total = 0;
	size_t plen = strlen(m->path);
	uint32_t i;
	int root = -1;

	/* "maildir:/var/mail/%u/": a trailing '/' would make the kernel
	 * follow a symlink there despite O_NOFOLLOW. */
	while (plen > 1 && m->path[plen - 1] == '/')
		m->path[--plen] = '\0';

	md = calloc(1, sizeof(*md));
	if (!md) {
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	md->dir[MD_CUR] = md->dir[MD_NEW] = md->fd = -1;
	m->md = md;
	m->win = malloc(MBOX_WINDOW);
	m->winsize = MBOX_WINDOW;
	if (!m->win) {
		mbox_why(why, whysize, "out of memory");
		return MBOX_ERR_SYS;
	}
	rc = md_opendirs(m, m->path, &root, why, whysize);
	/*
	 * cur/ before new/: a message moved from new/ to cur/ while we read
	 * is then seen once or not at all (it is there next session), never
	 * in neither place as a ghost, never twice.
	 */
	if (rc == MBOX_OK)
		rc = md_read_dir(m, MD_CUR, &total, why, whysize);
	if (rc == MBOX_OK)
		rc = md_read_dir(m, MD_NEW, &total, why, whysize);
	if (rc == MBOX_OK && md_dedup(md) < 0) {
		mbox_why(why, whysize, "out of memory");
		rc = MBOX_ERR_SYS;
	}
	if (rc == MBOX_OK && m->dc && root >= 0)
		rc = md_dovecot(m, root, why, whysize);
	if (root >= 0)
		(void)close(root);
	if (rc != MBOX_OK)
		return rc;
	if (md->count) {
		m->msgs = calloc(md->count, sizeof(*m->msgs));
		if (!m->msgs)
			goto oom;
	}
	m->count = m->cap = md->count;
	for (i = 0; i < md->count; i++)
		m->msgs[i].size = md->msgs[i].size;
	if (md->skipped) {
		char clean[LOG_CLEAN_SIZE(96)];

		log_msg(LOG_WARNING, "maildir: %lu entries not served, e.g. %s",
			(unsigned long)md->skipped,
			log_clean(clean, sizeof(clean), md->skipped_why,
				  strlen(md->skipped_why)));
	}
	return MBOX_OK;
oom:
	mbox_why(why, whysize, "out of memory");
	return MBOX_ERR_SYS;
}
