/* table: cdb lookup tables and their atomic rebuild (see table.h). */
#include "table.h"
#include "io.h"
#include "fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int table_open(struct table *t, const char *path)
{
	t->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (cdb_init(&t->cdb, t->fd) < 0) {
		close(t->fd);
		t->fd = -1;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void table_close(struct table *t)
{
	if (t->fd >= 0) {
		cdb_free(&t->cdb);
		close(t->fd);
	}
	t->fd = -1;
}

int table_lookup(struct table *t, const char *key, size_t klen, struct buf *val)
{
	if (t->fd < 0)
		return 0;
	if (klen > 0xffff)
		return 0;
	int r = cdb_find(&t->cdb, key, (unsigned)klen);
	if (r <= 0)
		return r < 0 ? -1 : 0;
	unsigned len = cdb_datalen(&t->cdb);
	if (val) {
		buf_reset(val);
		buf_reserve(val, len);
		if (cdb_read(&t->cdb, val->s, len, cdb_datapos(&t->cdb)) < 0)
			return -1;
		val->len = len;
	}
	return 1;
}

struct maker {
	int fd;
	struct cdb_make cm;
	struct buf tmp;
};

static int maker_start(struct maker *m, const char *path, int mode)
{
	buf_reset(&m->tmp);
	buf_printf(&m->tmp, "%s.tmp.%ld", path, (long)getpid());
	buf_cstr(&m->tmp);
	unlink(m->tmp.s);
	m->fd = open(m->tmp.s, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (m->fd < 0)
		return -1;
	fchmod(m->fd, (mode_t)mode);	/* umask must not widen or narrow it */
	return cdb_make_start(&m->cm, m->fd);
}

static int maker_finish(struct maker *m, const char *path)
{
	int r = cdb_make_finish(&m->cm);
	if (r == 0)
		r = fsync(m->fd);
	if (close(m->fd) < 0)
		r = -1;
	if (r == 0)
		r = rename(m->tmp.s, path);
	if (r == 0)
		r = fsync_parent(path);
	if (r < 0)
		unlink(m->tmp.s);
	buf_free(&m->tmp);
	return r;
}

static void maker_abort(struct maker *m)
{
	close(m->fd);
	unlink(m->tmp.s);
	buf_free(&m->tmp);
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Splits "key value" / "key: value" / "key" into key and value. */
static void split_map(const char *s, size_t n, const char **k, size_t *kl,
		      const char **v, size_t *vl)
{
	size_t i = 0;
	while (i < n && !isspace((unsigned char)s[i]) && s[i] != ':')
		i++;
	*k = s;
	*kl = i;
	if (i < n && s[i] == ':')
		i++;
	*v = s + i;
	*vl = n - i;
	trim(v, vl);
}

/* Splits a users line: address:hash:mailbox:quota.  The hash may not
 * contain ':' (crypt(3) output never does). */
static int split_users(const char *s, size_t n, const char *f[4], size_t fl[4])
{
	int nf = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n && nf < 4; i++) {
		if (i == n || s[i] == ':') {
			f[nf] = s + start;
			fl[nf] = i - start;
			nf++;
			start = i + 1;
		}
	}
	return nf == 4 && start > n ? 0 : -1;
}

static int add_line(struct maker *m, struct maker *pw, enum table_format fmt,
		    const char *s, size_t n, struct buf *key, struct buf *val)
{
	const char *k, *v;
	size_t kl, vl;
	if (fmt == TF_USERS) {
		const char *f[4];
		size_t fl[4];
		if (split_users(s, n, f, fl) < 0 || fl[0] == 0 || fl[2] == 0)
			return -1;
		unsigned long long q;
		if (fl[3] && mem_to_u64(f[3], fl[3], &q) < 0)
			return -1;
		buf_set(key, f[0], fl[0]);
		mem_lower(key->s, key->len);
		buf_set(val, f[2], fl[2]);
		buf_putc(val, ':');
		buf_append(val, f[3], fl[3]);
		if (pw && cdb_make_add(&pw->cm, key->s, (unsigned)key->len, f[1], (unsigned)fl[1]) < 0)
			return -2;
	} else {
		split_map(s, n, &k, &kl, &v, &vl);
		if (kl == 0 || (fmt == TF_MAP && vl == 0))
			return -1;
		buf_set(key, k, kl);
		mem_lower(key->s, key->len);
		buf_set(val, fmt == TF_MAP ? v : "", fmt == TF_MAP ? vl : 0);
	}
	if (key->len > 0xffff || val->len > 0xffffff)
		return -1;
	return cdb_make_add(&m->cm, key->s, (unsigned)key->len, val->s, (unsigned)val->len) < 0 ? -2 : 0;
}

int table_make(const char *text, const char *cdb, enum table_format f,
	       const char *pw_cdb, int pw_mode, struct buf *err)
{
	struct buf src = BUF_INIT, key = BUF_INIT, val = BUF_INIT;
	struct maker m = {.tmp = BUF_INIT}, pw = {.tmp = BUF_INIT};
	int r = file_read(text, &src, 64 << 20);
	if (r < 0 && errno == ENOENT) {
		buf_reset(&src);	/* a missing text file makes an empty table */
		r = 0;
	}
	if (r < 0) {
		buf_printf(err, "%s: %s", text, r == -2 ? "too large" : strerror(errno));
		buf_free(&src);
		return -1;
	}
	int rc = 0;
	if (maker_start(&m, cdb, 0644) < 0) {
		buf_printf(err, "%s: %s", cdb, strerror(errno));
		buf_free(&src);
		return -1;
	}
	if (pw_cdb && maker_start(&pw, pw_cdb, pw_mode) < 0) {
		buf_printf(err, "%s: %s", pw_cdb, strerror(errno));
		maker_abort(&m);
		buf_free(&src);
		return -1;
	}
	size_t off = 0;
	int lineno = 0;
	while (off < src.len && rc == 0) {
		const char *nl = memchr(src.s + off, '\n', src.len - off);
		size_t n = nl ? (size_t)(nl - (src.s + off)) : src.len - off;
		const char *s = src.s + off;
		off += n + 1;
		lineno++;
		trim(&s, &n);
		if (n == 0 || s[0] == '#')
			continue;
		int a = add_line(&m, pw_cdb ? &pw : NULL, f, s, n, &key, &val);
		if (a == -1)
			buf_printf(err, "%s:%d: malformed line", text, lineno);
		else if (a < 0)
			buf_printf(err, "%s: write failed: %s", cdb, strerror(errno));
		rc = a;
	}
	if (rc == 0 && pw_cdb && maker_finish(&pw, pw_cdb) < 0) {
		buf_printf(err, "%s: %s", pw_cdb, strerror(errno));
		rc = -1;
	} else if (rc != 0 && pw_cdb) {
		maker_abort(&pw);
	}
	if (rc == 0 && maker_finish(&m, cdb) < 0) {
		buf_printf(err, "%s: %s", cdb, strerror(errno));
		rc = -1;
	} else if (rc != 0) {
		maker_abort(&m);
	}
	buf_free(&src);
	buf_free(&key);
	buf_free(&val);
	return rc < 0 ? -1 : 0;
}
