/* maildir: Maildir delivery, names, folders and Maildir++ quota (see
 * maildir.h).  The durability order matters: the message is complete and
 * fsynced in tmp/ before it appears in new/, and new/ is fsynced before a
 * delivery is reported, so a crash at any point leaves either nothing, a
 * stray tmp/ file, or the whole message. */
#include "maildir.h"
#include "fsutil.h"
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define COPY_CHUNK (64 * 1024)

static const char *path_in(struct buf *p, const char *dir, const char *sub, const char *name)
{
	buf_reset(p);
	buf_puts(p, dir);
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

/* mkdir that reports whether it created the directory. */
static int make_dir(const char *path, int *made)
{
	if (mkdir(path, 0700) == 0) {
		*made = 1;
		return 0;
	}
	if (errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int maildir_make(const char *dir)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	struct buf p = BUF_INIT;
	int made_root = 0, made_sub = 0, r = -1;
	if (make_dir(dir, &made_root) < 0)
		goto out;
	for (size_t i = 0; i < 3; i++)
		if (make_dir(path_in(&p, dir, subs[i], NULL), &made_sub) < 0)
			goto out;
	if (made_sub && fsync_dir(dir) < 0)
		goto out;
	if (made_root && fsync_parent(dir) < 0)
		goto out;
	r = 0;
out:;
	int e = errno;
	buf_free(&p);
	errno = e;
	return r;
}

void maildir_host_part(const char *host, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (host[i] == '/')
			buf_puts(out, "\\057");
		else if (host[i] == ':')
			buf_puts(out, "\\072");
		else
			buf_putc(out, host[i]);
	}
}

void maildir_queue_name(struct buf *out, long long arrival, const char *qid,
			unsigned long index, const char *host, unsigned long long size)
{
	buf_reset(out);
	buf_printf(out, "%lld.Q%sX%lu.", arrival, qid, index);
	maildir_host_part(host, strlen(host), out);
	buf_printf(out, ",S=%llu", size);
	buf_cstr(out);
}

void maildir_unique_name(struct buf *out, const char *host, unsigned long long size)
{
	static unsigned long counter;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	buf_reset(out);
	buf_printf(out, "%lld.M%06ldP%ldC%lu.", (long long)tv.tv_sec, (long)tv.tv_usec,
		   (long)getpid(), counter++);
	maildir_host_part(host, strlen(host), out);
	buf_printf(out, ",S=%llu", size);
	buf_cstr(out);
}

/* A reader that has already moved the message to cur/ gave it an info
 * suffix.  Only the suffixes a first read produces are tried, by name: a
 * scan of cur/ would cost a read of the whole mailbox per delivery. */
static int in_cur(const char *dir, const char *name)
{
	static const char *const infos[] = {":2,", ":2,S", ":2,RS", ":2,ST"};
	struct buf p = BUF_INIT, entry = BUF_INIT;
	int found = 0, err = 0;
	for (size_t i = 0; i < sizeof infos / sizeof infos[0] && !found && !err; i++) {
		struct stat st;
		buf_reset(&entry);
		buf_printf(&entry, "%s%s", name, infos[i]);
		if (lstat(path_in(&p, dir, "cur", buf_cstr(&entry)), &st) == 0)
			found = 1;
		else if (errno != ENOENT)
			err = errno;
	}
	buf_free(&p);
	buf_free(&entry);
	errno = err;
	return err ? -1 : found;
}

int maildir_has(const char *dir, const char *name)
{
	struct buf p = BUF_INIT;
	struct stat st;
	int r = lstat(path_in(&p, dir, "new", name), &st);
	int e = errno;
	buf_free(&p);
	if (r == 0)
		return 1;
	if (e != ENOENT) {
		errno = e;
		return -1;
	}
	return in_cur(dir, name);
}

static int copy_plain(const struct maildir_source *src, int out, off_t off,
		      unsigned long long left)
{
	char *chunk = xmalloc(COPY_CHUNK);
	int r = 0;
	while (left > 0) {
		size_t want = left < COPY_CHUNK ? (size_t)left : COPY_CHUNK;
		ssize_t n = pread(src->fd, chunk, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENODATA;
			r = -1;
			break;
		}
		if (write_all(out, chunk, (size_t)n) < 0) {
			r = -1;
			break;
		}
		off += n;
		left -= (unsigned long long)n;
	}
	free(chunk);
	return r;
}

/* Copies the source range into out: copy_file_range where the kernel and
 * filesystems allow it, a bounded pread/write loop otherwise. */
static int copy_range(const struct maildir_source *src, int out)
{
	off_t off = src->off;
	unsigned long long left = src->len;
	while (left > 0) {
		size_t want = left < (1u << 30) ? (size_t)left : (1u << 30);
		ssize_t n = copy_file_range(src->fd, &off, out, NULL, want, 0);
		if (n > 0) {
			left -= (unsigned long long)n;
			continue;
		}
		if (n == 0) {
			errno = ENODATA;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
		    errno == EOPNOTSUPP || errno == EBADF || errno == EPERM)
			return copy_plain(src, out, off, left);
		return -1;
	}
	return 0;
}

static int write_tmp(const char *path, const struct maildir_source *src)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, src->head, src->head_len) < 0 || copy_range(src, fd) < 0 ||
	    fsync(fd) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* Links tmp into new/: MD_DELIVERED, MD_EXISTS or -1. */
static int publish(const char *tmp, const char *dir, const char *name)
{
	struct buf p = BUF_INIT;
	int r = MD_DELIVERED;
	if (link(tmp, path_in(&p, dir, "new", name)) < 0)
		r = errno == EEXIST ? MD_EXISTS : -1;
	int e = errno;
	if (unlink(tmp) < 0 && r != -1) {
		e = errno;
		r = -1;
	}
	/* An earlier copy found here may itself not be on disk yet (the
	 * attempt that made it died before its fsync): sync either way. */
	if (r != -1 && fsync_dir(path_in(&p, dir, "new", NULL)) < 0) {
		e = errno;
		r = -1;
	}
	buf_free(&p);
	errno = e;
	return r;
}

int maildir_deliver(const char *dir, const char *name, const struct maildir_source *src)
{
	int k = maildir_has(dir, name);
	if (k < 0)
		return -1;
	if (k > 0) {
		/* found from an earlier attempt: make sure its entry is durable */
		struct buf p = BUF_INIT;
		int r = fsync_dir(path_in(&p, dir, "new", NULL)) == 0 &&
			fsync_dir(path_in(&p, dir, "cur", NULL)) == 0 ? MD_EXISTS : -1;
		int e = errno;
		buf_free(&p);
		errno = e;
		return r;
	}
	struct buf tmp = BUF_INIT;
	path_in(&tmp, dir, "tmp", name);
	int r;
	if (write_tmp(tmp.s, src) < 0) {
		int e = errno;
		unlink(tmp.s);
		errno = e;
		r = -1;
	} else {
		r = publish(tmp.s, dir, name);
	}
	int e = errno;
	buf_free(&tmp);
	errno = e;
	return r;
}

size_t maildir_name_base(const char *name, size_t n)
{
	const char *colon = memchr(name, ':', n);
	return colon ? (size_t)(colon - name) : n;
}

int maildir_name_size(const char *name, size_t n, unsigned long long *size)
{
	size_t base = maildir_name_base(name, n);
	for (size_t i = 0; i + 3 <= base; i++) {
		if (name[i] != ',' || name[i + 1] != 'S' || name[i + 2] != '=')
			continue;
		size_t a = i + 3, b = a;
		while (b < base && name[b] >= '0' && name[b] <= '9')
			b++;
		if (b > a && mem_to_u64(name + a, b - a, size) == 0)
			return 0;
	}
	return -1;
}

const char *maildir_name_flags(const char *name, size_t n, size_t *flen)
{
	size_t base = maildir_name_base(name, n);
	if (n - base < 3 || memcmp(name + base, ":2,", 3) != 0)
		return NULL;
	*flen = n - base - 3;
	return name + base + 3;
}

/* Flags in ASCII order, each once; -1 if one is not a letter. */
static int sort_flags(const char *flags, struct buf *out)
{
	unsigned char seen[128] = {0};
	for (const char *f = flags; *f; f++) {
		unsigned char c = (unsigned char)*f;
		if (c >= 128 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return -1;
		seen[c] = 1;
	}
	for (int c = 'A'; c <= 'z'; c++)
		if (seen[c])
			buf_putc(out, (char)c);
	return 0;
}

int maildir_set_flags(const char *dir, const char *sub, const char *name,
		      const char *flags, struct buf *newname)
{
	buf_reset(newname);
	buf_append(newname, name, maildir_name_base(name, strlen(name)));
	buf_puts(newname, ":2,");
	if ((strcmp(sub, "new") && strcmp(sub, "cur")) || sort_flags(flags, newname) < 0) {
		errno = EINVAL;
		return -1;
	}
	buf_cstr(newname);
	struct buf from = BUF_INIT, to = BUF_INIT;
	path_in(&from, dir, sub, name);
	path_in(&to, dir, "cur", newname->s);
	int r = strcmp(from.s, to.s) ? rename(from.s, to.s) : 0;
	int e = errno;
	buf_free(&from);
	buf_free(&to);
	errno = e;
	return r;
}

static int folder_name_ok(const char *f, size_t n)
{
	if (f[0] == '.' || f[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)f[i];
		if (c < 0x20 || c == 0x7f || c == '/')
			return 0;
		if (c == '.' && f[i + 1] == '.')
			return 0;
	}
	return 1;
}

int maildir_folder_path(const char *root, const char *folder, size_t flen, struct buf *out)
{
	buf_reset(out);
	buf_puts(out, root);
	if (flen == 0 || mem_caseeq(folder, flen, "INBOX", 5))
		return 0;
	if (!folder_name_ok(folder, flen))
		return -1;
	buf_puts(out, "/.");
	buf_append(out, folder, flen);
	return 0;
}

/* ---- Maildir++ quota ---- */

/* Adds up the messages of one directory (new/ or cur/ of a folder). */
static int scan_messages(const char *dir, struct maildir_usage *u)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		unsigned long long sz;
		size_t n = strlen(de->d_name);
		if (maildir_name_size(de->d_name, n, &sz) < 0) {
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;	/* removed meanwhile */
			sz = (unsigned long long)st.st_size;
		}
		u->bytes += (long long)sz;
		u->count++;
	}
	closedir(d);
	return 0;
}

static int scan_folder(const char *dir, struct maildir_usage *u)
{
	struct buf p = BUF_INIT;
	int r = scan_messages(path_in(&p, dir, "new", NULL), u);
	if (r == 0)
		r = scan_messages(path_in(&p, dir, "cur", NULL), u);
	int e = errno;
	buf_free(&p);
	errno = e;
	return r;
}

static int scan_all(const char *dir, struct maildir_usage *u)
{
	u->bytes = u->count = 0;
	if (scan_folder(dir, u) < 0)
		return -1;
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct buf p = BUF_INIT;
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (n[0] != '.' || n[1] == 0 || (n[1] == '.' && n[2] == 0))
			continue;
		r = scan_folder(path_in(&p, dir, n, NULL), u);
	}
	int e = errno;
	closedir(d);
	buf_free(&p);
	errno = e;
	return r;
}

int maildir_quota_recalc(const char *dir, unsigned long long limit, struct maildir_usage *u)
{
	if (scan_all(dir, u) < 0)
		return -1;
	struct buf text = BUF_INIT, tmpname = BUF_INIT, tmp = BUF_INIT, dst = BUF_INIT;
	buf_printf(&text, "%lluS\n%lld %lld\n", limit, u->bytes, u->count);
	maildir_unique_name(&tmpname, "quota", text.len);
	path_in(&tmp, dir, "tmp", buf_cstr(&tmpname));
	path_in(&dst, dir, "maildirsize", NULL);
	int r = -1;
	int fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		r = write_all(fd, text.s, text.len);
		if (close(fd) < 0)
			r = -1;
		if (r == 0)
			r = rename(tmp.s, dst.s);
		int e = errno;
		if (r < 0)
			unlink(tmp.s);
		errno = e;
	}
	int e = errno;
	buf_free(&text);
	buf_free(&tmpname);
	buf_free(&tmp);
	buf_free(&dst);
	errno = e;
	return r;
}

/* Parses "<n>S[,<m>C]": 0 ok, -1 malformed. */
static int parse_quota_def(const char *s, size_t n, unsigned long long *bytes)
{
	*bytes = 0;
	size_t i = 0;
	while (i < n) {
		size_t a = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		unsigned long long v;
		if (i == a || i >= n || mem_to_u64(s + a, i - a, &v) < 0)
			return -1;
		if (s[i] == 'S')
			*bytes = v;
		else if (s[i] != 'C')
			return -1;
		i++;
		if (i < n && s[i++] != ',')
			return -1;
	}
	return 0;
}

/* Parses "<bytes> <count>" (either may be negative). */
static int parse_usage_line(const char *s, size_t n, struct maildir_usage *u)
{
	long long v[2];
	size_t i = 0;
	for (int k = 0; k < 2; k++) {
		while (i < n && s[i] == ' ')
			i++;
		int neg = i < n && s[i] == '-';
		i += (size_t)neg;
		size_t a = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		unsigned long long x;
		if (i == a || mem_to_u64(s + a, i - a, &x) < 0 || x > (1ULL << 62))
			return -1;
		v[k] = neg ? -(long long)x : (long long)x;
	}
	while (i < n && s[i] == ' ')
		i++;
	if (i != n)
		return -1;
	u->bytes += v[0];
	u->count += v[1];
	return 0;
}

/* Sums a maildirsize file: 0 ok, -1 unusable (recalculate). */
static int parse_maildirsize(const struct buf *f, unsigned long long limit,
			     struct maildir_usage *u)
{
	u->bytes = u->count = 0;
	const char *nl = memchr(f->s, '\n', f->len);
	unsigned long long def;
	if (!nl || parse_quota_def(f->s, (size_t)(nl - f->s), &def) < 0 || def != limit)
		return -1;
	size_t off = (size_t)(nl - f->s) + 1;
	while (off < f->len) {
		nl = memchr(f->s + off, '\n', f->len - off);
		if (!nl)
			return -1;	/* a line still being appended */
		if (parse_usage_line(f->s + off, (size_t)(nl - f->s) - off, u) < 0)
			return -1;
		off = (size_t)(nl - f->s) + 1;
	}
	return 0;
}

int maildir_quota_usage(const char *dir, unsigned long long limit, struct maildir_usage *u)
{
	struct buf p = BUF_INIT, f = BUF_INIT;
	path_in(&p, dir, "maildirsize", NULL);
	int k = file_read(p.s, &f, MD_QUOTA_FILE_MAX);
	int e = errno;
	buf_free(&p);
	int r;
	if (k == 0 && f.len > 0 && parse_maildirsize(&f, limit, u) == 0)
		r = 0;
	else if (k == -1 && e != ENOENT)
		r = -1;
	else
		r = maildir_quota_recalc(dir, limit, u);
	e = errno;
	buf_free(&f);
	errno = e;
	return r;
}

static int quota_file_stale(const char *dir)
{
	struct buf p = BUF_INIT;
	struct stat st;
	int r = stat(path_in(&p, dir, "maildirsize", NULL), &st);
	buf_free(&p);
	return r < 0 || st.st_mtime + MD_QUOTA_STALE < time(NULL);
}

static int fits(const struct maildir_usage *u, unsigned long long limit, unsigned long long add)
{
	unsigned long long used = u->bytes > 0 ? (unsigned long long)u->bytes : 0;
	return used <= limit && add <= limit - used;
}

int maildir_quota_check(const char *dir, unsigned long long limit, unsigned long long add)
{
	if (limit == 0)
		return 1;
	struct maildir_usage u;
	if (maildir_quota_usage(dir, limit, &u) < 0)
		return -1;
	if (fits(&u, limit, add))
		return 1;
	/* Over quota by the file: make sure it is not an old miscount. */
	if (!quota_file_stale(dir))
		return 0;
	if (maildir_quota_recalc(dir, limit, &u) < 0)
		return -1;
	return fits(&u, limit, add);
}

int maildir_quota_add(const char *dir, long long bytes, long long count)
{
	struct buf p = BUF_INIT, line = BUF_INIT;
	int fd = open(path_in(&p, dir, "maildirsize", NULL), O_WRONLY | O_APPEND | O_CLOEXEC);
	int r = -1;
	if (fd < 0) {
		r = errno == ENOENT ? 0 : -1;
	} else {
		buf_printf(&line, "%lld %lld\n", bytes, count);
		r = write_all(fd, line.s, line.len);	/* one write: O_APPEND keeps lines whole */
		if (close(fd) < 0)
			r = -1;
	}
	int e = errno;
	buf_free(&p);
	buf_free(&line);
	errno = e;
	return r;
}
