/* mbox.c: one session's view of its selected folder (mbox.h): opening,
 * the view by sequence number, mbox_sync comparing the view with the
 * folder's index (uidlist) and reporting the differences in IMAP's
 * order, flag changes (renames) and expunges.  Used by imapd's session
 * and command files. */
#include "mboxpriv.h"
#include "fsutil.h"
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- flags in file names ---- */

static const struct {
	char letter;
	unsigned flag;
} flag_letters[] = {
	{'D', MF_DRAFT}, {'F', MF_FLAGGED}, {'R', MF_ANSWERED}, {'S', MF_SEEN}, {'T', MF_DELETED},
};
#define NFLAG_LETTERS (sizeof flag_letters / sizeof flag_letters[0])

void name_flags(const char *name, unsigned *flags, uint32_t *kw)
{
	size_t flen;
	const char *f = maildir_name_flags(name, strlen(name), &flen);
	*flags = 0;
	*kw = 0;
	for (size_t i = 0; f && i < flen; i++) {
		char c = f[i];
		if (c >= 'a' && c <= 'z') {
			*kw |= (uint32_t)1 << (c - 'a');
			continue;
		}
		for (size_t k = 0; k < NFLAG_LETTERS; k++)
			if (flag_letters[k].letter == c)
				*flags |= flag_letters[k].flag;
	}
}

static int known_letter(char c)
{
	for (size_t k = 0; k < NFLAG_LETTERS; k++)
		if (flag_letters[k].letter == c)
			return 1;
	return c >= 'a' && c <= 'z';
}

void name_letters(const char *oldname, unsigned flags, uint32_t kw, struct buf *out)
{
	size_t flen;
	const char *f = maildir_name_flags(oldname, strlen(oldname), &flen);
	buf_reset(out);
	uint32_t kept = 0;	/* each unknown letter once */
	for (size_t i = 0; f && i < flen; i++)
		if (f[i] >= 'A' && f[i] <= 'Z' && !known_letter(f[i]) &&
		    !(kept & ((uint32_t)1 << (f[i] - 'A')))) {
			kept |= (uint32_t)1 << (f[i] - 'A');
			buf_putc(out, f[i]);
		}
	for (size_t k = 0; k < NFLAG_LETTERS; k++)
		if (flags & flag_letters[k].flag)
			buf_putc(out, flag_letters[k].letter);
	for (int i = 0; i < MBOX_KEYWORDS_MAX; i++)
		if (kw & ((uint32_t)1 << i))
			buf_putc(out, (char)('a' + i));
	buf_cstr(out);
}

/* ---- the view ---- */

static void view_push(struct mbox *m, const struct uid_msg *u, unsigned recent)
{
	if (m->n == m->cap) {
		m->cap = size_add(m->cap, m->cap / 4 + 256);
		m->v = xrealloc(m->v, size_mul(m->cap, sizeof *m->v));
		m->chg = xrealloc(m->chg, m->cap);
	}
	struct mbox_msg *v = &m->v[m->n];
	memset(v, 0, sizeof *v);
	v->uid = u->uid;
	name_flags(u->name, &v->flags, &v->keywords);
	v->flags |= recent;
	v->size = u->size;
	v->internaldate = u->mtime;
	v->modseq = u->modseq;
	m->chg[m->n] = 0;
	m->n++;
	if (recent)
		m->nrecent++;
}

static void push_ul(unsigned long **a, size_t *n, unsigned long v)
{
	*a = xrealloc(*a, size_mul(size_add(*n, 1), sizeof **a));
	(*a)[(*n)++] = v;
}

static void push_expunged(struct mbox_update *up, unsigned long seq, unsigned long uid)
{
	size_t n = size_add(up->nexpunged, 1);
	up->expunged = xrealloc(up->expunged, size_mul(n, sizeof *up->expunged));
	up->expunged_uids = xrealloc(up->expunged_uids, size_mul(n, sizeof *up->expunged_uids));
	up->expunged[n - 1] = seq;
	up->expunged_uids[n - 1] = uid;
	up->nexpunged = n;
}

/* Is the index in memory the one the view was last compared with? */
static int index_seen(const struct mbox *m)
{
	return m->seen_gen && m->seen_gen == m->ul.mem_gen;
}

static void mark_seen(struct mbox *m)
{
	m->seen_gen = m->ul.mem_gen;
	m->seen_mod = m->ul.mod_gen;
}

/* HIGHESTMODSEQ may only cover what the session has been told: never an
 * unreported change (RFC 7162 3.1.2.1), so it moves after a sync that
 * reported everything, or a change of the session's own. */
static void advance_hms(struct mbox *m)
{
	if (!m->expunge_pending && m->ul.modseq > m->hms)
		m->hms = m->ul.modseq;
}

/* The folder's index was rebuilt with a new UIDVALIDITY (removed or
 * damaged): the view's UIDs mean other messages now, so nothing more is
 * done with it (errno ESTALE; the session ends, RFC 3501 2.3.1.1). */
int mbox_stale(const struct mbox *m)
{
	if (m->uidvalidity && m->ul.uidvalidity != m->uidvalidity) {
		errno = ESTALE;
		return 1;
	}
	return 0;
}

/* Takes the index lock for a change the view makes itself; *own is set
 * when the view matched the index and nobody else changed it meanwhile,
 * so that afterwards the view still matches without a comparison. */
static int begin_own(struct mbox *m, int *own)
{
	int seen = index_seen(m);
	if (uidlist_begin(&m->ul) < 0)
		return -1;
	if (mbox_stale(m)) {
		uidlist_end(&m->ul);
		errno = ESTALE;
		return -1;
	}
	*own = seen && index_seen(m);
	return 0;
}

static int end_own(struct mbox *m, int own)
{
	int r = uidlist_end(&m->ul);
	if (r == 0 && own) {
		mark_seen(m);
		advance_hms(m);
	}
	return r;
}

/* One view message against its index entry (NULL: gone).  Returns 1 to
 * keep it. */
static int compare_one(struct mbox *m, size_t i, const struct uid_msg *u, int allow_expunge)
{
	struct mbox_msg *v = &m->v[i];
	if (!u) {
		if (allow_expunge)
			return 0;
		v->expunged = 1;
		m->expunge_pending = 1;
		return 1;
	}
	unsigned flags;
	uint32_t kw;
	name_flags(u->name, &flags, &kw);
	flags |= v->flags & MF_RECENT;
	if (flags != v->flags || kw != v->keywords || u->modseq != v->modseq) {
		v->flags = flags;
		v->keywords = kw;
		v->modseq = u->modseq;
		m->chg[i] = 1;
	}
	return 1;
}

/* Walks the view and the index side by side (both ascending by uid). */
static void compare(struct mbox *m, int allow_expunge, struct mbox_update *up)
{
	const struct uidlist *ul = &m->ul;
	size_t j = 0, w = 0;
	for (size_t i = 0; i < m->n; i++) {
		unsigned long uid = m->v[i].uid;
		while (j < ul->n && ul->msgs[j].uid < uid)
			j++;
		const struct uid_msg *u = j < ul->n && ul->msgs[j].uid == uid ? &ul->msgs[j] : NULL;
		if (!compare_one(m, i, u, allow_expunge)) {
			/* reported now: its number is w + 1 once the earlier ones are gone */
			push_expunged(up, w + 1, uid);
			if (m->v[i].flags & MF_RECENT)
				m->nrecent--;
			continue;
		}
		m->v[w] = m->v[i];
		m->chg[w] = m->chg[i];
		w++;
	}
	m->n = w;
}

/* Index entries above the view's last uid join the view. */
static void add_new(struct mbox *m)
{
	unsigned long last = m->n ? m->v[m->n - 1].uid : 0;
	const struct uidlist *ul = &m->ul;
	if (m->n == 0 && ul->n > m->cap) {
		/* the first fill (SELECT): exactly as many as the index has */
		m->cap = ul->n;
		m->v = xrealloc(m->v, size_mul(m->cap, sizeof *m->v));
		m->chg = xrealloc(m->chg, m->cap);
	}
	size_t lo = 0, hi = ul->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ul->msgs[mid].uid <= last)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t j = lo; j < ul->n; j++) {
		const struct uid_msg *u = &ul->msgs[j];
		/* EXAMINE shows what nobody has claimed yet, without claiming it */
		int is_recent = m->readonly ? u->uid > ul->recent_uid
					    : u->uid > ul->claim_lo && u->uid <= ul->claim_hi;
		unsigned recent = is_recent ? MF_RECENT : 0;
		view_push(m, u, recent);
		m->exists_pending = 1;
	}
}

static void report_changed(struct mbox *m, struct mbox_update *up)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->chg[i]) {
			m->chg[i] = 0;
			push_ul(&up->changed, &up->nchanged, i + 1);
		}
}

/* Reads the index (and keywords) and brings the view up to date. */
static int refresh_view(struct mbox *m, int allow_expunge, struct mbox_update *up)
{
	cache_stale(m->cache);
	m->ul.claim_recent = !m->readonly;
	int r = uidlist_sync(&m->ul);
	m->ul.claim_recent = 0;
	if (r < 0 || mbox_stale(m))
		return -1;
	kw_load(m->dir, &m->kw);
	int pending = allow_expunge && m->expunge_pending;
	if (index_seen(m) && !pending)
		return 0;
	/* only messages added at the end (deliveries, APPENDs): no need to
	 * look at every message already in the view */
	int adds_only = m->seen_gen && m->seen_mod == m->ul.mod_gen && !pending;
	if (allow_expunge)
		m->expunge_pending = 0;
	if (!adds_only)
		compare(m, allow_expunge, up);
	add_new(m);
	mark_seen(m);
	return 0;
}

int mbox_sync(struct mbox *m, int allow_expunge, struct mbox_update *up)
{
	struct mbox_update scratch;
	memset(&scratch, 0, sizeof scratch);
	if (!up) {
		up = &scratch;
		allow_expunge = 0;	/* an expunge must be reported to be done */
	} else {
		memset(up, 0, sizeof *up);
	}
	int r = refresh_view(m, allow_expunge, up);
	if (up != &scratch) {
		report_changed(m, up);
		if (r == 0)
			advance_hms(m);
		up->exists_changed = m->exists_pending;
		m->exists_pending = 0;
		up->keywords_changed = m->kw.n != m->kw_reported;
		m->kw_reported = m->kw.n;
	}
	mbox_update_free(&scratch);
	return r;
}

void mbox_update_free(struct mbox_update *up)
{
	if (!up)
		return;
	free(up->expunged);
	free(up->expunged_uids);
	free(up->changed);
	memset(up, 0, sizeof *up);
}

/* ---- open, close, questions ---- */

static struct mbox *open_mboxes;

struct uidlist *mbox_open_list(const char *dir)
{
	for (struct mbox *m = open_mboxes; m; m = m->next_open)
		if (!strcmp(m->dir, dir))
			return &m->ul;
	return NULL;
}

int mbox_open(const char *root, const char *name, int readonly, struct mbox **out)
{
	struct buf dir = BUF_INIT;
	*out = NULL;
	if (folder_dir(root, name, &dir) < 0) {
		buf_free(&dir);
		return -1;
	}
	if (!folder_exists(buf_cstr(&dir))) {
		buf_free(&dir);
		errno = ENOENT;
		return -1;
	}
	struct mbox *m = xcalloc(1, sizeof *m);
	m->root = xstrdup(root);
	m->dir = xmemdup(buf_cstr(&dir), dir.len);
	buf_free(&dir);
	m->readonly = readonly;
	m->watch_fd = -1;
	uidlist_init(&m->ul, m->dir);
	struct mbox_update up;
	memset(&up, 0, sizeof up);
	if (refresh_view(m, 1, &up) < 0) {
		int e = errno;
		mbox_update_free(&up);
		mbox_close(m);
		errno = e;
		return -1;
	}
	mbox_update_free(&up);
	if (m->n)
		memset(m->chg, 0, m->n);
	m->exists_pending = 0;
	m->kw_reported = m->kw.n;
	m->uidvalidity = m->ul.uidvalidity;
	m->hms = m->ul.modseq;
	m->next_open = open_mboxes;
	open_mboxes = m;
	*out = m;
	return 0;
}

void mbox_close(struct mbox *m)
{
	if (!m)
		return;
	for (struct mbox **pp = &open_mboxes; *pp; pp = &(*pp)->next_open)
		if (*pp == m) {
			*pp = m->next_open;
			break;
		}
	watch_close(m);
	cache_close(m->cache);
	uidlist_free(&m->ul);
	free(m->v);
	free(m->chg);
	free(m->root);
	free(m->dir);
	free(m);
}

size_t mbox_count(const struct mbox *m) { return m->n; }
size_t mbox_recent(const struct mbox *m) { return m->nrecent; }
unsigned long mbox_uidvalidity(const struct mbox *m) { return m->uidvalidity; }
int mbox_readonly(const struct mbox *m) { return m->readonly; }
unsigned long long mbox_highestmodseq(const struct mbox *m) { return m->hms; }


unsigned long mbox_uidnext(const struct mbox *m)
{
	unsigned long next = m->ul.next_uid;
	/* never below what the session has been shown */
	if (m->n && m->v[m->n - 1].uid >= next)
		next = m->v[m->n - 1].uid + 1;
	return next;
}

const struct mbox_msg *mbox_msg(const struct mbox *m, size_t seq)
{
	return seq >= 1 && seq <= m->n ? &m->v[seq - 1] : NULL;
}

size_t mbox_seq_at_or_after(const struct mbox *m, unsigned long uid)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo + 1;
}

size_t mbox_seq_of_uid(const struct mbox *m, unsigned long uid)
{
	size_t s = mbox_seq_at_or_after(m, uid);
	return s <= m->n && m->v[s - 1].uid == uid ? s : 0;
}

size_t mbox_first_unseen(const struct mbox *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (!(m->v[i].flags & MF_SEEN))
			return i + 1;
	return 0;
}

/* ---- keywords ---- */

size_t mbox_keyword_count(const struct mbox *m) { return m->kw.n; }

const char *mbox_keyword_name(const struct mbox *m, size_t i)
{
	return i < m->kw.n ? m->kw.names[i] : NULL;
}

int mbox_keyword_find(struct mbox *m, const char *name, size_t n, int create)
{
	int k = kw_index(&m->kw, name, n);
	if (k >= 0 || !create)
		return k;
	if (m->readonly || !kw_name_ok(name, n)) {
		errno = m->readonly ? EACCES : EINVAL;
		return -1;
	}
	if (uidlist_begin(&m->ul) < 0)
		return -1;
	if (mbox_stale(m)) {
		uidlist_end(&m->ul);
		errno = ESTALE;
		return -1;
	}
	k = kw_add(m->dir, &m->kw, name, n);
	int e = errno;
	if (uidlist_end(&m->ul) < 0 && k >= 0)
		k = -1;
	else
		errno = e;
	return k;
}

/* ---- content ---- */

static int open_msg(struct mbox *m, unsigned long uid)
{
	struct uid_msg *u = uidlist_find(&m->ul, uid);
	if (!u) {
		errno = ENOENT;
		return -1;
	}
	struct buf p = BUF_INIT;
	uidlist_path(&m->ul, u, &p);
	int fd = open(buf_cstr(&p), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int e = errno;
	buf_free(&p);
	errno = e;
	return fd;
}

int mbox_map(struct mbox *m, size_t seq, const char **data, size_t *len)
{
	const struct mbox_msg *v = mbox_msg(m, seq);
	*data = NULL;
	*len = 0;
	if (!v || v->expunged) {
		errno = ENOENT;
		return -1;
	}
	if (mbox_stale(m))
		return -1;
	int fd = open_msg(m, v->uid);
	if (fd < 0 && errno == ENOENT) {
		/* renamed by another reader since the index was read */
		m->ul.stamp_cur = m->ul.stamp_new = 0;
		if (uidlist_sync(&m->ul) < 0 || mbox_stale(m))
			return -1;
		fd = open_msg(m, v->uid);
	}
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		*data = "";
		return 0;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		errno = e;
		return -1;
	}
	*data = p;
	*len = (size_t)st.st_size;
	return 0;
}

void mbox_unmap(const char *data, size_t len)
{
	if (data && len)
		munmap((void *)data, len);
}

/* ---- flags ---- */

static void apply_op(enum mbox_store_op op, unsigned *flags, uint32_t *kw, unsigned f, uint32_t k)
{
	f &= ~(unsigned)MF_RECENT;
	if (op == MBOX_STORE_SET) {
		*flags = f;
		*kw = k;
	} else if (op == MBOX_STORE_ADD) {
		*flags |= f;
		*kw |= k;
	} else {
		*flags &= ~f;
		*kw &= ~k;
	}
}

/* Renames one message's file to its new flags (under the index lock). */
static int set_one(struct mbox *m, struct uid_msg *u, unsigned flags, uint32_t kw)
{
	struct buf letters = BUF_INIT, nn = BUF_INIT;
	name_letters(u->name, flags, kw, &letters);
	int r = maildir_set_flags(m->dir, u->sub == 'n' ? "new" : "cur", u->name, buf_cstr(&letters), &nn);
	if (r == 0)
		uidlist_rename(&m->ul, u, 'c', buf_cstr(&nn));
	int e = errno;
	buf_free(&letters);
	buf_free(&nn);
	errno = e;
	return r;
}

static void push_size(size_t **a, size_t *n, size_t v)
{
	*a = xrealloc(*a, size_mul(size_add(*n, 1), sizeof **a));
	(*a)[(*n)++] = v;
}

/* One message of a STORE: 0 ok (changed or not), 1 failed the
 * UNCHANGEDSINCE test, -1 error. */
static int store_one(struct mbox *m, size_t seq, enum mbox_store_op op, unsigned f, uint32_t k,
		     unsigned long long unchangedsince)
{
	struct mbox_msg *v = &m->v[seq - 1];
	struct uid_msg *u = v->expunged ? NULL : uidlist_find(&m->ul, v->uid);
	if (!u)
		return 0;	/* expunged meanwhile: reported by a later sync */
	if (unchangedsince && u->modseq > unchangedsince)
		return 1;
	unsigned flags, nflags;
	uint32_t kw, nkw;
	name_flags(u->name, &flags, &kw);
	nflags = flags;
	nkw = kw;
	apply_op(op, &nflags, &nkw, f, k);
	if ((nflags != flags || nkw != kw) && set_one(m, u, nflags, nkw) < 0)
		return errno == ENOENT ? 0 : -1;
	v->flags = nflags | (v->flags & MF_RECENT);
	v->keywords = nkw;
	v->modseq = u->modseq;
	return 0;
}

int mbox_store(struct mbox *m, const size_t *seqs, size_t n, enum mbox_store_op op,
	       unsigned flags, uint32_t keywords, unsigned long long unchangedsince,
	       size_t **failed, size_t *nfailed)
{
	if (failed) {
		*failed = NULL;
		*nfailed = 0;
	}
	if (m->readonly) {
		errno = EACCES;
		return -1;
	}
	int own;
	if (begin_own(m, &own) < 0)
		return -1;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (seqs[i] < 1 || seqs[i] > m->n)
			continue;
		int k = store_one(m, seqs[i], op, flags, keywords, unchangedsince);
		if (k < 0)
			r = -1;
		else if (k == 1 && failed)
			push_size(failed, nfailed, seqs[i]);
	}
	int e = errno;
	if (m->ul.changed)
		uidlist_touched_cur(&m->ul);
	if (end_own(m, own && r == 0) < 0)
		return -1;
	errno = e;
	return r;
}

/* ---- expunge ---- */

static int uid_in(const unsigned long *uids, size_t n, unsigned long uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (uids[mid] == uid)
			return 1;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Unlinks the chosen messages under the lock; marks them in m->chg with 2. */
static int expunge_files(struct mbox *m, const unsigned long *uids, size_t nuids,
			 int deleted_only, long long *bytes, long long *count)
{
	struct buf p = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < m->n && r == 0; i++) {
		struct mbox_msg *v = &m->v[i];
		if (v->expunged || (uids && !uid_in(uids, nuids, v->uid)))
			continue;
		struct uid_msg *u = uidlist_find(&m->ul, v->uid);
		if (!u)
			continue;
		unsigned f;
		uint32_t kw;
		name_flags(u->name, &f, &kw);
		if (deleted_only && !(f & MF_DELETED))
			continue;
		uidlist_path(&m->ul, u, &p);
		if (unlink(buf_cstr(&p)) < 0 && errno != ENOENT) {
			r = -1;
			break;
		}
		*bytes += (long long)u->fsize;
		(*count)++;
		uidlist_remove(&m->ul, u);
		m->chg[i] |= 2;
	}
	int e = errno;
	buf_free(&p);
	errno = e;
	return r;
}

/* Drops the messages marked 2 from the view, reporting them in order. */
static void expunge_view(struct mbox *m, struct mbox_update *up)
{
	size_t w = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (m->chg[i] & 2) {
			if (up) {
				push_expunged(up, w + 1, m->v[i].uid);
			}
			if (m->v[i].flags & MF_RECENT)
				m->nrecent--;
			continue;
		}
		m->v[w] = m->v[i];
		m->chg[w] = m->chg[i];
		w++;
	}
	m->n = w;
}

int mbox_expunge(struct mbox *m, const unsigned long *uids, size_t nuids,
		 int deleted_only, struct mbox_update *up)
{
	if (m->readonly) {
		errno = EACCES;
		return -1;
	}
	int own;
	if (begin_own(m, &own) < 0)
		return -1;
	long long bytes = 0, count = 0;
	int r = expunge_files(m, uids, nuids, deleted_only, &bytes, &count);
	int e = errno;
	if (count) {
		struct buf p = BUF_INIT;
		buf_printf(&p, "%s/cur", m->dir);
		fsync_dir(buf_cstr(&p));
		buf_free(&p);
		uidlist_touched_cur(&m->ul);
	}
	/* saved even after a failure: what was unlinked is gone */
	expunge_view(m, up);
	if (end_own(m, own && r == 0) < 0 && r == 0) {
		r = -1;
		e = errno;
	}
	if (count) {
		maildir_quota_add(m->root, -bytes, -count);
		cache_compact(m);
	}
	errno = e;
	return r;
}
