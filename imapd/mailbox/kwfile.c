/* kwfile.c: a folder's keyword names ("posthorn-keywords", lines
 * "<index> <name>", the format of Dovecot's dovecot-keywords): index i is
 * the Maildir flag letter 'a' + i.  Read by every view of the folder,
 * written (tmp, fsync, rename) only under the folder's index lock, so two
 * sessions adding keywords at once never give one letter two names. */
#include "mboxpriv.h"
#include "fsutil.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KW_FILE_MAX 8192

int kw_name_ok(const char *name, size_t n)
{
	if (n == 0 || n > MBOX_KEYWORD_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		/* IMAP atom characters; '\' would make it look like a system flag */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return 0;
	}
	return 1;
}

int kw_index(const struct kwlist *k, const char *name, size_t n)
{
	for (size_t i = 0; i < k->n; i++)
		if (mem_caseeq(k->names[i], strlen(k->names[i]), name, n))
			return (int)i;
	return -1;
}

static void kw_path(const char *dir, const char *file, struct buf *p)
{
	buf_reset(p);
	buf_printf(p, "%s/%s", dir, file);
}

/* One line "<index> <name>": lines out of order or malformed are skipped
 * (a letter without a name is then never shown). */
static void parse_line(struct kwlist *k, const char *s, size_t n)
{
	const char *sp = memchr(s, ' ', n);
	unsigned long long idx;
	if (!sp || mem_to_u64(s, (size_t)(sp - s), &idx) < 0 || idx != k->n ||
	    idx >= MBOX_KEYWORDS_MAX)
		return;
	size_t nl = n - (size_t)(sp - s) - 1;
	if (!kw_name_ok(sp + 1, nl))
		return;
	memcpy(k->names[k->n], sp + 1, nl);
	k->names[k->n][nl] = 0;
	k->n++;
}

static void parse(struct kwlist *k, const char *text, size_t len)
{
	k->n = 0;
	size_t off = 0;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		if (!nl)
			break;
		parse_line(k, text + off, (size_t)(nl - text - off));
		off = (size_t)(nl - text) + 1;
	}
}

int kw_load(const char *dir, struct kwlist *k)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	struct stat st;
	kw_path(dir, KEYWORDS_FILE, &p);
	int r = 0;
	if (stat(buf_cstr(&p), &st) < 0) {
		r = errno == ENOENT ? 0 : -1;
		goto out;
	}
	long long mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	if (k->ino == (unsigned long long)st.st_ino && k->size == (unsigned long long)st.st_size &&
	    k->mtime == mt)
		goto out;
	if (file_read(buf_cstr(&p), &text, KW_FILE_MAX) < 0) {
		r = -1;
		goto out;
	}
	size_t before = k->n;
	parse(k, buf_cstr(&text), text.len);
	k->ino = (unsigned long long)st.st_ino;
	k->size = (unsigned long long)st.st_size;
	k->mtime = mt;
	r = k->n != before;
out:
	buf_free(&p);
	buf_free(&text);
	return r;
}

static int kw_save(const char *dir, const struct kwlist *k)
{
	struct buf text = BUF_INIT, tmp = BUF_INIT, path = BUF_INIT;
	for (size_t i = 0; i < k->n; i++)
		buf_printf(&text, "%zu %s\n", i, k->names[i]);
	kw_path(dir, KEYWORDS_FILE ".tmp", &tmp);
	kw_path(dir, KEYWORDS_FILE, &path);
	int r = -1;
	int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		r = write_all(fd, buf_cstr(&text), text.len) == 0 && fsync(fd) == 0 ? 0 : -1;
		if (close(fd) < 0 || r < 0 || rename(buf_cstr(&tmp), buf_cstr(&path)) < 0 || fsync_dir(dir) < 0)
			r = -1;
		if (r < 0)
			unlink(buf_cstr(&tmp));
	}
	int e = errno;
	buf_free(&text);
	buf_free(&tmp);
	buf_free(&path);
	errno = e;
	return r;
}

int kw_add(const char *dir, struct kwlist *k, const char *name, size_t n)
{
	if (!kw_name_ok(name, n)) {
		errno = EINVAL;
		return -1;
	}
	if (kw_load(dir, k) < 0)
		return -1;
	int i = kw_index(k, name, n);
	if (i >= 0)
		return i;
	if (k->n >= MBOX_KEYWORDS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(k->names[k->n], name, n);
	k->names[k->n][n] = 0;
	k->n++;
	if (kw_save(dir, k) < 0) {
		k->n--;
		return -1;
	}
	k->ino = 0;	/* re-read next time: the stamp is the new file's */
	return (int)k->n - 1;
}
