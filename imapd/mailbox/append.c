/* append.c: new messages written by imapd (mbox.h: APPEND and COPY).
 * A message is written to tmp/, fsynced, given its date, linked into cur/
 * with its flags in the name and cur/ fsynced, all before the UID is given
 * (under the folder's index lock) and the caller answers OK.  The quota is
 * the Maildir++ one that local delivery checks (maildirsize). */
#include "mboxpriv.h"
#include "fsutil.h"
#include "io.h"
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

unsigned long long crlf_size(const char *p, size_t n)
{
	int cr = 0;
	unsigned long long size = uidlist_crlf_count(p, n, &cr);
	/* a last line without its line end is presented completed (as uidlist) */
	if (n > 0 && p[n - 1] != '\n')
		size += p[n - 1] == '\r' ? 1 : 2;
	return size;
}

unsigned long long quota_limit(const char *root)
{
	unsigned long long q;
	const char *env = getenv("POSTHORN_QUOTA");
	if (env && mem_to_u64(env, strlen(env), &q) == 0)
		return q;
	struct buf p = BUF_INIT, text = BUF_INIT;
	buf_printf(&p, "%s/maildirsize", root);
	q = 0;
	if (file_read(buf_cstr(&p), &text, 1 << 16) == 0) {
		/* first line: "<bytes>S[,<count>C]" */
		size_t i = 0;
		while (i < text.len && buf_cstr(&text)[i] >= '0' && buf_cstr(&text)[i] <= '9')
			i++;
		if (i > 0 && i < text.len && buf_cstr(&text)[i] == 'S' && mem_to_u64(buf_cstr(&text), i, &q) < 0)
			q = 0;
		else if (!(i > 0 && i < text.len && buf_cstr(&text)[i] == 'S'))
			q = 0;
	}
	buf_free(&p);
	buf_free(&text);
	return q;
}

/* 0 if add more bytes fit, -1 EDQUOT or error. */
static int quota_ok(const char *root, unsigned long long add)
{
	unsigned long long limit = quota_limit(root);
	if (!limit)
		return 0;
	int k = maildir_quota_check(root, limit, add);
	if (k == 0)
		errno = EDQUOT;
	return k == 1 ? 0 : -1;
}

static void host_name(struct buf *out)
{
	char h[256];
	if (gethostname(h, sizeof h) < 0)
		memcpy(h, "localhost", 10);
	h[sizeof h - 1] = 0;
	maildir_host_part(h, strlen(h), out);
}

/* The index of folder dir for an APPEND or COPY: the selected folder's
 * own when it is open in this process (mbox_open_list), else one kept from
 * the last call (clients append to the same Sent folder again and again:
 * only what changed since is read). */
static struct uidlist *list_for(const char *dir)
{
	static struct uidlist spare;
	static int have_spare;
	struct uidlist *u = mbox_open_list(dir);
	if (u)
		return u;
	if (have_spare && !strcmp(spare.dir, dir))
		return &spare;
	if (have_spare)
		uidlist_free(&spare);
	uidlist_init(&spare, dir);
	have_spare = 1;
	return &spare;
}

/* The client's CRLF line ends stored as LF. */
static void to_lf(const char *data, size_t len, struct buf *out)
{
	buf_reset(out);
	buf_reserve(out, len);
	size_t i = 0;
	while (i < len) {
		const char *cr = memchr(data + i, '\r', len - i);
		size_t end = cr ? (size_t)(cr - data) : len;
		buf_append(out, data + i, end - i);
		i = end;
		if (cr) {
			if (i + 1 < len && data[i + 1] == '\n')
				i++;	/* CRLF -> LF */
			else
				buf_putc(out, '\r'), i++;
		}
	}
}

/* Writes tmp/NAME with the bytes and the date; 0 ok, -1 errno (nothing
 * left behind). */
static int write_tmp(const char *dir, const char *name, const char *p, size_t n,
		     long long date, struct buf *path)
{
	buf_reset(path);
	buf_printf(path, "%s/tmp/%s", dir, name);
	int fd = open(buf_cstr(path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	struct timespec ts[2] = {{(time_t)date, 0}, {(time_t)date, 0}};
	int r = write_all(fd, p, n) == 0 && fsync(fd) == 0 && futimens(fd, ts) == 0 ? 0 : -1;
	int e = errno;
	if (close(fd) < 0 && r == 0) {
		r = -1;
		e = errno;
	}
	if (r < 0)
		unlink(buf_cstr(path));
	errno = e;
	return r;
}

/* Keyword names -> this folder's bits (created as needed; under the lock). */
static int keyword_bits(const char *dir, struct kwlist *kw, const char *const *names,
			const size_t *lens, size_t n, uint32_t *bits)
{
	*bits = 0;
	for (size_t i = 0; i < n; i++) {
		int k = kw_add(dir, kw, names[i], lens[i]);
		if (k < 0)
			return -1;
		*bits |= (uint32_t)1 << k;
	}
	return 0;
}

/* Links tmp into cur/ under its final name, lists it; under the lock. */
static int publish(struct uidlist *ul, const char *tmp, const char *base, const char *letters,
		   unsigned long long size, unsigned long long fsize, long long date,
		   unsigned long *uid)
{
	struct buf name = BUF_INIT, path = BUF_INIT;
	buf_printf(&name, "%s:2,%s", base, letters);
	buf_printf(&path, "%s/cur/%s", ul->dir, buf_cstr(&name));
	int r = link(tmp, buf_cstr(&path));
	int e = errno;
	unlink(tmp);
	if (r == 0) {
		buf_reset(&path);
		buf_printf(&path, "%s/cur", ul->dir);
		struct uid_msg *m = fsync_dir(buf_cstr(&path)) == 0 ? uidlist_add(ul, 'c', buf_cstr(&name), size, fsize, date) : NULL;
		if (!m) {
			e = errno ? errno : EOVERFLOW;
			buf_reset(&path);
			buf_printf(&path, "%s/cur/%s", ul->dir, buf_cstr(&name));
			unlink(buf_cstr(&path));
			r = -1;
		} else {
			*uid = m->uid;
			uidlist_touched_cur(ul);
		}
	}
	buf_free(&name);
	buf_free(&path);
	errno = e;
	return r;
}

static int append_locked(struct uidlist *ul, const struct mbox_new *msg, const char *tmp,
			 const char *base, unsigned long long size, unsigned long long fsize,
			 long long date, unsigned long *uid)
{
	struct kwlist kw;
	memset(&kw, 0, sizeof kw);
	uint32_t bits;
	if (keyword_bits(ul->dir, &kw, msg->keywords, msg->keyword_lens, msg->nkeywords, &bits) < 0)
		return -1;
	struct buf letters = BUF_INIT;
	name_letters("", msg->flags, bits, &letters);
	int r = publish(ul, tmp, base, buf_cstr(&letters), size, fsize, date, uid);
	int e = errno;
	buf_free(&letters);
	errno = e;
	return r;
}

int mbox_append(const char *root, const char *name, const struct mbox_new *msg,
		const char *data, size_t len, unsigned long *uidvalidity, unsigned long *uid)
{
	struct buf dir = BUF_INIT, lf = BUF_INIT, base = BUF_INIT, host = BUF_INIT, tmp = BUF_INIT;
	struct uidlist *ul = NULL;
	int r = -1, e;
	if (folder_dir(root, name, &dir) < 0)
		goto out;
	if (!folder_exists(buf_cstr(&dir))) {
		errno = ENOENT;
		goto out;
	}
	to_lf(data, len, &lf);
	if (quota_ok(root, lf.len) < 0)
		goto out;
	long long date = msg->internaldate ? msg->internaldate : (long long)time(NULL);
	host_name(&host);
	maildir_unique_name(&base, buf_cstr(&host), lf.len);
	if (write_tmp(buf_cstr(&dir), buf_cstr(&base), buf_cstr(&lf), lf.len, date, &tmp) < 0)
		goto out;
	ul = list_for(buf_cstr(&dir));
	if (uidlist_begin(ul) < 0) {
		e = errno;
		unlink(buf_cstr(&tmp));
		errno = e;
		goto out;
	}
	r = append_locked(ul, msg, buf_cstr(&tmp), buf_cstr(&base), crlf_size(buf_cstr(&lf), lf.len), lf.len, date, uid);
	e = errno;
	if (r < 0)
		unlink(buf_cstr(&tmp));	/* e.g. no keyword slot left: nothing stays in tmp/ */
	if (uidlist_end(ul) < 0 && r == 0)
		r = -1;	/* the message is in place; its UID may be given again */
	else
		errno = e;
	*uidvalidity = ul->uidvalidity;
	if (r == 0)
		maildir_quota_add(root, (long long)lf.len, 1);
out:
	e = errno;
	buf_free(&dir);
	buf_free(&lf);
	buf_free(&base);
	buf_free(&host);
	buf_free(&tmp);
	errno = e;
	return r;
}

/* ---- COPY ---- */

struct copy_job {
	struct mbox *src;
	struct uidlist *dst;	/* the destination's index (list_for) */
	struct kwlist dkw;
	struct buf host;
	char **made;		/* paths created in dst/cur, for the undo */
	struct uid_msg *info;	/* per message: size, fsize, mtime, final name */
	size_t n;
};

/* The destination's keyword bits for a source message's keywords. */
static int map_keywords(struct copy_job *j, uint32_t skw, uint32_t *dkw)
{
	*dkw = 0;
	for (int i = 0; i < MBOX_KEYWORDS_MAX; i++) {
		if (!(skw & ((uint32_t)1 << i)) || (size_t)i >= j->src->kw.n)
			continue;
		const char *nm = j->src->kw.names[i];
		int k = kw_add(j->dst->dir, &j->dkw, nm, strlen(nm));
		if (k < 0)
			return -1;
		*dkw |= (uint32_t)1 << k;
	}
	return 0;
}

/* Copies a file's bytes when it cannot be linked (another file system). */
static int copy_bytes(const char *from, const char *dir, const char *base, long long date,
		      const char *to)
{
	struct buf text = BUF_INIT, tmp = BUF_INIT;
	int r = file_read(from, &text, (size_t)1 << 31);
	if (r == 0)
		r = write_tmp(dir, base, buf_cstr(&text), text.len, date, &tmp);
	if (r == 0) {
		r = link(buf_cstr(&tmp), to);
		int e = errno;
		unlink(buf_cstr(&tmp));
		errno = e;
	}
	int e = errno;
	buf_free(&text);
	buf_free(&tmp);
	errno = e;
	return r;
}

/* One message into dst/cur (not yet listed). */
static int copy_one(struct copy_job *j, size_t seq)
{
	const struct mbox_msg *v = mbox_msg(j->src, seq);
	struct uid_msg *su = v && !v->expunged ? uidlist_find(&j->src->ul, v->uid) : NULL;
	if (!su) {
		errno = ESTALE;	/* expunged meanwhile */
		return -1;
	}
	unsigned flags;
	uint32_t skw, dkw;
	name_flags(su->name, &flags, &skw);
	if (map_keywords(j, skw, &dkw) < 0)
		return -1;
	struct buf base = BUF_INIT, letters = BUF_INIT, from = BUF_INIT, to = BUF_INIT;
	maildir_unique_name(&base, buf_cstr(&j->host), su->fsize);
	name_letters(su->name, flags, dkw, &letters);
	uidlist_path(&j->src->ul, su, &from);
	buf_printf(&to, "%s/cur/%s:2,%s", j->dst->dir, buf_cstr(&base), buf_cstr(&letters));
	int r = link(buf_cstr(&from), buf_cstr(&to));
	if (r < 0 && (errno == EXDEV || errno == EPERM || errno == EMLINK))
		r = copy_bytes(buf_cstr(&from), j->dst->dir, buf_cstr(&base), su->mtime, buf_cstr(&to));
	if (r == 0) {
		struct uid_msg *info = &j->info[j->n];
		*info = *su;
		info->name = xstrdup(strrchr(buf_cstr(&to), '/') + 1);
		j->made[j->n++] = xmemdup(buf_cstr(&to), to.len);
	}
	int e = errno;
	buf_free(&base);
	buf_free(&letters);
	buf_free(&from);
	buf_free(&to);
	errno = e;
	return r;
}

static void copy_undo(struct copy_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		unlink(j->made[i]);
}

static void copy_free(struct copy_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->made[i]);
		free(j->info[i].name);
	}
	free(j->made);
	free(j->info);
	buf_free(&j->host);
}

static unsigned long long copy_bytes_total(struct mbox *m, const size_t *seqs, size_t n)
{
	unsigned long long total = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mbox_msg *v = mbox_msg(m, seqs[i]);
		struct uid_msg *u = v ? uidlist_find(&m->ul, v->uid) : NULL;
		if (u)
			total += u->fsize;
	}
	return total;
}

/* Under the destination's lock: all files, then all UIDs. */
static int copy_locked(struct copy_job *j, const size_t *seqs, size_t n, unsigned long *dst_uids)
{
	for (size_t i = 0; i < n; i++)
		if (copy_one(j, seqs[i]) < 0)
			return -1;
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/cur", j->dst->dir);
	int r = fsync_dir(buf_cstr(&p));
	buf_free(&p);
	if (r < 0)
		return -1;
	for (size_t i = 0; i < j->n; i++) {
		const struct uid_msg *s = &j->info[i];
		struct uid_msg *d = uidlist_add(j->dst, 'c', s->name, s->size, s->fsize, s->mtime);
		if (!d) {
			errno = EOVERFLOW;
			return -1;
		}
		dst_uids[i] = d->uid;
	}
	uidlist_touched_cur(j->dst);
	return 0;
}

int mbox_copy(struct mbox *m, const size_t *seqs, size_t n, const char *name,
	      unsigned long *uidvalidity, unsigned long *dst_uids)
{
	struct buf dir = BUF_INIT;
	struct copy_job j;
	memset(&j, 0, sizeof j);
	j.src = m;
	int r = -1, e;
	if (mbox_stale(m) || folder_dir(m->root, name, &dir) < 0)
		goto out;
	if (!folder_exists(buf_cstr(&dir))) {
		errno = ENOENT;
		goto out;
	}
	if (quota_ok(m->root, copy_bytes_total(m, seqs, n)) < 0)
		goto out;
	j.dst = list_for(buf_cstr(&dir));
	host_name(&j.host);
	j.made = xcalloc(n ? n : 1, sizeof *j.made);
	j.info = xcalloc(n ? n : 1, sizeof *j.info);
	if (uidlist_begin(j.dst) < 0)
		goto out;
	r = copy_locked(&j, seqs, n, dst_uids);
	e = errno;
	if (r < 0) {
		copy_undo(&j);
		/* all or nothing: the list in memory is not saved, and read
		 * again next time */
		j.dst->changed = 0;
		j.dst->loaded = 0;
	}
	if (uidlist_end(j.dst) < 0 && r == 0) {
		e = errno;
		r = -1;
	}
	*uidvalidity = j.dst->uidvalidity;
	if (r == 0) {
		long long bytes = 0;
		for (size_t i = 0; i < j.n; i++)
			bytes += (long long)j.info[i].fsize;
		maildir_quota_add(m->root, bytes, (long long)j.n);
	}
	errno = e;
out:
	e = errno;
	copy_free(&j);
	buf_free(&dir);
	errno = e;
	return r;
}
