/* uidlist: the per-folder index of UIDs and CRLF sizes (see uidlist.h).
 * Used by pop3d now and imapd later.  The list on disk is the truth about
 * UIDs; the directories are the truth about which messages exist. */
#include "uidlist.h"
#include "fsutil.h"
#include "io.h"
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LIST_MAX ((size_t)512 << 20)
#define READ_CHUNK (64 * 1024)
#define STAMP_SETTLE_SECS 2

void uidlist_init(struct uidlist *u, const char *dir)
{
	memset(u, 0, sizeof *u);
	u->dir = xstrdup(dir);
	u->lock_fd = -1;
}

static void clear_msgs(struct uidlist *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->msgs[i].name);
	u->n = 0;
}

void uidlist_free(struct uidlist *u)
{
	clear_msgs(u);
	free(u->msgs);
	free(u->dir);
	if (u->lock_fd >= 0)
		close(u->lock_fd);
	memset(u, 0, sizeof *u);
	u->lock_fd = -1;
}

static const char *file_in(struct buf *p, const struct uidlist *u, const char *sub, const char *name)
{
	buf_reset(p);
	buf_puts(p, u->dir);
	if (sub) {
		buf_putc(p, '/');
		buf_puts(p, sub);
	}
	if (name) {
		buf_putc(p, '/');
		buf_puts(p, name);
	}
	return buf_cstr(p);
}

void uidlist_path(const struct uidlist *u, const struct uid_msg *m, struct buf *out)
{
	file_in(out, u, m->sub == 'n' ? "new" : "cur", m->name);
}

static struct uid_msg *push_msg(struct uidlist *u)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? size_mul(u->cap, 2) : 64;
		u->msgs = xrealloc(u->msgs, size_mul(u->cap, sizeof *u->msgs));
	}
	struct uid_msg *m = &u->msgs[u->n++];
	memset(m, 0, sizeof *m);
	return m;
}

struct uid_msg *uidlist_find(const struct uidlist *u, unsigned long uid)
{
	size_t lo = 0, hi = u->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (u->msgs[mid].uid == uid)
			return &u->msgs[mid];
		if (u->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

unsigned long long uidlist_crlf_count(const char *p, size_t n, int *prev_cr)
{
	unsigned long long total = n;
	int cr = *prev_cr;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && !cr)
			total++;
		cr = p[i] == '\r';
	}
	*prev_cr = cr;
	return total;
}

/* ---- the file's text ---- */

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n > UIDLIST_NAME_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Next space-separated field of [*p, end). */
static int field(const char **p, const char *end, const char **f, size_t *flen)
{
	const char *s = *p;
	if (s >= end)
		return -1;
	const char *sp = memchr(s, ' ', (size_t)(end - s));
	*f = s;
	*flen = sp ? (size_t)(sp - s) : (size_t)(end - s);
	*p = sp ? sp + 1 : end;
	return *flen ? 0 : -1;
}

static int num_field(const char **p, const char *end, char prefix, unsigned long long *v)
{
	const char *f;
	size_t n;
	if (field(p, end, &f, &n) < 0)
		return -1;
	if (prefix) {
		if (f[0] != prefix)
			return -1;
		f++;
		n--;
	}
	return mem_to_u64(f, n, v);
}

/* The header line; *version gets 1 or 2. */
static int parse_header(struct uidlist *u, const char *s, const char *end, int *version)
{
	static const char magic[] = "posthorn-uidlist ";
	size_t ml = sizeof magic - 1;
	if ((size_t)(end - s) < ml + 2 || memcmp(s, magic, ml) || s[ml + 1] != ' ' ||
	    (s[ml] != '1' && s[ml] != '2'))
		return -1;
	*version = s[ml] - '0';
	s += ml + 2;
	unsigned long long v, nx, sn, sc, ms = 1, r = 0;
	if (num_field(&s, end, 'V', &v) < 0 || num_field(&s, end, 'N', &nx) < 0 ||
	    num_field(&s, end, 0, &sn) < 0 || num_field(&s, end, 0, &sc) < 0)
		return -1;
	if (*version == 2 && (num_field(&s, end, 'M', &ms) < 0 || num_field(&s, end, 'R', &r) < 0))
		return -1;
	if (s != end || v == 0 || v > 0xffffffffULL || nx == 0 || nx > 0xffffffffULL ||
	    sn > 0x7fffffffffffffffULL || sc > 0x7fffffffffffffffULL || r >= nx ||
	    ms == 0 || ms > 0x7fffffffffffffffULL)
		return -1;
	u->uidvalidity = (unsigned long)v;
	u->next_uid = (unsigned long)nx;
	u->stamp_new = (long long)sn;
	u->stamp_cur = (long long)sc;
	u->modseq = ms;
	u->recent_uid = (unsigned long)r;
	return 0;
}

static int parse_msg(struct uidlist *u, const char *s, const char *end, int version)
{
	unsigned long long uid, size, fsize, modseq = 1, mtime = 0;
	const char *sub, *name;
	size_t sublen;
	if (num_field(&s, end, 0, &uid) < 0 || num_field(&s, end, 0, &size) < 0 ||
	    num_field(&s, end, 0, &fsize) < 0 || field(&s, end, &sub, &sublen) < 0)
		return -1;
	if (version == 2 && (num_field(&s, end, 0, &modseq) < 0 || num_field(&s, end, 0, &mtime) < 0))
		return -1;
	if (modseq == 0 || modseq > u->modseq || mtime > 0x7fffffffffffffffULL)
		return -1;
	name = s;
	size_t nlen = (size_t)(end - s);
	if (sublen != 1 || (sub[0] != 'n' && sub[0] != 'c') || !name_ok(name, nlen))
		return -1;
	if (uid == 0 || uid >= u->next_uid || (u->n && uid <= u->msgs[u->n - 1].uid))
		return -1;
	struct uid_msg *m = push_msg(u);
	m->uid = (unsigned long)uid;
	m->size = size;
	m->fsize = fsize;
	m->modseq = modseq;
	m->mtime = (long long)mtime;
	m->sub = sub[0];
	m->name = xmemdup(name, nlen);
	return 0;
}

int uidlist_parse(struct uidlist *u, const char *text, size_t len)
{
	clear_msgs(u);
	size_t off = 0;
	int first = 1, version = 0;
	while (off < len) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);
		if (!nl)
			goto bad;	/* a torn last line: never trust it */
		int r = first ? parse_header(u, s, nl, &version) : parse_msg(u, s, nl, version);
		if (r < 0)
			goto bad;
		first = 0;
		off = (size_t)(nl - text) + 1;
	}
	if (first)
		goto bad;
	u->version = version;
	return 0;
bad:
	clear_msgs(u);
	return -1;
}

void uidlist_format(const struct uidlist *u, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "posthorn-uidlist 2 V%lu N%lu %lld %lld M%llu R%lu\n", u->uidvalidity,
		   u->next_uid, u->stamp_new, u->stamp_cur, u->modseq, u->recent_uid);
	for (size_t i = 0; i < u->n; i++) {
		const struct uid_msg *m = &u->msgs[i];
		buf_printf(out, "%lu %llu %llu %c %llu %lld %s\n", m->uid, m->size, m->fsize,
			   m->sub, m->modseq, m->mtime, m->name);
	}
}

/* ---- lock, load, save ---- */

static int lock_take(struct uidlist *u)
{
	struct buf p = BUF_INIT;
	u->lock_fd = open(file_in(&p, u, UIDLIST_LOCK, NULL), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	buf_free(&p);
	if (u->lock_fd < 0)
		return -1;
	while (flock(u->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int e = errno;
			close(u->lock_fd);
			u->lock_fd = -1;
			errno = e;
			return -1;
		}
	return 0;
}

static void lock_release(struct uidlist *u)
{
	if (u->lock_fd >= 0) {
		int e = errno;
		close(u->lock_fd);
		u->lock_fd = -1;
		errno = e;
	}
}

static void start_fresh(struct uidlist *u)
{
	clear_msgs(u);
	unsigned long v = (unsigned long)time(NULL);
	/* a list rebuilt within the same second must still get a new value */
	u->uidvalidity = v > u->uidvalidity ? v : u->uidvalidity + 1;
	u->next_uid = 1;
	u->stamp_new = u->stamp_cur = 0;
	u->modseq = 1;
	u->recent_uid = 0;
	u->changed = 1;
}

static int same_file(const struct uidlist *u, const struct stat *st)
{
	return u->loaded && u->file_dev == (unsigned long long)st->st_dev &&
	       u->file_ino == (unsigned long long)st->st_ino &&
	       u->file_size == (unsigned long long)st->st_size &&
	       u->file_mtime == (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static void remember_file(struct uidlist *u, const struct stat *st)
{
	u->file_dev = (unsigned long long)st->st_dev;
	u->file_ino = (unsigned long long)st->st_ino;
	u->file_size = (unsigned long long)st->st_size;
	u->file_mtime = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	u->loaded = 1;
}

/* A version-1 list has no mtimes: each listed file is looked at once. */
static void fill_mtimes(struct uidlist *u)
{
	struct buf p = BUF_INIT;
	struct stat st;
	for (size_t i = 0; i < u->n; i++) {
		uidlist_path(u, &u->msgs[i], &p);
		if (stat(p.s, &st) == 0)
			u->msgs[i].mtime = (long long)st.st_mtim.tv_sec;
	}
	buf_free(&p);
	u->changed = 1;
}

/* Reads the open list file fd into text; st: its identity. */
static int read_list(int fd, struct stat *st, struct buf *text)
{
	if (fstat(fd, st) < 0)
		return -1;
	if (st->st_size < 0 || (unsigned long long)st->st_size > LIST_MAX) {
		errno = EFBIG;
		return -1;
	}
	size_t n = (size_t)st->st_size;
	buf_reset(text);
	buf_reserve(text, size_add(n, 1));
	ssize_t r = read_full(fd, text->s, n);
	if (r < 0)
		return -1;
	text->len = (size_t)r;
	return 0;
}

/* Reads the file; a missing or malformed one starts a new list (with a
 * new UIDVALIDITY, as IMAP requires when UIDs are given again). */
static int load(struct uidlist *u)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	struct stat st;
	file_in(&p, u, UIDLIST_FILE, NULL);
	if (u->loaded && stat(p.s, &st) == 0 && same_file(u, &st)) {
		buf_free(&p);
		return 0;	/* what is in memory is what the file says */
	}
	u->loaded = 0;
	int fd = open(p.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int r = fd < 0 ? -1 : read_list(fd, &st, &text);
	int e = errno;
	if (fd >= 0)
		close(fd);
	buf_free(&p);
	if (r == 0 && uidlist_parse(u, text.s, text.len) == 0) {
		buf_free(&text);
		remember_file(u, &st);
		if (u->version == 1)
			fill_mtimes(u);
		return 0;
	}
	buf_free(&text);
	if (r == -1 && e != ENOENT) {
		errno = e;
		return -1;
	}
	start_fresh(u);
	return 0;
}

static int save(struct uidlist *u)
{
	struct buf tmp = BUF_INIT, path = BUF_INIT, text = BUF_INIT;
	int r = -1;
	uidlist_format(u, &text);
	file_in(&tmp, u, UIDLIST_FILE ".tmp", NULL);
	file_in(&path, u, UIDLIST_FILE, NULL);
	int fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto out;
	struct stat st;
	u->loaded = 0;
	if (write_all(fd, text.s, text.len) < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp.s);
		errno = e;
		goto out;
	}
	if (close(fd) < 0 || rename(tmp.s, path.s) < 0 || fsync_dir(u->dir) < 0)
		goto out;
	remember_file(u, &st);
	u->version = 2;
	r = 0;
out:;
	int e = errno;
	buf_free(&tmp);
	buf_free(&path);
	buf_free(&text);
	errno = e;
	return r;
}

/* ---- scanning ---- */

struct entry {
	char sub;
	char *name;
	size_t blen;	/* length of the base name */
};

struct entries {
	struct entry *e;
	size_t n, cap;
};

static void entries_free(struct entries *es)
{
	for (size_t i = 0; i < es->n; i++)
		free(es->e[i].name);
	free(es->e);
}

static int read_sub(struct uidlist *u, const char *sub, struct entries *es)
{
	struct buf p = BUF_INIT;
	DIR *d = opendir(file_in(&p, u, sub, NULL));
	buf_free(&p);
	if (!d)
		return -1;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (!name_ok(de->d_name, n))
			continue;
		if (es->n == es->cap) {
			es->cap = es->cap ? size_mul(es->cap, 2) : 64;
			es->e = xrealloc(es->e, size_mul(es->cap, sizeof *es->e));
		}
		struct entry *e = &es->e[es->n++];
		e->sub = sub[0];
		e->name = xmemdup(de->d_name, n);
		e->blen = maildir_name_base(e->name, n);
	}
	int e = errno;
	closedir(d);
	errno = e;
	return e ? -1 : 0;
}

static int base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return base_cmp(x->name, x->blen, y->name, y->blen);
}

/* Reads a new message once: its CRLF size and its file size.  1 ok, 0
 * gone meanwhile (moved or removed: the next scan finds it), -1 error. */
static int measure(struct uidlist *u, const struct entry *e, unsigned long long *size,
		   unsigned long long *fsize, long long *mtime)
{
	struct buf p = BUF_INIT;
	const char *sub = e->sub == 'n' ? "new" : "cur";
	int fd = open(file_in(&p, u, sub, e->name), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	buf_free(&p);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	*mtime = fstat(fd, &st) == 0 ? (long long)st.st_mtim.tv_sec : 0;
	char *chunk = xmalloc(READ_CHUNK);
	int cr = 0;
	char last = 0;
	ssize_t r;
	*size = *fsize = 0;
	while ((r = read(fd, chunk, READ_CHUNK)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		*fsize += (unsigned long long)r;
		*size += uidlist_crlf_count(chunk, (size_t)r, &cr);
		last = chunk[r - 1];
	}
	/* a last line without its line end is presented completed */
	if (r == 0 && *fsize > 0 && last != '\n')
		*size += last == '\r' ? 1 : 2;
	int e2 = errno;
	free(chunk);
	close(fd);
	errno = e2;
	return r < 0 ? -1 : 1;
}

/* Index of the listed message with e's base name, or -1.  sorted: the
 * message indexes ordered by base name. */
static long find_base(const struct uidlist *u, const size_t *sorted, const struct entry *e)
{
	size_t lo = 0, hi = u->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *nm = u->msgs[sorted[mid]].name;
		int c = base_cmp(nm, maildir_name_base(nm, strlen(nm)), e->name, e->blen);
		if (c == 0)
			return (long)sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const struct uidlist *sort_ctx;
static int index_cmp(const void *a, const void *b)
{
	const char *x = sort_ctx->msgs[*(const size_t *)a].name;
	const char *y = sort_ctx->msgs[*(const size_t *)b].name;
	return base_cmp(x, maildir_name_base(x, strlen(x)), y, maildir_name_base(y, strlen(y)));
}

/* Matches directory entries with listed messages: a listed message seen
 * gets its current name; entries not listed are kept in es (others freed
 * and removed from es).  seen[i] marks listed messages still present. */
static void match(struct uidlist *u, struct entries *es, char *seen)
{
	size_t *sorted = xmalloc(size_mul(u->n ? u->n : 1, sizeof *sorted));
	for (size_t i = 0; i < u->n; i++)
		sorted[i] = i;
	sort_ctx = u;
	qsort(sorted, u->n, sizeof *sorted, index_cmp);
	size_t keep = 0;
	for (size_t i = 0; i < es->n; i++) {
		struct entry *e = &es->e[i];
		long k = find_base(u, sorted, e);
		if (k < 0) {
			es->e[keep++] = *e;
			continue;
		}
		struct uid_msg *m = &u->msgs[k];
		if (m->sub != e->sub || strcmp(m->name, e->name)) {
			free(m->name);
			m->name = e->name;
			m->sub = e->sub;
			m->modseq = ++u->modseq;
			u->changed = 1;
		} else {
			free(e->name);
		}
		seen[k] = 1;
	}
	es->n = keep;
	free(sorted);
}

static void drop_unseen(struct uidlist *u, const char *seen)
{
	size_t keep = 0;
	for (size_t i = 0; i < u->n; i++) {
		if (seen[i]) {
			u->msgs[keep++] = u->msgs[i];
		} else {
			free(u->msgs[i].name);
			u->changed = 1;
		}
	}
	if (keep != u->n)
		u->modseq++;	/* an expunge is a change (CONDSTORE) */
	u->n = keep;
}

static int name_order(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* New messages get UIDs in name order (delivery time first). */
static int add_new(struct uidlist *u, struct entries *es)
{
	qsort(es->e, es->n, sizeof *es->e, name_order);
	for (size_t i = 0; i < es->n; i++) {
		unsigned long long size, fsize;
		long long mtime;
		int r = measure(u, &es->e[i], &size, &fsize, &mtime);
		if (r < 0)
			return -1;
		if (r == 0 || u->next_uid >= 0xffffffffUL)
			continue;
		struct uid_msg *m = push_msg(u);
		m->uid = u->next_uid++;
		m->size = size;
		m->fsize = fsize;
		m->modseq = ++u->modseq;
		m->mtime = mtime;
		m->sub = es->e[i].sub;
		m->name = es->e[i].name;
		es->e[i].name = NULL;
		u->changed = 1;
	}
	return 0;
}

/* Reads new/ and then cur/ (in that order: a message moved from new/ to
 * cur/ meanwhile is in one of them) and matches them with the list. */
static int read_and_match(struct uidlist *u, struct entries *es, char *seen)
{
	if (read_sub(u, "new", es) < 0 || read_sub(u, "cur", es) < 0)
		return -1;
	qsort(es->e, es->n, sizeof *es->e, entry_cmp);
	match(u, es, seen);
	return 0;
}

static int any_unseen(const struct uidlist *u, const char *seen)
{
	for (size_t i = 0; i < u->n; i++)
		if (!seen[i])
			return 1;
	return 0;
}

static int scan(struct uidlist *u)
{
	struct entries es = {NULL, 0, 0}, again = {NULL, 0, 0};
	char *seen = xcalloc(u->n ? u->n : 1, 1);
	int r = read_and_match(u, &es, seen);
	/* readdir may miss an entry renamed while it runs (a flag change in
	 * cur/): a listed message not seen is looked for once more before it
	 * loses its UID */
	if (r == 0 && any_unseen(u, seen))
		r = read_and_match(u, &again, seen);
	if (r == 0) {
		drop_unseen(u, seen);
		r = add_new(u, &es);
	}
	int e = errno;
	free(seen);
	entries_free(&es);
	entries_free(&again);
	errno = e;
	return r;
}

/* The mtime of dir/sub as a stamp; 0 while it may still change within
 * the same clock tick. */
static int dir_stamp(const struct uidlist *u, const char *sub, long long *stamp)
{
	struct buf p = BUF_INIT;
	struct stat st;
	int r = stat(file_in(&p, u, sub, NULL), &st);
	buf_free(&p);
	if (r < 0)
		return -1;
	if (time(NULL) - st.st_mtim.tv_sec < STAMP_SETTLE_SECS)
		*stamp = 0;
	else
		*stamp = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	return 0;
}

/* \Recent: the caller's session is the first to see what is above the
 * mark. */
static void claim(struct uidlist *u)
{
	u->claim_lo = u->claim_hi = u->recent_uid;
	if (u->claim_recent && u->next_uid - 1 > u->recent_uid) {
		u->claim_hi = u->recent_uid = u->next_uid - 1;
		u->changed = 1;
	}
}

/* Under the lock: load, and scan when the directories changed. */
static int refresh(struct uidlist *u)
{
	long long sn, sc;
	u->changed = 0;
	u->cur_clean = 0;
	if (load(u) < 0 || dir_stamp(u, "new", &sn) < 0 || dir_stamp(u, "cur", &sc) < 0) {
		u->loaded = 0;
		return -1;
	}
	if (!(sn && sc && sn == u->stamp_new && sc == u->stamp_cur)) {
		/* stamps taken before the scan: a change during it shows next time */
		if (scan(u) < 0) {
			u->loaded = 0;
			return -1;
		}
		if (sn != u->stamp_new || sc != u->stamp_cur)
			u->changed = 1;
		u->stamp_new = sn;
		u->stamp_cur = sc;
	} else {
		u->cur_clean = 1;
	}
	claim(u);
	return 0;
}

int uidlist_sync(struct uidlist *u)
{
	if (lock_take(u) < 0)
		return -1;
	int r = refresh(u);
	if (r == 0 && u->changed)
		r = save(u);
	lock_release(u);
	return r;
}

static void remove_at(struct uidlist *u, struct uid_msg *m)
{
	size_t i = (size_t)(m - u->msgs);
	free(m->name);
	memmove(m, m + 1, (u->n - i - 1) * sizeof *m);
	u->n--;
	u->modseq++;
	u->changed = 1;
}

void uidlist_remove(struct uidlist *u, struct uid_msg *m)
{
	remove_at(u, m);
}

int uidlist_begin(struct uidlist *u)
{
	if (lock_take(u) < 0)
		return -1;
	if (refresh(u) < 0) {
		lock_release(u);
		return -1;
	}
	return 0;
}

int uidlist_end(struct uidlist *u)
{
	int r = u->changed ? save(u) : 0;
	lock_release(u);
	return r;
}

struct uid_msg *uidlist_add(struct uidlist *u, char sub, const char *name,
			    unsigned long long size, unsigned long long fsize, long long mtime)
{
	if (u->next_uid >= 0xffffffffUL)
		return NULL;
	struct uid_msg *m = push_msg(u);
	m->uid = u->next_uid++;
	m->size = size;
	m->fsize = fsize;
	m->modseq = ++u->modseq;
	m->mtime = mtime;
	m->sub = sub;
	m->name = xstrdup(name);
	u->changed = 1;
	return m;
}

void uidlist_touched_cur(struct uidlist *u)
{
	struct buf p = BUF_INIT;
	struct stat st;
	/* the raw mtime, not the settled stamp: the change is our own, made
	 * under the lock, and the list matched cur/ before it */
	if (u->cur_clean && stat(file_in(&p, u, "cur", NULL), &st) == 0)
		u->stamp_cur = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	else
		u->stamp_cur = 0;
	u->changed = 1;
	buf_free(&p);
}

static int unlink_msgs(struct uidlist *u, const unsigned long *uids, size_t nuids,
		       long long *removed, long long *bytes)
{
	struct buf p = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < nuids && r == 0; i++) {
		struct uid_msg *m = uidlist_find(u, uids[i]);
		if (!m)
			continue;
		uidlist_path(u, m, &p);
		if (unlink(p.s) == 0) {
			(*removed)++;
			*bytes += (long long)m->fsize;
			if (m->sub == 'n')
				u->stamp_new = 0;
			else
				u->stamp_cur = 0;
		} else if (errno != ENOENT) {
			r = -1;
			break;
		}
		remove_at(u, m);
	}
	int e = errno;
	buf_free(&p);
	errno = e;
	return r;
}

int uidlist_expunge(struct uidlist *u, const unsigned long *uids, size_t nuids,
		    long long *removed, long long *bytes)
{
	*removed = *bytes = 0;
	if (lock_take(u) < 0)
		return -1;
	int r = refresh(u);
	if (r < 0) {
		lock_release(u);
		return -1;
	}
	r = unlink_msgs(u, uids, nuids, removed, bytes);
	if (*removed) {
		struct buf p = BUF_INIT;
		fsync_dir(file_in(&p, u, "new", NULL));
		fsync_dir(file_in(&p, u, "cur", NULL));
		buf_free(&p);
	}
	/* the list is saved even after a failure: what was unlinked is gone */
	if (save(u) < 0)
		r = -1;
	lock_release(u);
	return r;
}
