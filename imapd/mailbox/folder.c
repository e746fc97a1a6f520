/* folder.c: the folders of one user's Maildir++ (mbox.h): the name check
 * that is the only way from an IMAP name to a path, CREATE, DELETE,
 * RENAME, subscriptions, the special-use folders, LIST matching and
 * STATUS from the index.  Used by imapd's folder commands.
 *
 * DELETE of a folder with children removes the folder's own Maildir; the
 * name then shows as \Noselect \HasChildren while children exist (RFC
 * 3501 6.3.4); DELETE of such a \Noselect name is refused (ENOTEMPTY). */
#include "mboxpriv.h"
#include "fsutil.h"
#include "io.h"
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- names ---- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* One UTF-16 unit of a shifted sequence: *hi carries a high surrogate. */
static int utf16_unit(unsigned u, unsigned *hi)
{
	if (*hi) {
		if (u < 0xdc00 || u > 0xdfff)
			return -1;
		*hi = 0;
		return 0;
	}
	if (u >= 0xd800 && u <= 0xdbff) {
		*hi = u;
		return 0;
	}
	if (u >= 0xdc00 && u <= 0xdfff)
		return -1;
	/* printable ASCII must not be encoded (RFC 3501 5.1.3) */
	return u >= 0x20 && u <= 0x7e ? -1 : 0;
}

/* The base64 run s[0..n) of "&...-": valid modified BASE64 of UTF-16. */
static int shifted_ok(const char *s, size_t n)
{
	unsigned bits = 0, nbits = 0, hi = 0, units = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return 0;
		bits = (bits << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (utf16_unit((bits >> nbits) & 0xffff, &hi) < 0)
				return 0;
			units++;
		}
		bits &= (1u << nbits) - 1;
	}
	/* leftover bits must be padding zeros, fewer than one character */
	return units > 0 && hi == 0 && nbits < 6 && bits == 0;
}

static int mutf7_ok(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e)
			return 0;
		if (c != '&') {
			i++;
			continue;
		}
		const char *dash = memchr(s + i + 1, '-', n - i - 1);
		if (!dash)
			return 0;
		size_t len = (size_t)(dash - (s + i + 1));
		if (len && !shifted_ok(s + i + 1, len))
			return 0;
		i += len + 2;
	}
	return 1;
}

static int levels_ok(const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t len = i - start;
		if (len == 0)
			return 0;	/* empty level: also ".", "..", leading or trailing '.' */
		start = i + 1;
	}
	return 1;
}

int folder_name_check(const char *name, size_t n)
{
	if (!name || n == 0 || n > MBOX_NAME_MAX || memchr(name, '/', n) ||
	    memchr(name, '*', n) || memchr(name, '%', n))
		return -1;
	return mutf7_ok(name, n) && levels_ok(name, n) ? 0 : -1;
}

static int is_inbox(const char *name, size_t n)
{
	return mem_caseeq(name, n, "INBOX", 5);
}

/* The canonical form: "INBOX" as the first level in capitals. */
static void canonical(const char *name, size_t n, struct buf *out)
{
	buf_reset(out);
	if (n >= 5 && mem_caseprefix(name, n, "INBOX") && (n == 5 || name[5] == '.')) {
		buf_puts(out, "INBOX");
		buf_append(out, name + 5, n - 5);
	} else {
		buf_append(out, name, n);
	}
	buf_cstr(out);
}

int folder_dir(const char *root, const char *name, struct buf *out)
{
	size_t n = name ? strlen(name) : 0;
	if (folder_name_check(name, n) < 0) {
		errno = EINVAL;
		return -1;
	}
	struct buf c = BUF_INIT;
	canonical(name, n, &c);
	buf_reset(out);
	buf_puts(out, root);
	if (!is_inbox(buf_cstr(&c), c.len)) {
		buf_puts(out, "/.");
		buf_append(out, buf_cstr(&c), c.len);
	}
	buf_cstr(out);
	buf_free(&c);
	return 0;
}

int folder_exists(const char *dir)
{
	struct buf p = BUF_INIT;
	struct stat st;
	buf_printf(&p, "%s/cur", dir);
	int r = stat(buf_cstr(&p), &st) == 0 && S_ISDIR(st.st_mode);
	buf_free(&p);
	return r;
}

/* ---- the folder set ---- */

struct fent {
	char *name;	/* canonical */
	unsigned attrs;
};

struct fset {
	struct fent *e;	/* sorted, INBOX first */
	size_t n, cap;
};

static void fset_add(struct fset *f, const char *name, size_t n, unsigned attrs)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? size_mul(f->cap, 2) : 32;
		f->e = xrealloc(f->e, size_mul(f->cap, sizeof *f->e));
	}
	f->e[f->n].name = xmemdup(name, n);
	f->e[f->n].attrs = attrs;
	f->n++;
}

static void fset_free(struct fset *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->e[i].name);
	free(f->e);
	memset(f, 0, sizeof *f);
}

static int name_cmp(const char *a, const char *b)
{
	int ai = !strcmp(a, "INBOX"), bi = !strcmp(b, "INBOX");
	if (ai || bi)
		return bi - ai;
	return strcmp(a, b);
}

static int fent_cmp(const void *x, const void *y)
{
	return name_cmp(((const struct fent *)x)->name, ((const struct fent *)y)->name);
}

static void fset_sort(struct fset *f)
{
	if (f->n)
		qsort(f->e, f->n, sizeof *f->e, fent_cmp);
}

static long fset_find(const struct fset *f, const char *name)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(f->e[mid].name, name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Every folder directory of root (and INBOX), sorted. */
static int read_folders(const char *root, struct fset *f)
{
	fset_add(f, "INBOX", 5, 0);
	DIR *d = opendir(root);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		size_t n = strlen(nm);
		if (n < 2 || nm[0] != '.' || folder_name_check(nm + 1, n - 1) < 0 ||
		    is_inbox(nm + 1, n - 1))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		fset_add(f, nm + 1, n - 1, 0);
	}
	closedir(d);
	fset_sort(f);
	return 0;
}

/* Parents of existing folders that are not folders themselves: \Noselect. */
static void add_parents(struct fset *f)
{
	size_t n0 = f->n;
	for (size_t i = 0; i < n0; i++) {
		const char *nm = f->e[i].name;
		for (const char *dot = strchr(nm, '.'); dot; dot = strchr(dot + 1, '.')) {
			char *parent = xmemdup(nm, (size_t)(dot - nm));
			int have = fset_find(f, parent) >= 0;
			for (size_t k = n0; k < f->n && !have; k++)
				have = !strcmp(f->e[k].name, parent);
			if (!have)
				fset_add(f, parent, strlen(parent), FA_NOSELECT);
			free(parent);
			nm = f->e[i].name;	/* f->e may have moved */
		}
	}
	fset_sort(f);
}

/* In a sorted set the children of name follow it, after names that
 * continue with bytes below '.'. */
static int has_children(const struct fset *f, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < f->n; i++) {
		const char *o = f->e[i].name;
		if (strlen(o) > n + 1 && !memcmp(o, name, n) && o[n] == '.')
			return 1;
	}
	return 0;
}

static unsigned special_attrs(const char *name)
{
	static const struct {
		const char *name;
		unsigned attr;
	} sp[] = {
		{"Sent", FA_SENT}, {"Drafts", FA_DRAFTS}, {"Trash", FA_TRASH},
		{"Junk", FA_JUNK}, {"Archive", FA_ARCHIVE},
	};
	for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
		if (!strcmp(name, sp[i].name))
			return sp[i].attr;
	return 0;
}

/* All folders with their attributes (subscriptions from subs). */
static int load_all(const char *root, struct fset *f, const struct fset *subs)
{
	if (read_folders(root, f) < 0)
		return -1;
	add_parents(f);
	for (size_t i = 0; i < f->n; i++) {
		struct fent *e = &f->e[i];
		e->attrs |= has_children(f, e->name) ? FA_HASCHILDREN : FA_HASNOCHILDREN;
		e->attrs |= special_attrs(e->name);
		if (subs && fset_find(subs, e->name) >= 0)
			e->attrs |= FA_SUBSCRIBED;
	}
	return 0;
}

/* ---- patterns ---- */

static int match(const char *p, size_t pn, const char *s, size_t sn)
{
	while (pn) {
		if (*p == '*' || *p == '%') {
			int any = *p == '*';
			p++;
			pn--;
			for (size_t k = 0;; k++) {
				if (match(p, pn, s + k, sn - k))
					return 1;
				if (k == sn || (!any && s[k] == '.'))
					return 0;
			}
		}
		if (!sn || *p != *s)
			return 0;
		p++, pn--, s++, sn--;
	}
	return sn == 0;
}

/* ---- subscriptions ---- */

static int read_subs(const char *root, struct fset *subs)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	buf_printf(&p, "%s/%s", root, SUBSCRIPTIONS_FILE);
	int r = file_read(buf_cstr(&p), &text, (size_t)1 << 20);
	buf_free(&p);
	if (r < 0) {
		buf_free(&text);
		return errno == ENOENT ? 0 : -1;
	}
	size_t off = 0;
	while (off < text.len) {
		const char *nl = memchr(buf_cstr(&text) + off, '\n', text.len - off);
		size_t n = nl ? (size_t)(nl - buf_cstr(&text) - off) : text.len - off;
		if (folder_name_check(buf_cstr(&text) + off, n) == 0) {
			struct buf c = BUF_INIT;
			canonical(buf_cstr(&text) + off, n, &c);
			if (fset_find(subs, buf_cstr(&c)) < 0) {
				fset_add(subs, buf_cstr(&c), c.len, FA_SUBSCRIBED);
				fset_sort(subs);
			}
			buf_free(&c);
		}
		off += n + 1;
	}
	buf_free(&text);
	return 0;
}

static int write_subs(const char *root, const struct fset *subs)
{
	struct buf tmp = BUF_INIT, path = BUF_INIT, text = BUF_INIT;
	for (size_t i = 0; i < subs->n; i++)
		buf_printf(&text, "%s\n", subs->e[i].name);
	buf_printf(&tmp, "%s/%s.tmp", root, SUBSCRIPTIONS_FILE);
	buf_printf(&path, "%s/%s", root, SUBSCRIPTIONS_FILE);
	int r = -1;
	int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		r = write_all(fd, buf_cstr(&text), text.len) == 0 && fsync(fd) == 0 ? 0 : -1;
		if (close(fd) < 0 || r < 0 || rename(buf_cstr(&tmp), buf_cstr(&path)) < 0 || fsync_dir(root) < 0)
			r = -1;
		if (r < 0)
			unlink(buf_cstr(&tmp));
	}
	int e = errno;
	buf_free(&tmp);
	buf_free(&path);
	buf_free(&text);
	errno = e;
	return r;
}

static int subs_lock(const char *root)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s.lock", root, SUBSCRIPTIONS_FILE);
	int fd = open(buf_cstr(&p), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	buf_free(&p);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

int folder_subscribe(const char *root, const char *name, int on)
{
	size_t n = name ? strlen(name) : 0;
	if (folder_name_check(name, n) < 0) {
		errno = EINVAL;
		return -1;
	}
	int lk = subs_lock(root);
	if (lk < 0)
		return -1;
	struct fset subs = {0};
	struct buf c = BUF_INIT;
	canonical(name, n, &c);
	int r = read_subs(root, &subs);
	if (r == 0) {
		long i = fset_find(&subs, buf_cstr(&c));
		if (on && i < 0) {
			fset_add(&subs, buf_cstr(&c), c.len, FA_SUBSCRIBED);
			fset_sort(&subs);
			r = write_subs(root, &subs);
		} else if (!on && i >= 0) {
			free(subs.e[i].name);
			memmove(&subs.e[i], &subs.e[i + 1], (subs.n - (size_t)i - 1) * sizeof *subs.e);
			subs.n--;
			r = write_subs(root, &subs);
		}
	}
	int e = errno;
	fset_free(&subs);
	buf_free(&c);
	close(lk);
	errno = e;
	return r;
}

/* ---- LIST ---- */

static void full_pattern(const char *ref, size_t rlen, const char *pat, size_t plen, struct buf *out)
{
	struct buf raw = BUF_INIT;
	buf_append(&raw, ref, rlen);
	buf_append(&raw, pat, plen);
	canonical(buf_cstr(&raw) ? buf_cstr(&raw) : "", raw.len, out);
	buf_free(&raw);
}

/* LSUB (RFC 3501 6.3.9): a superior of a subscribed name, itself not
 * subscribed, that the pattern matches where the name does not, is listed
 * with \Noselect. */
static void add_lsub_parents(struct fset *subs, const char *pat, size_t plen)
{
	size_t n0 = subs->n;
	for (size_t i = 0; i < n0; i++) {
		const char *nm = subs->e[i].name;
		if (match(pat, plen, nm, strlen(nm)))
			continue;
		for (const char *dot = strchr(nm, '.'); dot; dot = strchr(dot + 1, '.')) {
			size_t len = (size_t)(dot - nm);
			char *parent = xmemdup(nm, len);
			int have = fset_find(subs, parent) >= 0;
			for (size_t k = n0; k < subs->n && !have; k++)
				have = !strcmp(subs->e[k].name, parent);
			if (!have && match(pat, plen, parent, len))
				fset_add(subs, parent, len, FA_NOSELECT);
			free(parent);
			nm = subs->e[i].name;	/* subs->e may have moved */
		}
	}
	fset_sort(subs);
}

int folder_list(const char *root, const char *reference, size_t rlen,
		const char *pattern, size_t plen, int subscribed_only,
		int (*fn)(const struct folder_entry *e, void *arg), void *arg)
{
	struct fset all = {0}, subs = {0};
	struct buf pat = BUF_INIT;
	int r = read_subs(root, &subs);
	if (r == 0)
		r = load_all(root, &all, &subs);
	full_pattern(reference, rlen, pattern, plen, &pat);
	if (r == 0 && subscribed_only == 2)
		add_lsub_parents(&subs, buf_cstr(&pat), pat.len);
	const struct fset *src = subscribed_only ? &subs : &all;
	for (size_t i = 0; r == 0 && i < src->n; i++) {
		const char *nm = src->e[i].name;
		if (!match(buf_cstr(&pat), pat.len, nm, strlen(nm)))
			continue;
		struct folder_entry e = {nm, src->e[i].attrs};
		if (subscribed_only && (src->e[i].attrs & FA_NOSELECT)) {
			e.attrs = FA_NOSELECT;	/* an LSUB superior, not subscribed */
		} else if (subscribed_only) {
			long k = fset_find(&all, nm);
			e.attrs = FA_SUBSCRIBED | (k >= 0 ? all.e[k].attrs : FA_NONEXISTENT);
		}
		if (fn(&e, arg))
			break;
	}
	int e = errno;
	fset_free(&all);
	fset_free(&subs);
	buf_free(&pat);
	errno = e;
	return r;
}

/* ---- CREATE, DELETE, RENAME ---- */

/* A Maildir++ folder: the Maildir plus its "maildirfolder" marker. */
static int make_folder(const char *dir)
{
	if (maildir_make(dir) < 0)
		return -1;
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/maildirfolder", dir);
	int fd = open(buf_cstr(&p), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	buf_free(&p);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Creates the missing superior levels of name (not name itself). */
static int make_parents(const char *root, const char *name)
{
	struct buf dir = BUF_INIT;
	int r = 0;
	for (const char *dot = strchr(name, '.'); dot && r == 0; dot = strchr(dot + 1, '.')) {
		char *parent = xmemdup(name, (size_t)(dot - name));
		if (folder_dir(root, parent, &dir) == 0 && !folder_exists(buf_cstr(&dir)))
			r = make_folder(buf_cstr(&dir));
		free(parent);
	}
	buf_free(&dir);
	return r;
}

int folder_create(const char *root, const char *name)
{
	struct buf c = BUF_INIT, dir = BUF_INIT;
	size_t n = name ? strlen(name) : 0;
	/* "foo." declares a future hierarchy: it creates foo (RFC 3501 6.3.3) */
	if (n > 1 && name[n - 1] == '.')
		n--;
	buf_append(&c, name ? name : "", n);
	buf_cstr(&c);
	int r = -1;
	if (folder_dir(root, buf_cstr(&c), &dir) < 0)
		goto out;
	if (is_inbox(buf_cstr(&c), c.len) || folder_exists(buf_cstr(&dir))) {
		errno = EEXIST;
		goto out;
	}
	struct buf canon = BUF_INIT;
	canonical(buf_cstr(&c), c.len, &canon);
	r = make_parents(root, buf_cstr(&canon));
	buf_free(&canon);
	if (r == 0)
		r = make_folder(buf_cstr(&dir));
out:;
	int e = errno;
	buf_free(&c);
	buf_free(&dir);
	errno = e;
	return r;
}

/* Bytes and messages of one Maildir (new/ and cur/), for the quota. */
static void usage_of(const char *dir, long long *bytes, long long *count)
{
	static const char *const subs[] = {"new", "cur"};
	struct buf p = BUF_INIT;
	for (size_t k = 0; k < 2; k++) {
		buf_reset(&p);
		buf_printf(&p, "%s/%s", dir, subs[k]);
		DIR *d = opendir(buf_cstr(&p));
		struct dirent *de;
		struct stat st;
		while (d && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' ||
			    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			*bytes += (long long)st.st_size;
			(*count)++;
		}
		if (d)
			closedir(d);
	}
	buf_free(&p);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Any folder below name? */
static int folder_has_children(const char *root, const char *canon)
{
	struct fset all = {0};
	int r = read_folders(root, &all) == 0 && has_children(&all, canon);
	fset_free(&all);
	return r;
}

int folder_delete(const char *root, const char *name)
{
	struct buf dir = BUF_INIT, c = BUF_INIT, gone = BUF_INIT;
	int r = -1;
	if (folder_dir(root, name, &dir) < 0)
		goto out;
	canonical(name, strlen(name), &c);
	if (is_inbox(buf_cstr(&c), c.len)) {
		errno = EACCES;
		goto out;
	}
	if (!folder_exists(buf_cstr(&dir))) {
		errno = folder_has_children(root, buf_cstr(&c)) ? ENOTEMPTY : ENOENT;
		goto out;
	}
	/* out of sight at once (a name no folder can have), then removed */
	static unsigned counter;
	buf_printf(&gone, "%s/..deleted.%ld.%ld.%u", root, (long)getpid(), (long)time(NULL), counter++);
	if (rename(buf_cstr(&dir), buf_cstr(&gone)) < 0)
		goto out;
	fsync_dir(root);
	long long bytes = 0, count = 0;
	usage_of(buf_cstr(&gone), &bytes, &count);
	if (count)
		maildir_quota_add(root, -bytes, -count);
	/* out of sight already: a failure here only leaves disk space used */
	nftw(buf_cstr(&gone), rm_one, 8, FTW_DEPTH | FTW_PHYS);
	r = 0;
out:;
	int e = errno;
	buf_free(&dir);
	buf_free(&c);
	buf_free(&gone);
	errno = e;
	return r;
}

/* RENAME INBOX: its messages move to a new folder; INBOX stays, empty. */
static int rename_inbox(const char *root, const char *to_dir)
{
	if (make_folder(to_dir) < 0)
		return -1;
	static const char *const subs[] = {"new", "cur"};
	struct buf from = BUF_INIT, to = BUF_INIT;
	int r = 0;
	for (size_t k = 0; k < 2 && r == 0; k++) {
		buf_reset(&from);
		buf_printf(&from, "%s/%s", root, subs[k]);
		DIR *d = opendir(buf_cstr(&from));
		if (!d)
			return -1;
		struct dirent *de;
		while (r == 0 && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			buf_reset(&from);
			buf_printf(&from, "%s/%s/%s", root, subs[k], de->d_name);
			buf_reset(&to);
			buf_printf(&to, "%s/%s/%s", to_dir, subs[k], de->d_name);
			if (rename(buf_cstr(&from), buf_cstr(&to)) < 0 && errno != ENOENT)
				r = -1;
		}
		closedir(d);
		buf_reset(&to);
		buf_printf(&to, "%s/%s", to_dir, subs[k]);
		fsync_dir(buf_cstr(&to));
	}
	int e = errno;
	buf_free(&from);
	buf_free(&to);
	errno = e;
	return r;
}

/* Renames the children ".from.X" to ".to.X". */
static int rename_children(const char *root, const char *from, const char *to)
{
	struct fset all = {0};
	if (read_folders(root, &all) < 0)
		return -1;
	size_t fl = strlen(from);
	struct buf a = BUF_INIT, b = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < all.n && r == 0; i++) {
		const char *nm = all.e[i].name;
		if (strlen(nm) <= fl + 1 || memcmp(nm, from, fl) || nm[fl] != '.')
			continue;
		buf_reset(&a);
		buf_printf(&a, "%s/.%s", root, nm);
		buf_reset(&b);
		buf_printf(&b, "%s/.%s%s", root, to, nm + fl);
		if (b.len - strlen(root) - 2 > MBOX_NAME_MAX) {
			errno = EINVAL;
			r = -1;
		} else if (rename(buf_cstr(&a), buf_cstr(&b)) < 0) {
			r = -1;
		}
	}
	int e = errno;
	fset_free(&all);
	buf_free(&a);
	buf_free(&b);
	errno = e;
	return r;
}

int folder_rename(const char *root, const char *from, const char *to)
{
	struct buf fd = BUF_INIT, td = BUF_INIT, fc = BUF_INIT, tc = BUF_INIT;
	int r = -1;
	if (folder_dir(root, from, &fd) < 0 || folder_dir(root, to, &td) < 0)
		goto out;
	canonical(from, strlen(from), &fc);
	canonical(to, strlen(to), &tc);
	if (is_inbox(buf_cstr(&tc), tc.len) || folder_exists(buf_cstr(&td))) {
		errno = EEXIST;
		goto out;
	}
	if (tc.len > fc.len && !memcmp(buf_cstr(&tc), buf_cstr(&fc), fc.len) && buf_cstr(&tc)[fc.len] == '.') {
		errno = EINVAL;	/* into itself */
		goto out;
	}
	if (make_parents(root, buf_cstr(&tc)) < 0)
		goto out;
	if (is_inbox(buf_cstr(&fc), fc.len)) {
		r = rename_inbox(root, buf_cstr(&td));
		goto out;
	}
	int exists = folder_exists(buf_cstr(&fd));
	if (!exists && !folder_has_children(root, buf_cstr(&fc))) {
		errno = ENOENT;
		goto out;
	}
	if (exists && rename(buf_cstr(&fd), buf_cstr(&td)) < 0)
		goto out;
	r = rename_children(root, buf_cstr(&fc), buf_cstr(&tc));
	fsync_dir(root);
out:;
	int e = errno;
	buf_free(&fd);
	buf_free(&td);
	buf_free(&fc);
	buf_free(&tc);
	errno = e;
	return r;
}

/* ---- special-use folders ---- */

int folder_init_special(const char *root)
{
	static const char *const names[] = {"Sent", "Drafts", "Trash", "Junk", "Archive"};
	struct buf mark = BUF_INIT;
	buf_printf(&mark, "%s/%s", root, SPECIAL_DONE_FILE);
	struct stat st;
	int r = 0;
	if (stat(buf_cstr(&mark), &st) == 0)
		goto out;
	for (size_t i = 0; i < sizeof names / sizeof names[0] && r == 0; i++) {
		if (folder_create(root, names[i]) < 0 && errno != EEXIST)
			r = -1;
		else
			r = folder_subscribe(root, names[i], 1);
	}
	if (r == 0) {
		int fd = open(buf_cstr(&mark), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			r = -1;
		else
			close(fd);
	}
out:;
	int e = errno;
	buf_free(&mark);
	errno = e;
	return r;
}

/* ---- STATUS ---- */

static void count_status(const struct uidlist *ul, struct folder_status *st)
{
	for (size_t i = 0; i < ul->n; i++) {
		unsigned f;
		uint32_t kw;
		name_flags(ul->msgs[i].name, &f, &kw);
		if (!(f & MF_SEEN))
			st->unseen++;
		if (ul->msgs[i].uid > ul->recent_uid)
			st->recent++;
		st->size += ul->msgs[i].size;
	}
	st->messages = ul->n;
	st->uidnext = ul->next_uid;
	st->uidvalidity = ul->uidvalidity;
	st->highestmodseq = ul->modseq;
}

int folder_status(const char *root, const char *name, struct folder_status *st)
{
	struct buf dir = BUF_INIT;
	memset(st, 0, sizeof *st);
	if (folder_dir(root, name, &dir) < 0) {
		buf_free(&dir);
		return -1;
	}
	if (!folder_exists(buf_cstr(&dir))) {
		buf_free(&dir);
		errno = ENOENT;
		return -1;
	}
	/* the selected folder's own index: only what changed is read */
	struct uidlist own, *ul = mbox_open_list(buf_cstr(&dir));
	if (!ul) {
		uidlist_init(&own, buf_cstr(&dir));
		ul = &own;
	}
	buf_free(&dir);
	int r = uidlist_sync(ul);
	if (r == 0)
		count_status(ul, st);
	int e = errno;
	if (ul == &own)
		uidlist_free(&own);
	errno = e;
	return r;
}
