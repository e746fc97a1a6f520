/* uidlist: the per-folder index (see uidlist.h): UIDs, sizes, modseqs,
 * dates, kept as a list file and its change log.  Used by pop3d and the
 * imapd store.  The index is the truth about UIDs; the directories are
 * the truth about which messages exist. */
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
#define STAMP_SETTLE_NS (100LL * 1000000)

void uidlist_init(struct uidlist *u, const char *dir)
{
	memset(u, 0, sizeof *u);
	u->dir = xstrdup(dir);
	u->lock_fd = -1;
}

/* ---- names: kept in chunks, not one malloc per message ---- */

struct name_chunk {
	struct name_chunk *next;
	size_t used, cap;
	char data[];
};

#define NAME_CHUNK (64 * 1024)

static char *name_new(struct uidlist *u, const char *s, size_t n)
{
	struct name_chunk *c = u->names;
	size_t need = size_add(n, 1);
	if (!c || c->cap - c->used < need) {
		size_t cap = need > NAME_CHUNK ? need : NAME_CHUNK;
		c = xmalloc(size_add(sizeof *c, cap));
		c->next = u->names;
		c->used = 0;
		c->cap = cap;
		u->names = c;
	}
	char *p = c->data + c->used;
	memcpy(p, s, n);
	p[n] = 0;
	c->used += need;
	u->name_live += need;
	return p;
}

/* A name no longer used: its bytes stay until the next repack. */
static void name_drop(struct uidlist *u, const char *p)
{
	if (!p)
		return;
	size_t n = strlen(p) + 1;
	u->name_live -= n;
	u->name_garbage += n;
}

static void names_free(struct name_chunk *c)
{
	while (c) {
		struct name_chunk *next = c->next;
		free(c);
		c = next;
	}
}

/* Copies the live names into fresh chunks when most bytes are garbage
 * (renames leave the old names behind).  Only between calls: a name
 * pointer is valid until the next call that changes the list. */
static void names_repack(struct uidlist *u)
{
	if (u->name_garbage < 256 * 1024 || u->name_garbage < u->name_live)
		return;
	struct name_chunk *old = u->names;
	u->names = NULL;
	u->name_live = u->name_garbage = 0;
	for (size_t i = 0; i < u->n; i++)
		if (u->msgs[i].name)
			u->msgs[i].name = name_new(u, u->msgs[i].name, strlen(u->msgs[i].name));
	names_free(old);
}

static void clear_msgs(struct uidlist *u)
{
	names_free(u->names);
	u->names = NULL;
	u->name_live = u->name_garbage = 0;
	u->n = 0;
}

void uidlist_free(struct uidlist *u)
{
	clear_msgs(u);
	free(u->msgs);
	free(u->dir);
	buf_free(&u->pending);
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

/* Room for exactly n messages (a large list is not left with up to twice
 * the memory it needs by doubling). */
static void reserve_msgs(struct uidlist *u, size_t n)
{
	if (n <= u->cap)
		return;
	u->cap = n;
	u->msgs = xrealloc(u->msgs, size_mul(u->cap, sizeof *u->msgs));
}

static struct uid_msg *push_msg(struct uidlist *u)
{
	if (u->n == u->cap)
		reserve_msgs(u, size_add(u->cap, u->cap / 4 + 64));	/* a quarter: big lists stay tight */
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
			return u->msgs[mid].name ? &u->msgs[mid] : NULL;
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
	const char *end = p + n, *nl;
	/* line ends found with memchr: the first large message of a new
	 * folder is read once, at full speed */
	for (const char *s = p; s < end && (nl = memchr(s, '\n', (size_t)(end - s))); s = nl + 1)
		if (nl == p ? !*prev_cr : nl[-1] != '\r')
			total++;
	if (n)
		*prev_cr = p[n - 1] == '\r';
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

/* A decimal field (after prefix, if any) ending at a space or at end; the
 * hot path of reading a large list, so digits are taken in place. */
static int num_field(const char **p, const char *end, char prefix, unsigned long long *v)
{
	const char *s = *p;
	if (prefix) {
		if (s >= end || *s != prefix)
			return -1;
		s++;
	}
	const char *start = s;
	unsigned long long x = 0;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (x > (~0ULL - d) / 10)
			return -1;	/* overflow */
		x = x * 10 + d;
		s++;
	}
	if (s == start || (s < end && *s != ' '))
		return -1;
	*p = s < end ? s + 1 : end;
	*v = x;
	return 0;
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
	unsigned long long v, nx, sn, sc, ms = 1, r = 0, g = 0;
	if (num_field(&s, end, 'V', &v) < 0 || num_field(&s, end, 'N', &nx) < 0 ||
	    num_field(&s, end, 0, &sn) < 0 || num_field(&s, end, 0, &sc) < 0)
		return -1;
	if (*version == 2 && (num_field(&s, end, 'M', &ms) < 0 || num_field(&s, end, 'R', &r) < 0 ||
			      num_field(&s, end, 'G', &g) < 0))
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
	u->gen = g;
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
	m->name = name_new(u, name, nlen);
	return 0;
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 0;
	for (const char *p = text, *end = text + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
		n++;
	return n;
}

int uidlist_parse(struct uidlist *u, const char *text, size_t len)
{
	clear_msgs(u);
	reserve_msgs(u, count_lines(text, len));
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

/* Decimal digits without printf: the list of a large folder is written
 * line by line. */
static void put_num(struct buf *out, unsigned long long v, char after)
{
	char d[24];
	size_t i = sizeof d;
	d[--i] = after;
	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	buf_append(out, d + i, sizeof d - i);
}

void uidlist_format(const struct uidlist *u, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "posthorn-uidlist 2 V%lu N%lu %lld %lld M%llu R%lu G%llu\n", u->uidvalidity,
		   u->next_uid, u->stamp_new, u->stamp_cur, u->modseq, u->recent_uid, u->gen);
	for (size_t i = 0; i < u->n; i++) {
		const struct uid_msg *m = &u->msgs[i];
		if (!m->name)
			continue;
		put_num(out, m->uid, ' ');
		put_num(out, m->size, ' ');
		put_num(out, m->fsize, ' ');
		buf_putc(out, m->sub);
		buf_putc(out, ' ');
		put_num(out, m->modseq, ' ');
		put_num(out, m->mtime < 0 ? 0 : (unsigned long long)m->mtime, ' ');
		buf_puts(out, m->name);
		buf_putc(out, '\n');
	}
}

/* ---- lock ---- */

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

/* ---- changes in memory, each also a log line ---- */

static void changed(struct uidlist *u)
{
	u->changed = 1;
	u->mem_gen++;
}

/* Log lines are not written when the whole list is written anyway. */
static void rec_add(struct uidlist *u, const struct uid_msg *m)
{
	if (u->need_fold) {
		changed(u);
		return;
	}
	buf_printf(&u->pending, "+ %lu %llu %llu %c %llu %lld %s\n", m->uid, m->size, m->fsize,
		   m->sub, m->modseq, m->mtime, m->name);
	changed(u);
}

static void rec_rename(struct uidlist *u, const struct uid_msg *m)
{
	u->mod_gen++;
	if (u->need_fold) {
		changed(u);
		return;
	}
	buf_printf(&u->pending, "= %lu %c %llu %s\n", m->uid, m->sub, m->modseq, m->name);
	changed(u);
}

static void rec_remove(struct uidlist *u, unsigned long uid)
{
	u->mod_gen++;
	if (u->need_fold) {
		changed(u);
		return;
	}
	buf_printf(&u->pending, "- %lu\n", uid);
	changed(u);
}

/* Removed entries (name NULL) leave the array. */
static void compact(struct uidlist *u)
{
	if (!u->holes)
		return;
	size_t keep = 0;
	for (size_t i = 0; i < u->n; i++)
		if (u->msgs[i].name)
			u->msgs[keep++] = u->msgs[i];
	u->n = keep;
	u->holes = 0;
}

static void remove_at(struct uidlist *u, struct uid_msg *m)
{
	if (!m->name)
		return;
	name_drop(u, m->name);
	m->name = NULL;
	u->holes++;
	u->modseq++;	/* an expunge is a change (CONDSTORE) */
	rec_remove(u, m->uid);
}

/* ---- the list file ---- */

/* The last UIDVALIDITY given, kept in the lock file (which is never
 * removed), so that a list rebuilt within the same second as the one it
 * replaces still gets a new value. */
static unsigned long last_validity(const struct uidlist *u)
{
	char text[32];
	ssize_t r = u->lock_fd >= 0 ? pread(u->lock_fd, text, sizeof text, 0) : -1;
	unsigned long long v;
	if (r < 3 || text[0] != 'V' || !memchr(text, '\n', (size_t)r) ||
	    mem_to_u64(text + 1, (size_t)((char *)memchr(text, '\n', (size_t)r) - text - 1), &v) < 0 ||
	    v > 0xffffffffULL)
		return 0;
	return (unsigned long)v;
}

static void remember_validity(const struct uidlist *u)
{
	char text[32];
	int n = snprintf(text, sizeof text, "V%lu\n", u->uidvalidity);
	if (u->lock_fd >= 0 && n > 0 && last_validity(u) != u->uidvalidity)
		if (pwrite(u->lock_fd, text, (size_t)n, 0) == n)
			(void)ftruncate(u->lock_fd, n);
}

static void start_fresh(struct uidlist *u)
{
	clear_msgs(u);
	unsigned long v = (unsigned long)time(NULL), last = last_validity(u);
	if (last > u->uidvalidity)
		u->uidvalidity = last;
	/* a list rebuilt within the same second must still get a new value */
	u->uidvalidity = v > u->uidvalidity ? v : u->uidvalidity + 1;
	u->next_uid = 1;
	u->stamp_new = u->stamp_cur = 0;
	u->modseq = 1;
	u->recent_uid = 0;
	u->need_fold = 1;
	u->log_ok = 0;
	changed(u);
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
			u->msgs[i].mtime = st.st_mtim.tv_sec > 0 ? (long long)st.st_mtim.tv_sec : 0;
	}
	buf_free(&p);
	u->need_fold = 1;
	changed(u);
}

/* Reads bytes [off, size) of the open file fd into text; st: identity. */
static int read_from(int fd, struct stat *st, size_t off, struct buf *text)
{
	if (fstat(fd, st) < 0)
		return -1;
	if (st->st_size < 0 || (unsigned long long)st->st_size > LIST_MAX) {
		errno = EFBIG;
		return -1;
	}
	size_t size = (size_t)st->st_size;
	buf_reset(text);
	if (size <= off)
		return 0;
	buf_reserve(text, size_add(size - off, 1));
	ssize_t r = pread(fd, text->s, size - off, (off_t)off);
	if (r < 0)
		return -1;
	text->len = (size_t)r;
	return 0;
}

/* Reads the list file; a missing or malformed one starts a new list (with
 * a new UIDVALIDITY, as IMAP requires when UIDs are given again). */
static int load_list(struct uidlist *u)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	struct stat st;
	file_in(&p, u, UIDLIST_FILE, NULL);
	if (u->loaded && stat(p.s, &st) == 0 && same_file(u, &st)) {
		buf_free(&p);
		return 0;	/* what is in memory is the file (and its log so far) */
	}
	u->loaded = 0;
	u->log_ino = 0;
	u->log_off = 0;
	u->log_ok = 0;
	u->holes = 0;
	u->mem_gen++;
	u->mod_gen++;
	int fd = open(p.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int r = fd < 0 ? -1 : read_from(fd, &st, 0, &text);
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

/* ---- the change log ---- */

static int log_header(const char *s, size_t n, unsigned long long *gen)
{
	static const char magic[] = "posthorn-uidlist-log G";
	size_t ml = sizeof magic - 1;
	return n > ml && !memcmp(s, magic, ml) && mem_to_u64(s + ml, n - ml, gen) == 0 ? 0 : -1;
}

static int log_add(struct uidlist *u, const char *s, const char *end)
{
	/* the batch's H line comes after its additions: the bounds of the
	 * list file's lines do not hold yet */
	unsigned long next = u->next_uid;
	unsigned long long modseq = u->modseq;
	u->next_uid = 0xffffffffUL;
	u->modseq = 0x7fffffffffffffffULL;
	int r = parse_msg(u, s, end, 2);
	u->next_uid = next;
	u->modseq = modseq;
	if (r < 0)
		return -1;
	const struct uid_msg *m = &u->msgs[u->n - 1];
	if (m->uid >= u->next_uid)
		u->next_uid = m->uid + 1;
	if (m->modseq > u->modseq)
		u->modseq = m->modseq;
	return 0;
}

static int log_rename(struct uidlist *u, const char *s, const char *end)
{
	unsigned long long uid, modseq;
	const char *sub;
	size_t sublen;
	if (num_field(&s, end, 0, &uid) < 0 || field(&s, end, &sub, &sublen) < 0 ||
	    num_field(&s, end, 0, &modseq) < 0 || sublen != 1 || (sub[0] != 'n' && sub[0] != 'c') ||
	    !name_ok(s, (size_t)(end - s)) || modseq == 0 || modseq > 0x7fffffffffffffffULL)
		return -1;
	struct uid_msg *m = uidlist_find(u, (unsigned long)uid);
	if (m) {
		u->mod_gen++;
		name_drop(u, m->name);
		m->name = name_new(u, s, (size_t)(end - s));
		m->sub = sub[0];
		m->modseq = modseq;
	}
	if (modseq > u->modseq)
		u->modseq = modseq;
	return 0;
}

static int log_remove(struct uidlist *u, const char *s, const char *end)
{
	unsigned long long uid;
	if (num_field(&s, end, 0, &uid) < 0 || s != end)
		return -1;
	struct uid_msg *m = uidlist_find(u, (unsigned long)uid);
	if (m) {
		u->mod_gen++;
		name_drop(u, m->name);
		m->name = NULL;
		u->holes++;
	}
	return 0;
}

static int log_head(struct uidlist *u, const char *s, const char *end)
{
	unsigned long long nx, ms, r, sn, sc;
	if (num_field(&s, end, 0, &nx) < 0 || num_field(&s, end, 0, &ms) < 0 ||
	    num_field(&s, end, 0, &r) < 0 || num_field(&s, end, 0, &sn) < 0 ||
	    num_field(&s, end, 0, &sc) < 0 || s != end || nx == 0 || nx > 0xffffffffULL ||
	    r >= nx || ms > 0x7fffffffffffffffULL || sn > 0x7fffffffffffffffULL ||
	    sc > 0x7fffffffffffffffULL)
		return -1;
	/* a writer knew every line before its H: nothing may go backwards */
	if ((u->n && nx <= u->msgs[u->n - 1].uid) || ms < u->modseq || ms == 0)
		return -1;
	u->next_uid = (unsigned long)nx;
	u->modseq = ms;
	u->recent_uid = (unsigned long)r;
	u->stamp_new = (long long)sn;
	u->stamp_cur = (long long)sc;
	return 0;
}

static int log_line(struct uidlist *u, const char *s, const char *end)
{
	if (end - s < 2 || s[1] != ' ')
		return -1;
	switch (s[0]) {
	case '+': return log_add(u, s + 2, end);
	case '=': return log_rename(u, s + 2, end);
	case '-': return log_remove(u, s + 2, end);
	case 'H': return log_head(u, s + 2, end);
	}
	return -1;
}

/* Applies the whole lines of text (read from offset base of the log). */
static void log_apply(struct uidlist *u, const char *text, size_t len, size_t base)
{
	size_t off = 0;
	while (off < len) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);
		if (!nl)
			break;	/* torn: cut off by the next writer */
		if (base + off == 0) {
			unsigned long long g;
			if (log_header(s, (size_t)(nl - s), &g) < 0 || g != u->gen)
				return;	/* stale: of another list */
			u->log_ok = 1;
		} else if (!u->log_ok || log_line(u, s, nl) < 0) {
			u->need_fold = 1;	/* damaged: what follows is not trusted */
			break;
		}
		off = (size_t)(nl - text) + 1;
		u->log_off = base + off;
	}
	compact(u);
}

void uidlist_apply_log(struct uidlist *u, const char *text, size_t len)
{
	u->log_off = 0;
	u->log_ok = 0;
	log_apply(u, text, len, 0);
}

/* Reads what was appended to the log since the last read.  A new log file
 * under the same list means a fold in between: everything is read again. */
static int load_log(struct uidlist *u)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	int fd = open(file_in(&p, u, UIDLIST_LOG, NULL), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	buf_free(&p);
	if (fd < 0) {
		u->log_ok = 0;
		return errno == ENOENT ? 0 : -1;
	}
	struct stat st;
	int r = fstat(fd, &st);
	if (r == 0 && u->log_ino && u->log_ino != (unsigned long long)st.st_ino) {
		r = 1;	/* replaced: start over */
	} else if (r == 0 && (size_t)st.st_size > u->log_off) {
		/* only what was appended since the last read */
		size_t before = u->log_off;
		r = read_from(fd, &st, before, &text);
		u->log_ino = (unsigned long long)st.st_ino;
		if (r == 0) {
			log_apply(u, text.s, text.len, before);
			if (u->log_off != before)
				u->mem_gen++;
		}
	} else if (r == 0) {
		u->log_ino = (unsigned long long)st.st_ino;
	}
	close(fd);
	buf_free(&text);
	return r;
}

static int load(struct uidlist *u)
{
	for (int tries = 0; tries < 3; tries++) {
		if (load_list(u) < 0)
			return -1;
		int r = load_log(u);
		if (r <= 0)
			return r;
		u->loaded = 0;
	}
	errno = EAGAIN;
	return -1;
}

/* Writes path atomically: tmp, fsync, rename.  st gets the new file's
 * identity. */
static int write_file(struct uidlist *u, const char *name, const struct buf *text, struct stat *st)
{
	struct buf tmp = BUF_INIT, path = BUF_INIT;
	int r = -1;
	file_in(&path, u, name, NULL);
	buf_printf(&tmp, "%s.tmp", path.s);
	int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		r = write_all(fd, text->s, text->len) == 0 && fsync(fd) == 0 && fstat(fd, st) == 0 ? 0 : -1;
		int e = errno;
		if (close(fd) < 0 && r == 0)
			r = -1;
		else
			errno = e;
		if (r == 0 && rename(tmp.s, path.s) < 0)
			r = -1;
		if (r < 0) {
			e = errno;
			unlink(tmp.s);
			errno = e;
		}
	}
	int e = errno;
	buf_free(&tmp);
	buf_free(&path);
	errno = e;
	return r;
}

/* A whole new list of the next generation, then its empty log. */
static int fold(struct uidlist *u)
{
	struct buf text = BUF_INIT;
	struct stat st;
	compact(u);
	u->gen++;
	u->loaded = 0;
	uidlist_format(u, &text);
	int r = write_file(u, UIDLIST_FILE, &text, &st);
	if (r == 0) {
		remember_file(u, &st);
		remember_validity(u);
		u->version = 2;
		buf_reset(&text);
		buf_printf(&text, "posthorn-uidlist-log G%llu\n", u->gen);
		r = write_file(u, UIDLIST_LOG, &text, &st);
		u->log_ok = r == 0;
		u->log_ino = r == 0 ? (unsigned long long)st.st_ino : 0;
		u->log_off = r == 0 ? text.len : 0;
	}
	if (r == 0)
		r = fsync_dir(u->dir);
	buf_free(&text);
	if (r == 0)
		u->need_fold = 0;
	return r;
}

/* The batch of this update at the end of the log (cutting a torn tail). */
static int append_log(struct uidlist *u, int durable)
{
	struct buf p = BUF_INIT;
	int fd = open(file_in(&p, u, UIDLIST_LOG, NULL), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	buf_free(&p);
	if (fd < 0)
		return -1;
	struct stat st;
	int r = fstat(fd, &st);
	if (r == 0 && (unsigned long long)st.st_ino != u->log_ino) {
		errno = ESTALE;
		r = -1;
	}
	if (r == 0 && (size_t)st.st_size != u->log_off)
		r = ftruncate(fd, (off_t)u->log_off);
	if (r == 0)
		r = write_all(fd, u->pending.s, u->pending.len);
	if (r == 0 && durable)
		r = fdatasync(fd);
	int e = errno;
	close(fd);
	if (r == 0)
		u->log_off += u->pending.len;
	errno = e;
	return r;
}

static int log_too_big(const struct uidlist *u)
{
	size_t limit = (size_t)(u->file_size / 4);
	if (limit < 256 * 1024)
		limit = 256 * 1024;
	return size_add(u->log_off, u->pending.len) > limit;
}

/* Under the lock: writes what changed since the lock was taken. */
static int save(struct uidlist *u)
{
	int r = 0;
	if (u->changed) {
		compact(u);
		/* a batch of only an H line records stamps or the \Recent mark:
		 * hints, worth no wait for the disk (lost in a crash, they are
		 * found again by a scan or a claim) */
		int durable = u->pending.len > 0;
		buf_printf(&u->pending, "H %lu %llu %lu %lld %lld\n", u->next_uid, u->modseq,
			   u->recent_uid, u->stamp_new, u->stamp_cur);
		if (u->need_fold || !u->log_ok || !u->loaded || log_too_big(u) || append_log(u, durable) < 0)
			r = fold(u);
		if (r < 0)
			u->loaded = 0;	/* read again next time */
	}
	buf_reset(&u->pending);
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

/* What add_new reads new messages with: new/ and cur/ opened once (a
 * first scan of a big folder opens every message; a path walk from the
 * root for each cost a third of it) and one read buffer. */
struct measurer {
	int dirfd[2];		/* new/, cur/ */
	char *chunk;
};

static int measurer_open(struct measurer *ms, const struct uidlist *u)
{
	static const char *const subs[2] = {"new", "cur"};
	struct buf p = BUF_INIT;
	ms->chunk = NULL;
	ms->dirfd[0] = ms->dirfd[1] = -1;
	for (int i = 0; i < 2; i++) {
		buf_reset(&p);
		ms->dirfd[i] = open(file_in(&p, u, subs[i], NULL), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ms->dirfd[i] < 0 && errno != ENOENT) {
			int e = errno;
			buf_free(&p);
			if (i)
				close(ms->dirfd[0]);
			errno = e;
			return -1;
		}
	}
	buf_free(&p);
	ms->chunk = xmalloc(READ_CHUNK);
	return 0;
}

static void measurer_close(struct measurer *ms)
{
	for (int i = 0; i < 2; i++)
		if (ms->dirfd[i] >= 0)
			close(ms->dirfd[i]);
	free(ms->chunk);
}

/* Reads a new message once: its CRLF size and its file size.  1 ok, 0
 * gone meanwhile (moved or removed: the next scan finds it), -1 error. */
static int measure(const struct measurer *ms, const struct entry *e, unsigned long long *size,
		   unsigned long long *fsize, long long *mtime)
{
	int dfd = ms->dirfd[e->sub == 'n' ? 0 : 1];
	if (dfd < 0)
		return 0;	/* the directory itself is gone */
	/* O_NOATIME: reading every new message must not also write its
	 * inode (relatime updates the first read after a write); only the
	 * file's owner may ask, so another reader falls back */
	int fd = openat(dfd, e->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, e->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	unsigned long long want = ~0ULL;
	*mtime = 0;
	if (fstat(fd, &st) == 0) {
		/* a date before 1970 is kept as 0: the list has no signs */
		*mtime = st.st_mtim.tv_sec > 0 ? (long long)st.st_mtim.tv_sec : 0;
		want = (unsigned long long)st.st_size;
	}
	char *chunk = ms->chunk;
	int cr = 0;
	char last = 0;
	ssize_t r = 0;
	*size = *fsize = 0;
	/* up to the size fstat gave (a message file is complete once it is
	 * in new/ or cur/): no extra read just to see the end */
	while (*fsize < want && (r = read(fd, chunk, READ_CHUNK)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		*fsize += (unsigned long long)r;
		*size += uidlist_crlf_count(chunk, (size_t)r, &cr);
		last = chunk[r - 1];
		r = 0;
	}
	/* a last line without its line end is presented completed */
	if (r == 0 && *fsize > 0 && last != '\n')
		*size += last == '\r' ? 1 : 2;
	int e2 = errno;
	close(fd);
	errno = e2;
	return r < 0 ? -1 : 1;
}

/* Index of the listed message with e's base name, or -1.  sorted: the
 * message indexes ordered by base name. */
/* Listed messages by base name: an open-addressing table of index + 1. */
struct base_index {
	size_t *slot;
	size_t mask;
};

static size_t base_hash(const char *s, size_t n)
{
	size_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static size_t msg_base(const struct uid_msg *m)
{
	return maildir_name_base(m->name, strlen(m->name));
}

static void base_index_build(struct base_index *x, const struct uidlist *u)
{
	size_t size = 64;
	while (size < size_mul(u->n, 2))
		size = size_mul(size, 2);
	x->slot = xcalloc(size, sizeof *x->slot);
	x->mask = size - 1;
	for (size_t i = 0; i < u->n; i++) {
		const struct uid_msg *m = &u->msgs[i];
		if (!m->name)
			continue;
		size_t h = base_hash(m->name, msg_base(m)) & x->mask;
		while (x->slot[h])
			h = (h + 1) & x->mask;
		x->slot[h] = i + 1;
	}
}

/* Index of the listed message with e's base name, or -1. */
static long base_index_find(const struct base_index *x, const struct uidlist *u, const struct entry *e)
{
	for (size_t h = base_hash(e->name, e->blen) & x->mask; x->slot[h]; h = (h + 1) & x->mask) {
		const struct uid_msg *m = &u->msgs[x->slot[h] - 1];
		if (msg_base(m) == e->blen && !memcmp(m->name, e->name, e->blen))
			return (long)(x->slot[h] - 1);
	}
	return -1;
}

/* Matches directory entries with listed messages: a listed message seen
 * gets its current name; entries not listed are kept in es (others freed
 * and removed from es).  seen[i] marks listed messages still present. */
static void match(struct uidlist *u, struct entries *es, char *seen)
{
	struct base_index x;
	base_index_build(&x, u);
	size_t keep = 0;
	for (size_t i = 0; i < es->n; i++) {
		struct entry *e = &es->e[i];
		long k = base_index_find(&x, u, e);
		if (k < 0) {
			es->e[keep++] = *e;
			continue;
		}
		struct uid_msg *m = &u->msgs[k];
		if (m->sub != e->sub || strcmp(m->name, e->name)) {
			name_drop(u, m->name);
			m->name = name_new(u, e->name, strlen(e->name));
			m->sub = e->sub;
			m->modseq = ++u->modseq;
			rec_rename(u, m);
		}
		free(e->name);
		seen[k] = 1;
	}
	es->n = keep;
	free(x.slot);
}

static void drop_unseen(struct uidlist *u, const char *seen)
{
	for (size_t i = 0; i < u->n; i++)
		if (!seen[i])
			remove_at(u, &u->msgs[i]);
}

static int name_order(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* New messages get UIDs in name order (delivery time first). */
static int add_new(struct uidlist *u, struct entries *es)
{
	if (!es->n)
		return 0;
	qsort(es->e, es->n, sizeof *es->e, name_order);
	struct measurer ms;
	if (measurer_open(&ms, u) < 0)
		return -1;
	for (size_t i = 0; i < es->n; i++) {
		unsigned long long size, fsize;
		long long mtime;
		int r = measure(&ms, &es->e[i], &size, &fsize, &mtime);
		if (r < 0) {
			measurer_close(&ms);
			return -1;
		}
		if (r == 0 || u->next_uid >= 0xffffffffUL)
			continue;
		struct uid_msg *m = push_msg(u);
		m->uid = u->next_uid++;
		m->size = size;
		m->fsize = fsize;
		m->modseq = ++u->modseq;
		m->mtime = mtime;
		m->sub = es->e[i].sub;
		m->name = name_new(u, es->e[i].name, strlen(es->e[i].name));
		rec_add(u, m);
	}
	measurer_close(&ms);
	return 0;
}

/* Reads new/ and then cur/ (in that order: a message moved from new/ to
 * cur/ meanwhile is in one of them) and matches them with the list.  A
 * directory whose stamp did not change is not read (its listed messages
 * count as seen): moving a message out of new/ changes both. */
static int read_and_match(struct uidlist *u, struct entries *es, char *seen, int do_new, int do_cur)
{
	if ((do_new && read_sub(u, "new", es) < 0) || (do_cur && read_sub(u, "cur", es) < 0))
		return -1;
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

static int scan(struct uidlist *u, int do_new, int do_cur)
{
	struct entries es = {NULL, 0, 0}, again = {NULL, 0, 0};
	char *seen = xcalloc(u->n ? u->n : 1, 1);
	for (size_t i = 0; i < u->n; i++)
		seen[i] = u->msgs[i].sub == 'n' ? !do_new : !do_cur;
	int r = read_and_match(u, &es, seen, do_new, do_cur);
	/* readdir may miss an entry renamed while it runs (a flag change in
	 * cur/): a listed message not seen is looked for once more before it
	 * loses its UID */
	if (r == 0 && any_unseen(u, seen))
		r = read_and_match(u, &again, seen, do_new, do_cur);
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

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The mtime of dir/sub as a stamp; 0 while a later change could still get
 * the same mtime.  A file system with nanosecond times stamps with the
 * kernel's coarse clock (a tick of at most 10 ms): 100 ms later, any change
 * gets a later time.  One with whole seconds (nanoseconds 0) needs two
 * seconds. */
static int dir_stamp(const struct uidlist *u, const char *sub, long long *stamp, long long *raw)
{
	struct buf p = BUF_INIT;
	struct stat st;
	int r = stat(file_in(&p, u, sub, NULL), &st);
	buf_free(&p);
	if (r < 0)
		return -1;
	long long mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	long long settle = st.st_mtim.tv_nsec ? STAMP_SETTLE_NS : STAMP_SETTLE_SECS * 1000000000LL;
	*stamp = now_ns() - mt < settle ? 0 : mt;
	*raw = mt;
	return 0;
}

/* \Recent: the caller's session is the first to see what is above the
 * mark. */
static void claim(struct uidlist *u)
{
	u->claim_lo = u->claim_hi = u->recent_uid;
	if (u->claim_recent && u->next_uid - 1 > u->recent_uid) {
		u->claim_hi = u->recent_uid = u->next_uid - 1;
		changed(u);
	}
}

/* Under the lock: load, and scan when the directories changed. */
static int refresh(struct uidlist *u)
{
	long long sn, sc, rn, rc;
	u->changed = 0;
	u->cur_clean = 0;
	buf_reset(&u->pending);
	if (load(u) < 0 || dir_stamp(u, "new", &sn, &rn) < 0 || dir_stamp(u, "cur", &sc, &rc) < 0) {
		u->loaded = 0;
		return -1;
	}
	/* a stamp recorded is trusted (an unsettled one only comes from
	 * uidlist_touched_cur, after our own change) */
	int do_new = !(u->stamp_new && rn == u->stamp_new);
	int do_cur = !(u->stamp_cur && rc == u->stamp_cur);
	if (!do_new)
		sn = u->stamp_new;
	if (!do_cur)
		sc = u->stamp_cur;
	if (do_new || do_cur) {
		/* stamps taken before the scan: a change during it shows next time */
		if (scan(u, do_new, do_cur) < 0) {
			u->loaded = 0;
			return -1;
		}
		if (sn != u->stamp_new || sc != u->stamp_cur)
			changed(u);
		u->stamp_new = sn;
		u->stamp_cur = sc;
	}
	u->cur_clean = !do_cur;
	claim(u);
	compact(u);
	names_repack(u);
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

void uidlist_remove(struct uidlist *u, struct uid_msg *m)
{
	remove_at(u, m);
}

void uidlist_rename(struct uidlist *u, struct uid_msg *m, char sub, const char *name)
{
	name_drop(u, m->name);
	m->name = name_new(u, name, strlen(name));
	m->sub = sub;
	m->modseq = ++u->modseq;
	rec_rename(u, m);
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
	m->mtime = mtime > 0 ? mtime : 0;
	m->sub = sub;
	m->name = name_new(u, name, strlen(name));
	rec_add(u, m);
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
	changed(u);
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
