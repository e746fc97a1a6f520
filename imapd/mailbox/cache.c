/* cache.c: the per-folder cache of parsed structure (mbox.h:
 * mbox_cache_get/put): ENVELOPE, BODYSTRUCTURE and BODY strings computed
 * once by imapd's FETCH and kept in "posthorn-cache" beside the index.
 *
 * The file is append-only: a header line "posthorn-cache 1 V<uidvalidity>"
 * and records "<uid> <field> <len>\n<len bytes>\n", appended with one
 * O_APPEND write each (a torn last record is ignored).  Readers map the
 * file (the pages are shared by every session) and keep only a hash of
 * (uid, field) -> offset, built lazily on the first get and extended when
 * the file grows.  After an expunge, a file that is mostly garbage is
 * rewritten with the live records (tmp, rename; readers notice the new
 * inode and start over). */
#include "mboxpriv.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_VALUE_MAX ((size_t)1 << 20)
#define CACHE_FILE_MAX ((size_t)1 << 30)

struct slot {
	unsigned long long key;	/* uid * 4 + field + 1; 0 empty */
	size_t off, len;
};

struct mbox_cache {
	int fd;
	unsigned long long ino;
	char *map;
	size_t maplen;		/* mapped bytes */
	size_t parsed;		/* records read up to here */
	struct slot *slots;
	size_t nslots, used;
	size_t live;		/* bytes of the latest record per key */
	int fresh;		/* checked since the session's last sync */
};

void cache_stale(struct mbox_cache *c)
{
	if (c)
		c->fresh = 0;
}

static unsigned long long key_of(unsigned long uid, enum mbox_cache_field f)
{
	return (unsigned long long)uid * 4 + (unsigned)f + 1;
}

static size_t slot_hash(unsigned long long k, size_t n)
{
	return (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 17) & (n - 1);
}

static struct slot *slot_find(struct mbox_cache *c, unsigned long long k)
{
	if (!c->nslots)
		return NULL;
	for (size_t i = slot_hash(k, c->nslots);; i = (i + 1) & (c->nslots - 1)) {
		if (c->slots[i].key == k || c->slots[i].key == 0)
			return &c->slots[i];
	}
}

static void slots_grow(struct mbox_cache *c)
{
	struct slot *old = c->slots;
	size_t on = c->nslots;
	c->nslots = on ? size_mul(on, 2) : 1024;
	c->slots = xcalloc(c->nslots, sizeof *c->slots);
	for (size_t i = 0; i < on; i++)
		if (old[i].key)
			*slot_find(c, old[i].key) = old[i];
	free(old);
}

static void slot_set(struct mbox_cache *c, unsigned long long k, size_t off, size_t len)
{
	if ((c->used + 1) * 2 > c->nslots)
		slots_grow(c);
	struct slot *s = slot_find(c, k);
	if (s->key == 0)
		c->used++;
	else
		c->live -= s->len;
	s->key = k;
	s->off = off;
	s->len = len;
	c->live += len;
}

static void unmap(struct mbox_cache *c)
{
	if (c->map)
		munmap(c->map, c->maplen);
	c->map = NULL;
	c->maplen = 0;
}

static void reset(struct mbox_cache *c)
{
	unmap(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->slots);
	c->slots = NULL;
	c->nslots = c->used = c->live = 0;
	c->parsed = 0;
	c->ino = 0;
}

void cache_close(struct mbox_cache *c)
{
	if (!c)
		return;
	reset(c);
	free(c);
}

static void cache_path(const struct mbox *m, const char *suffix, struct buf *p)
{
	buf_reset(p);
	buf_printf(p, "%s/%s%s", m->dir, CACHE_FILE, suffix);
}

/* One record at off: 1 parsed (*next set), 0 incomplete or bad. */
static int parse_record(struct mbox_cache *c, size_t off, size_t *next)
{
	const char *s = c->map + off, *end = c->map + c->maplen;
	const char *nl = memchr(s, '\n', (size_t)(end - s) < 64 ? (size_t)(end - s) : 64);
	if (!nl)
		return 0;
	unsigned long long uid, f, len;
	const char *a = memchr(s, ' ', (size_t)(nl - s));
	const char *b = a ? memchr(a + 1, ' ', (size_t)(nl - a - 1)) : NULL;
	if (!b || mem_to_u64(s, (size_t)(a - s), &uid) < 0 ||
	    mem_to_u64(a + 1, (size_t)(b - a - 1), &f) < 0 ||
	    mem_to_u64(b + 1, (size_t)(nl - b - 1), &len) < 0 || f >= MBOX_CACHE_FIELDS ||
	    len > CACHE_VALUE_MAX || uid == 0 || uid > 0xffffffffULL)
		return 0;
	size_t vo = (size_t)(nl + 1 - c->map);
	if (c->maplen - vo < len + 1 || c->map[vo + len] != '\n')
		return 0;
	slot_set(c, key_of((unsigned long)uid, (enum mbox_cache_field)f), vo, (size_t)len);
	*next = vo + (size_t)len + 1;
	return 1;
}

/* The header line: 1 ok for this folder's UIDVALIDITY. */
static int header_ok(struct mbox_cache *c, unsigned long uidvalidity, size_t *next)
{
	struct buf want = BUF_INIT;
	buf_printf(&want, "posthorn-cache 1 V%lu\n", uidvalidity);
	int ok = c->maplen >= want.len && !memcmp(c->map, buf_cstr(&want), want.len);
	*next = want.len;
	buf_free(&want);
	return ok;
}

/* Maps the file as it is now and reads the records not read yet. */
static int refresh(struct mbox *m, struct mbox_cache *c)
{
	struct stat st;
	if (c->fd < 0 || fstat(c->fd, &st) < 0)
		return -1;
	size_t size = (size_t)st.st_size;
	if (size > CACHE_FILE_MAX)
		return -1;
	if (size == c->maplen)
		return 0;
	unmap(c);
	if (size == 0)
		return 0;
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, c->fd, 0);
	if (p == MAP_FAILED)
		return -1;
	c->map = p;
	c->maplen = size;
	if (c->parsed == 0 && !header_ok(c, m->uidvalidity, &c->parsed)) {
		/* of another UIDVALIDITY (the index was rebuilt): started over */
		c->parsed = 0;
		unmap(c);
		struct buf h = BUF_INIT;
		buf_printf(&h, "posthorn-cache 1 V%lu\n", m->uidvalidity);
		if (ftruncate(c->fd, 0) == 0)
			write_all(c->fd, h.s, h.len);
		buf_free(&h);
		return -1;
	}
	size_t next;
	while (c->parsed < c->maplen && parse_record(c, c->parsed, &next))
		c->parsed = next;
	return 0;
}

/* The file opened (created with its header when missing). */
static int open_file(struct mbox *m, struct mbox_cache *c)
{
	struct buf p = BUF_INIT;
	cache_path(m, "", &p);
	struct stat st;
	if (c->fd >= 0 && stat(buf_cstr(&p), &st) == 0 && (unsigned long long)st.st_ino == c->ino) {
		buf_free(&p);
		return 0;
	}
	reset(c);
	c->fd = open(buf_cstr(&p), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (c->fd >= 0 && fstat(c->fd, &st) == 0) {
		c->ino = (unsigned long long)st.st_ino;
		if (st.st_size == 0) {
			struct buf h = BUF_INIT;
			buf_printf(&h, "posthorn-cache 1 V%lu\n", m->uidvalidity);
			write_all(c->fd, buf_cstr(&h), h.len);
			buf_free(&h);
		}
	}
	buf_free(&p);
	return c->fd >= 0 ? 0 : -1;
}

static struct mbox_cache *cache_of(struct mbox *m)
{
	if (!m->cache) {
		m->cache = xcalloc(1, sizeof *m->cache);
		m->cache->fd = -1;
	}
	struct mbox_cache *c = m->cache;
	/* the file is looked at once per sync, not once per message */
	if (c->fresh && c->fd >= 0)
		return c;
	if (open_file(m, c) < 0 || refresh(m, c) < 0)
		return NULL;
	c->fresh = 1;
	return c;
}

int mbox_cache_get(struct mbox *m, size_t seq, enum mbox_cache_field f, struct buf *out)
{
	const struct mbox_msg *v = mbox_msg(m, seq);
	if (!v || (unsigned)f >= MBOX_CACHE_FIELDS)
		return 0;
	struct mbox_cache *c = cache_of(m);
	struct slot *s = c ? slot_find(c, key_of(v->uid, f)) : NULL;
	if (!s || !s->key)
		return 0;
	/* our own record, put after the file was mapped */
	if (s->off + s->len > c->maplen) {
		size_t off = s->off, len = s->len;
		if (refresh(m, c) < 0 || off + len > c->maplen)
			return 0;
		buf_append(out, c->map + off, len);
		return 1;
	}
	buf_append(out, c->map + s->off, s->len);
	return 1;
}

void mbox_cache_put(struct mbox *m, size_t seq, enum mbox_cache_field f,
		    const char *value, size_t len)
{
	const struct mbox_msg *v = mbox_msg(m, seq);
	if (!v || (unsigned)f >= MBOX_CACHE_FIELDS || len > CACHE_VALUE_MAX)
		return;
	struct mbox_cache *c = cache_of(m);
	if (!c)
		return;
	struct buf rec = BUF_INIT;
	buf_printf(&rec, "%lu %u %zu\n", v->uid, (unsigned)f, len);
	size_t head = rec.len;
	buf_append(&rec, value, len);
	buf_putc(&rec, '\n');
	/* one write: O_APPEND keeps concurrent records whole; the offset
	 * after it tells where ours went */
	if (write_all(c->fd, buf_cstr(&rec), rec.len) == 0) {
		off_t end = lseek(c->fd, 0, SEEK_CUR);
		if (end >= (off_t)rec.len)
			slot_set(c, key_of(v->uid, f), (size_t)end - rec.len + head, len);
	}
	buf_free(&rec);
}

/* Rewrites the file with the records of listed messages only. */
static void rewrite(struct mbox *m, struct mbox_cache *c)
{
	struct buf text = BUF_INIT, tmp = BUF_INIT, path = BUF_INIT;
	buf_printf(&text, "posthorn-cache 1 V%lu\n", m->uidvalidity);
	for (size_t i = 0; i < c->nslots; i++) {
		const struct slot *s = &c->slots[i];
		unsigned long uid = (unsigned long)((s->key - 1) / 4);
		if (!s->key || !uidlist_find(&m->ul, uid))
			continue;
		buf_printf(&text, "%lu %u %zu\n", uid, (unsigned)((s->key - 1) % 4), s->len);
		buf_append(&text, c->map + s->off, s->len);
		buf_putc(&text, '\n');
	}
	cache_path(m, ".tmp", &tmp);
	cache_path(m, "", &path);
	int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		int ok = write_all(fd, buf_cstr(&text), text.len) == 0;
		close(fd);
		if (!ok || rename(buf_cstr(&tmp), buf_cstr(&path)) < 0)
			unlink(buf_cstr(&tmp));
	}
	buf_free(&text);
	buf_free(&tmp);
	buf_free(&path);
}

void cache_compact(struct mbox *m)
{
	struct mbox_cache *c = m->cache;
	if (!c || !c->map || c->maplen < 65536)
		return;
	size_t live = 0;
	for (size_t i = 0; i < c->nslots; i++) {
		const struct slot *s = &c->slots[i];
		if (s->key && uidlist_find(&m->ul, (unsigned long)((s->key - 1) / 4)))
			live += s->len + 32;
	}
	if (live * 2 > c->maplen)
		return;
	/* under the index lock: two sessions never compact at once */
	if (uidlist_begin(&m->ul) < 0)
		return;
	rewrite(m, c);
	uidlist_end(&m->ul);
	reset(c);
}
